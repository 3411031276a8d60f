"""The in-memory container of the ``showers`` kind: single photons and electrons in the LHCb-like ECAL (seed 004).

Per shower: the *conditions* ``[6]`` = entry point (x, y, z) on the ECAL front face [mm] (global LHCb
coordinates: z = 12 490 mm) and momentum (px, py, pz) [GeV] there — what a Geant4 track intercepted in front
of the calorimeter carries — and the *response* ``[30, 30]``: energies [GeV] on 20 mm cells of the window
centred on the grid node nearest the entry point (:func:`~mlfastsim.physics.detector.lhcb_ecal.window_frame`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from mlfastsim.data.checks import ValueCheck
from mlfastsim.data.schemas import check_event_id

__all__ = ["CONDITION_NAMES", "Showers", "concatenate_showers"]

#: Columns of ``conditions``.
CONDITION_NAMES = ("x", "y", "z", "px", "py", "pz")


@dataclass
class Showers:
    """N showers with their conditions (see the module docstring).

    Attributes:
        conditions: float32 ``[N, 6]`` (x, y, z) [mm], (px, py, pz) [GeV] at the front face. Samples drawn
            from a model's prior know only the in-cell entry point: their x, y are then relative to the
            window centre (within ±10 mm; the window frame maps such points onto themselves).
        response: float32 ``[N, G, G]`` cell energies [GeV], rows along y, columns along x; cell (i, j)
            spans x ∈ [(j − G/2)·c, (j − G/2 + 1)·c) around the window centre (c = 20 mm).
        event_id: int64 ``[N]`` (kept by resimulation and conditional sampling; −1 for prior samples).
        pdg: int32 ``[N]`` particle (22 γ, 11 e⁻, −11 e⁺; 0 unknown). attrs: provenance (JSON types).
    """

    value_checks: ClassVar[Mapping[str, ValueCheck]] = {
        "response": ValueCheck(nonnegative=True, what="cell energies [GeV]"),
    }

    conditions: np.ndarray
    response: np.ndarray
    event_id: np.ndarray = None  # type: ignore[assignment]  # None → 0 … N−1
    pdg: np.ndarray = None  # type: ignore[assignment]  # None → 0 (unknown)
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.conditions = np.asarray(self.conditions, dtype=np.float32)
        self.response = np.asarray(self.response, dtype=np.float32)
        n = len(self.conditions)
        if self.conditions.shape != (n, len(CONDITION_NAMES)):
            raise ValueError(
                f"conditions must be [N, 6] (x, y, z, px, py, pz), got {list(self.conditions.shape)}"
            )
        r = self.response.shape
        if len(r) != 3 or r[0] != n or r[1] != r[2]:
            raise ValueError(f"response must be [{n}, G, G], got {list(r)}")
        self.event_id = check_event_id(self.event_id, n)
        self.pdg = np.zeros(n, np.int32) if self.pdg is None else np.asarray(self.pdg, dtype=np.int32)
        if self.pdg.shape != (n,):
            raise ValueError(f"pdg must have shape [{n}], got {list(self.pdg.shape)}")

    def __len__(self) -> int:
        return len(self.conditions)

    @property
    def grid(self) -> int:
        """G, the cells per side."""
        return int(self.response.shape[1])

    @property
    def point(self) -> np.ndarray:
        """``[N, 3]`` entry points [mm]."""
        return self.conditions[:, :3]

    @property
    def momentum(self) -> np.ndarray:
        """``[N, 3]`` momenta [GeV]."""
        return self.conditions[:, 3:]

    @property
    def energy(self) -> np.ndarray:
        """``[N]`` particle energies |p| [GeV] (float64)."""
        return np.linalg.norm(self.momentum.astype(np.float64), axis=1)

    def subset(self, index: Any) -> Showers:
        """The showers selected by ``index`` (a slice, boolean mask or integer array)."""
        idx = np.arange(len(self))[index]
        return Showers(
            self.conditions[idx], self.response[idx], self.event_id[idx], self.pdg[idx], dict(self.attrs)
        )


def concatenate_showers(parts: list[Showers]) -> Showers:
    """Showers of several sets one after the other (same grid); attributes of the first, with
    ``"concatenated_from"`` listing each part's."""
    if not parts:
        raise ValueError("nothing to concatenate")
    grids = {p.grid for p in parts}
    if len(grids) > 1:
        raise ValueError(f"cannot join showers of different grids {sorted(grids)}")
    return Showers(
        np.concatenate([p.conditions for p in parts]),
        np.concatenate([p.response for p in parts]),
        np.concatenate([p.event_id for p in parts]),
        np.concatenate([p.pdg for p in parts]),
        {**parts[0].attrs, "concatenated_from": [p.attrs for p in parts]},
    )
