"""Generative surrogates: the seeds' graph VAE (``gvae-paper``), our ``gvae``, and the ``library`` baseline."""

from mlfastsim.models.base import (
    Adversarial,
    Batch,
    BatchKeys,
    Exportable,
    Fitted,
    GenerativeModel,
    PlainMLP,
    Prepared,
    ReconstructingModel,
    SamplerSpec,
    ScoringModel,
    SecondStage,
    TensorSpec,
)
from mlfastsim.models.registry import FAMILIES, Family, build_model, get_family

__all__ = [
    "FAMILIES",
    "Adversarial",
    "Batch",
    "BatchKeys",
    "Exportable",
    "Family",
    "Fitted",
    "GenerativeModel",
    "PlainMLP",
    "Prepared",
    "ReconstructingModel",
    "SamplerSpec",
    "ScoringModel",
    "SecondStage",
    "TensorSpec",
    "build_model",
    "get_family",
]
