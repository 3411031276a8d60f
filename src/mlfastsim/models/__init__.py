"""Generative surrogates: the seeds' graph VAE (``gvae-paper``), our ``gvae``, and the ``library`` baseline."""

from mlfastsim.models.base import (
    Adversarial,
    Batch,
    BatchKeys,
    Fitted,
    GenerativeModel,
    Prepared,
    ReconstructingModel,
    ScoringModel,
)
from mlfastsim.models.registry import FAMILIES, Family, build_model, get_family

__all__ = [
    "FAMILIES",
    "Adversarial",
    "Batch",
    "BatchKeys",
    "Family",
    "Fitted",
    "GenerativeModel",
    "Prepared",
    "ReconstructingModel",
    "ScoringModel",
    "build_model",
    "get_family",
]
