"""Generative surrogates: the seeds' graph VAE (``gvae-paper``), our ``gvae``, and the ``library`` baseline."""

from mlfastsim.models.base import Batch, GenerativeModel, ReconstructingModel, ScoringModel
from mlfastsim.models.registry import MODELS, build_model

__all__ = ["MODELS", "Batch", "GenerativeModel", "ReconstructingModel", "ScoringModel", "build_model"]
