"""The in-memory container of the ``tpc`` kind: NICA MPD TPC pad-row windows of track segments (seed 004).

Per segment: its conditions (crossing angle, dip angle, position along the row, drift distance, row type:
:data:`~mlfastsim.physics.detector.tpc.CONDITIONS`), the ADC counts of the 8 pads × 16 time buckets (100 ns)
around the expected centre of its signal, the row's pad and bucket of the window's first cell, and the true
crossing point in window coordinates (pads, buckets; pad i centred at i, bucket j sampled at j).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from mlfastsim.data.checks import ValueCheck
from mlfastsim.data.schemas import check_event_id
from mlfastsim.physics.detector.tpc import CONDITIONS
from mlfastsim.physics.detector.tpc_constants import N_PADS, N_TIME

__all__ = ["CONDITIONS", "TPCWindows", "concatenate_tpc_windows"]


@dataclass
class TPCWindows:
    """N track segments and their pad-row windows.

    Attributes:
        adc: float32 ``[N, 8, 16]`` ADC counts (pads × time buckets): integers, 0 below the threshold.
        conditions: float64 ``[N, 5]`` (φ rad, λ rad, position cm, drift length cm, row 0/1).
        pad_offset, time_offset: int64 ``[N]`` the row's pad / bucket of window cell (0, 0).
        crossing: float64 ``[N, 2]`` the true crossing point (pad, bucket) in window coordinates; NaN when
            unknown.
        event_id: int64 ``[N]`` (kept by resimulation and conditional sampling). attrs: provenance.
    """

    value_checks: ClassVar[Mapping[str, ValueCheck]] = {
        "adc": ValueCheck(nonnegative=True, what="ADC counts"),
        "conditions": ValueCheck(nonnegative=(3,), what="angles, position, drift length"),
        "crossing": ValueCheck(nan_ok=True),
    }

    adc: np.ndarray
    conditions: np.ndarray
    pad_offset: np.ndarray = None  # type: ignore[assignment]  # None → 0
    time_offset: np.ndarray = None  # type: ignore[assignment]  # None → 0
    crossing: np.ndarray = None  # type: ignore[assignment]  # None → NaN
    event_id: np.ndarray = None  # type: ignore[assignment]  # None → 0 … N−1
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.adc = np.asarray(self.adc, dtype=np.float32)
        n = len(self.adc)
        if self.adc.shape != (n, N_PADS, N_TIME):
            raise ValueError(f"adc must be [N, {N_PADS}, {N_TIME}], got {list(self.adc.shape)}")
        self.conditions = np.asarray(self.conditions, dtype=np.float64)
        if self.conditions.shape != (n, len(CONDITIONS)):
            raise ValueError(
                f"conditions must be [{n}, {len(CONDITIONS)}], got {list(self.conditions.shape)}"
            )
        for name in ("pad_offset", "time_offset"):
            value = getattr(self, name)
            value = np.zeros(n, np.int64) if value is None else np.asarray(value, dtype=np.int64)
            if value.shape != (n,):
                raise ValueError(f"{name} must be [{n}], got {list(value.shape)}")
            setattr(self, name, value)
        crossing = np.full((n, 2), np.nan) if self.crossing is None else self.crossing
        self.crossing = np.asarray(crossing, dtype=np.float64)
        if self.crossing.shape != (n, 2):
            raise ValueError(f"crossing must be [{n}, 2], got {list(self.crossing.shape)}")
        self.event_id = check_event_id(self.event_id, n)

    def __len__(self) -> int:
        return len(self.adc)

    def subset(self, index: Any) -> TPCWindows:
        """The segments selected by ``index`` (a slice, boolean mask or integer array)."""
        idx = np.arange(len(self))[index]
        return TPCWindows(
            self.adc[idx], self.conditions[idx], self.pad_offset[idx], self.time_offset[idx],
            self.crossing[idx], self.event_id[idx], dict(self.attrs),
        )  # fmt: skip


def concatenate_tpc_windows(parts: list[TPCWindows]) -> TPCWindows:
    """Segments of several sets one after the other; attributes of the first, with ``"concatenated_from"``."""
    if not parts:
        raise ValueError("nothing to concatenate")

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    return TPCWindows(
        cat("adc"), cat("conditions"), cat("pad_offset"), cat("time_offset"), cat("crossing"),
        cat("event_id"), {**parts[0].attrs, "concatenated_from": [p.attrs for p in parts]},
    )  # fmt: skip
