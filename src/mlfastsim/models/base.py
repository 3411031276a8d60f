"""The one small Protocol every generative model of mlfastsim follows, and the batch convention."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

__all__ = ["Batch", "GenerativeModel", "ReconstructingModel", "ScoringModel"]

#: A batch is a dict of tensors. Keys used across models:
#:   "features": float32 [B, n_max, F]  normalised hit features (see data.normalisation)
#:   "mask":     bool    [B, n_max]     True for real hits; padded slots must not change any output
#:   "cond":     float32 [B, C]          optional per-jet conditions (e.g. normalised pT, η, mass)
#:   "gen_features" [B, m_max, G] / "gen_mask" [B, m_max]: optional generator-level particles
Batch = dict[str, Tensor]


@runtime_checkable
class GenerativeModel(Protocol):
    """A trainable generative surrogate. It is a ``torch.nn.Module`` with a frozen-dataclass ``config``."""

    config: Any

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """Training losses; the key ``"loss"`` is the scalar to minimise, other keys are logged."""
        ...

    def sample(self, n: int, cond: Tensor | None = None, generator: torch.Generator | None = None) -> Batch:
        """Generate ``n`` jets: ``{"features": [n, n_max, F], "mask": [n, n_max]}`` (normalised units)."""
        ...


@runtime_checkable
class ReconstructingModel(Protocol):
    """A model that encodes and decodes a given jet (autoencoder)."""

    def reconstruct(self, batch: Batch) -> Batch:
        """Reconstruct the batch: ``{"features": [B, n_max, F], "mask": [B, n_max]}``."""
        ...


@runtime_checkable
class ScoringModel(Protocol):
    """A model with an anomaly score (higher = less like the training data)."""

    def score(self, batch: Batch) -> Tensor:
        """Anomaly score per jet, float32 ``[B]``."""
        ...
