"""``library``: the simplest fast simulation — replay stored training jets (seed 004's "library" approach).

Conditional sampling returns, for every requested condition, the stored event nearest in (normalised)
condition space, and the stored event's conditions as ``matched_cond``; the data kind's codec decides what
to do with the mismatch (jet images rescale hit energies by requested / stored jet pT). Unconditional
sampling resamples stored events uniformly. Works on any kind whose codec gives ``features``, ``mask`` and
``cond``.
Every generative model is compared with it: a surrogate that does not beat the library is not worth
its training.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from mlfastsim.models.base import Batch

__all__ = ["Library", "LibraryConfig"]


@dataclass(frozen=True)
class LibraryConfig:
    """Settings of the library. ``n_max``, ``n_features`` and ``n_cond`` are set from the data."""

    n_max: int = 400
    n_features: int = 3
    n_cond: int = 0
    max_jets: int = 100_000

    def batch_keys(self) -> frozenset[str]:
        """Stored events and their conditions."""
        return frozenset(("features", "mask", "cond"))


class Library(nn.Module):
    """Stored jets (normalised features, masks, conditions) with nearest-condition lookup."""

    def __init__(self, config: LibraryConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("features", torch.zeros(0, config.n_max, config.n_features))
        self.register_buffer("mask", torch.zeros(0, config.n_max, dtype=torch.bool))
        self.register_buffer("cond", torch.zeros(0, config.n_cond))

    def fit_data(self, tensors: Mapping[str, Tensor]) -> None:
        """Store (at most ``max_jets`` of) the training events: ``features [N, n, F]``, ``mask``, ``cond [N, C]``."""
        n = min(len(tensors["mask"]), self.config.max_jets)
        self.features = tensors["features"][:n].clone()
        self.mask = tensors["mask"][:n].clone()
        self.cond = tensors["cond"][:n, : self.config.n_cond].clone()

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:
        """Buffers take the stored library's size (unlike ordinary modules, whose shapes are fixed)."""
        for name in ("features", "mask", "cond"):
            setattr(self, name, state_dict[name].clone())
        return torch.nn.modules.module._IncompatibleKeys([], [])

    def needs_conditions(self) -> bool:
        """False: without conditions the library resamples stored events."""
        return False

    def _check(self) -> None:
        if len(self.mask) == 0:
            raise RuntimeError("the library is empty: train it first ('mlfastsim train library ...')")

    def sample(self, n: int, cond: Batch | None = None, generator: torch.Generator | None = None) -> Batch:
        """``n`` stored events: nearest in condition space to ``cond["cond"] [n, C]``, or drawn uniformly.

        Returns ``features``, ``mask`` and ``matched_cond`` (the stored events' normalised conditions).
        """
        self._check()
        if cond is None or "cond" not in cond or self.config.n_cond == 0:
            idx = torch.randint(len(self.mask), (n,), generator=generator, device=self.mask.device)
        else:
            idx = torch.cdist(cond["cond"].to(self.cond.dtype), self.cond).argmin(1)
        return {"features": self.features[idx], "mask": self.mask[idx], "matched_cond": self.cond[idx]}

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        raise NotImplementedError("the library is not trained by gradient descent; train_run stores the data")
