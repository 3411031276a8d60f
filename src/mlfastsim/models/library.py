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

#: Distances computed at once in the nearest-neighbour search (≈ 100 MB of float32): a batch of 100,000
#: queries against 100,000 stored events would otherwise allocate 40 GB.
CDIST_ELEMENTS = 25_000_000


@dataclass(frozen=True)
class LibraryConfig:
    """Settings of the library. ``n_cond`` and ``outputs`` are set from the data (the kind's codec).

    ``outputs``: the batch keys a model of this kind generates (stored and replayed per event), e.g.
    ``("features", "mask")``, plus ``"response"`` for detector-level particle jets.
    """

    n_max: int = 400
    n_features: int = 3
    n_cond: int = 0
    max_jets: int = 100_000
    outputs: tuple[str, ...] = ("features", "mask")

    def batch_keys(self) -> frozenset[str]:
        """Stored events and their conditions."""
        return frozenset((*self.outputs, "cond"))


class Library(nn.Module):
    """Stored events (the codec's normalised outputs and conditions) with nearest-condition lookup."""

    def __init__(self, config: LibraryConfig) -> None:
        super().__init__()
        self.config = config
        self.stored = (*config.outputs, "cond")
        for name in self.stored:
            self.register_buffer(name, torch.zeros(0))

    def _buffer(self, name: str) -> Tensor:
        value = getattr(self, name)
        assert isinstance(value, Tensor)
        return value

    def fit_data(self, tensors: Mapping[str, Tensor]) -> None:
        """Store (at most ``max_jets`` of) the training events: every key of ``outputs`` and ``cond [N, C]``."""
        n = min(len(tensors["mask"]), self.config.max_jets)
        for name in self.config.outputs:
            setattr(self, name, tensors[name][:n].clone())
        self.cond = tensors["cond"][:n, : self.config.n_cond].clone()

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:
        """Buffers take the stored library's size (unlike ordinary modules, whose shapes are fixed)."""
        for name in self.stored:
            setattr(self, name, state_dict[name].clone())
        return torch.nn.modules.module._IncompatibleKeys([], [])

    def needs_conditions(self) -> bool:
        """False: without conditions the library resamples stored events."""
        return False

    def sample(self, n: int, cond: Batch | None = None, generator: torch.Generator | None = None) -> Batch:
        """``n`` stored events: nearest in condition space to ``cond["cond"] [n, C]``, or drawn uniformly.

        Returns the stored ``outputs`` of those events and ``matched_cond`` (their normalised conditions).
        """
        stored_cond = self._buffer("cond")
        if len(stored_cond) == 0:
            raise RuntimeError("the library is empty: train it first ('mlfastsim train library ...')")
        if cond is None or "cond" not in cond or self.config.n_cond == 0:
            idx = torch.randint(len(stored_cond), (n,), generator=generator, device=stored_cond.device)
        else:
            query = cond["cond"].to(stored_cond.dtype)
            rows = max(1, CDIST_ELEMENTS // len(stored_cond))  # queries per block: bounded memory
            idx = torch.cat(
                [torch.cdist(query[i : i + rows], stored_cond).argmin(1) for i in range(0, len(query), rows)]
            )
        out = {name: self._buffer(name)[idx] for name in self.config.outputs}
        return {**out, "matched_cond": stored_cond[idx]}

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        raise NotImplementedError("the library is not trained by gradient descent; train_run stores the data")
