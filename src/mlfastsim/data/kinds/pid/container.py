"""The in-memory container of the ``pid`` kind: one row per track, LHCb-RICH-like inputs and outputs (seed 004).

Inputs: momentum P [GeV/c], pseudorapidity η, the event's track multiplicity nTracks, charge and the true
species (e, μ, π, K, p). Outputs: the RICH log-likelihood differences DLL_e, DLL_μ, DLL_K, DLL_p and
DLL_bt (below threshold), ln L(X) − ln L(π). Optional per-track weights (LHCb's calibration samples carry
sWeights, some negative). ``event_id`` identifies each *track* (the table's event): shard · 2³² + row, kept by
resimulation and ``sample --conditions``; ``collision`` is the pp collision it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from mlfastsim.data.checks import ValueCheck
from mlfastsim.data.schemas import check_event_id
from mlfastsim.physics.detector.rich import DLL_NAMES
from mlfastsim.physics.detector.rich_constants import SPECIES

__all__ = ["DLL_NAMES", "INPUT_NAMES", "SPECIES", "PIDTable", "concatenate_pid"]

#: The per-track inputs, in this order in :meth:`PIDTable.inputs`.
INPUT_NAMES = ("p", "eta", "n_tracks", "charge", "species")


@dataclass
class PIDTable:
    """N tracks with their RICH response (see the module docstring).

    Attributes:
        p: float32 ``[N]`` momentum [GeV/c]. eta: float32 ``[N]``. n_tracks: int32 ``[N]`` its event's tracks.
        charge: int8 ``[N]`` ±1. species: int8 ``[N]`` index into :data:`SPECIES` (−1: unknown).
        dll: float32 ``[N, 5]`` columns :data:`DLL_NAMES` (all NaN: not simulated, e.g. a file of tracks to
            condition on). weight: float32 ``[N]`` per-track weight (default 1; may be negative).
        event_id: int64 ``[N]`` track identity. collision: int64 ``[N]`` pp collision (−1: unknown).
        attrs: provenance (JSON types).
    """

    value_checks: ClassVar[Mapping[str, ValueCheck]] = {
        "p": ValueCheck(nonnegative=True, what="momentum [GeV/c]"),
        "dll": ValueCheck(nan_ok=True),
    }

    p: np.ndarray
    eta: np.ndarray
    n_tracks: np.ndarray
    charge: np.ndarray
    species: np.ndarray
    dll: np.ndarray = None  # type: ignore[assignment]  # None → NaN
    weight: np.ndarray = None  # type: ignore[assignment]  # None → 1
    event_id: np.ndarray = None  # type: ignore[assignment]  # None → 0 … N−1
    collision: np.ndarray = None  # type: ignore[assignment]  # None → −1
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.p = np.asarray(self.p, dtype=np.float32).reshape(-1)
        n = len(self.p)
        for name, dtype in (
            ("eta", np.float32),
            ("n_tracks", np.int32),
            ("charge", np.int8),
            ("species", np.int8),
        ):
            value = np.asarray(getattr(self, name), dtype=dtype)
            if value.shape != (n,):
                raise ValueError(f"{name} must have shape [{n}], got {list(value.shape)}")
            setattr(self, name, value)
        if self.dll is None:
            self.dll = np.full((n, len(DLL_NAMES)), np.nan, np.float32)
        self.dll = np.asarray(self.dll, dtype=np.float32)
        if self.dll.shape != (n, len(DLL_NAMES)):
            raise ValueError(f"dll must have shape [{n}, {len(DLL_NAMES)}], got {list(self.dll.shape)}")
        self.weight = np.ones(n, np.float32) if self.weight is None else np.asarray(self.weight, np.float32)
        if self.weight.shape != (n,):
            raise ValueError(f"weight must have shape [{n}], got {list(self.weight.shape)}")
        self.event_id = check_event_id(self.event_id, n)
        self.collision = (
            np.full(n, -1, np.int64) if self.collision is None else np.asarray(self.collision, np.int64)
        )
        if self.collision.shape != (n,):
            raise ValueError(f"collision must have shape [{n}], got {list(self.collision.shape)}")

    def __len__(self) -> int:
        return len(self.p)

    @property
    def has_dll(self) -> bool:
        """True when the outputs were simulated (finite DLLs)."""
        return bool(len(self)) and bool(np.isfinite(self.dll).all())

    def inputs(self) -> np.ndarray:
        """float64 ``[N, 5]`` of :data:`INPUT_NAMES`."""
        return np.stack([getattr(self, k).astype(np.float64) for k in INPUT_NAMES], axis=1)

    def subset(self, index: Any) -> PIDTable:
        """The tracks selected by a slice, boolean mask or integer array."""
        idx = np.arange(len(self))[index]
        return PIDTable(
            p=self.p[idx], eta=self.eta[idx], n_tracks=self.n_tracks[idx], charge=self.charge[idx],
            species=self.species[idx], dll=self.dll[idx], weight=self.weight[idx],
            event_id=self.event_id[idx], collision=self.collision[idx], attrs=dict(self.attrs),
        )  # fmt: skip


def concatenate_pid(parts: list[PIDTable]) -> PIDTable:
    """Tracks of several tables one after the other; attributes of the first, with ``"concatenated_from"``."""
    if not parts:
        raise ValueError("nothing to concatenate")

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(t, name) for t in parts])

    return PIDTable(
        p=cat("p"), eta=cat("eta"), n_tracks=cat("n_tracks"), charge=cat("charge"), species=cat("species"),
        dll=cat("dll"), weight=cat("weight"), event_id=cat("event_id"), collision=cat("collision"),
        attrs={**parts[0].attrs, "concatenated_from": [t.attrs for t in parts]} if len(parts) > 1
        else dict(parts[0].attrs),
    )  # fmt: skip
