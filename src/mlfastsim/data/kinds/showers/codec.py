"""The codec of the ``showers`` kind: 30 × 30 energy maps and their conditions ↔ normalised model tensors.

Model tensors (batch keys, :mod:`mlfastsim.models.base`):
  ``features [N, G², 1]``  per cell f = ln(1 + E/ε) / f_max (ε = ``data.energy_floor``, f_max the largest f of
                           the training maps): 0 for an empty cell, ≈1 for the hottest; cells row-major (y, x);
  ``mask [N, G²]``         all True (a dense grid: every cell is real);
  ``cond [N, 5]``          standardised (x_cell, y_cell, t_x, t_y, ln E): the entry point inside its 20 mm cell
                           (the window frame, in half cells), the slopes p_x/p_z, p_y/p_z and ln |p| [GeV] —
                           what the shower's shape depends on (its global position only through the slopes);
  ``asymmetry [N]``        the incidence asymmetry of each map (:func:`.observables.incidence_observables`), the
                           target of seed 004's auxiliary regressor.
Decoding inverts f, applies the detector's zero suppression (the training file's threshold) and, for a
library replay (``matched_cond``), scales the stored shower by E_requested / E_stored (seed 004's "energy
scaling").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mlfastsim._utils import InputError, config_from_dict, config_to_dict
from mlfastsim.data.kinds.base import Batch
from mlfastsim.data.kinds.showers.container import Showers
from mlfastsim.data.kinds.showers.observables import incidence_observables
from mlfastsim.data.normalisation import ConditionNormaliser
from mlfastsim.physics.detector.lhcb_ecal import window_frame
from mlfastsim.physics.detector.lhcb_ecal_constants import CELL_MM, ECAL_FACE_Z_MM, THRESHOLD_GEV

__all__ = ["MODEL_CONDITIONS", "ShowerCodec", "ShowerData", "model_conditions"]

#: The model's condition columns, in order.
MODEL_CONDITIONS = ("x_cell", "y_cell", "slope_x", "slope_y", "log_energy")


@dataclass(frozen=True)
class ShowerData:
    """The ``[data]`` table of a shower run.

    Attributes:
        particles: keep only these |PDG ids| (e.g. ``[22]`` for photons; empty: all).
        energy_floor: ε [GeV] of the cell transform f = ln(1 + E/ε).
        threshold: zero suppression applied to decoded maps [GeV]; None: the training file's detector setting.
        val_fraction: fraction held out for validation. max_events: read at most this many showers.
    """

    particles: tuple[int, ...] = ()
    energy_floor: float = 0.01
    threshold: float | None = None
    val_fraction: float = 0.1
    max_events: int | None = None

    def __post_init__(self) -> None:
        if self.energy_floor <= 0:
            raise InputError(f"data.energy_floor={self.energy_floor} must be > 0 (GeV)")


def model_conditions(showers: Showers, cell_mm: float = CELL_MM) -> np.ndarray:
    """``[N, 5]`` float64 (x_cell, y_cell, t_x, t_y, ln E) of :data:`MODEL_CONDITIONS` (physical units: half
    cells, slopes, ln GeV). Entry points already in the window frame (prior samples) map onto themselves."""
    local = window_frame(showers.point[:, :2], cell_mm)[1]
    p = showers.momentum.astype(np.float64)
    pz = np.where(p[:, 2] > 0, p[:, 2], np.nan)
    return np.stack(
        [
            local[:, 0] / (cell_mm / 2),
            local[:, 1] / (cell_mm / 2),
            p[:, 0] / pz,
            p[:, 1] / pz,
            np.log(showers.energy),
        ],
        axis=1,
    )


def _physical(cond: np.ndarray, cell_mm: float) -> np.ndarray:
    """Conditions ``[N, 6]`` (window frame) from model conditions ``[N, 5]`` in physical units."""
    x, y, tx, ty, log_e = cond.T.astype(np.float64)
    energy = np.exp(log_e)
    norm = np.sqrt(1.0 + tx**2 + ty**2)
    face = np.full_like(x, ECAL_FACE_Z_MM)
    return np.stack(
        [x * cell_mm / 2, y * cell_mm / 2, face, energy * tx / norm, energy * ty / norm, energy / norm], 1
    )


class ShowerCodec:
    """Fitted transform of one shower run (module docstring); stored in the checkpoint."""

    def __init__(
        self, data: ShowerData, grid: int, scale: float, threshold: float, cond_norm: ConditionNormaliser,
        cell_mm: float = CELL_MM,
    ) -> None:  # fmt: skip
        self.data, self.grid, self.scale, self.threshold = data, grid, scale, threshold
        self.cond_norm, self.cell_mm = cond_norm, cell_mm

    @classmethod
    def fit(cls, train: Showers, data: ShowerData) -> ShowerCodec:
        """f_max and the condition statistics of the training showers; the threshold from ``data`` or the file."""
        f_max = float(np.log1p(train.response.max() / data.energy_floor)) if len(train) else 0.0
        if not f_max > 0:
            raise InputError("the training showers deposit no energy; check the file")
        config = train.attrs.get("config", {}) if isinstance(train.attrs.get("config"), dict) else {}
        threshold = data.threshold
        if threshold is None:
            threshold = float(config.get("detector", {}).get("threshold", THRESHOLD_GEV))
        cell_mm = float(config.get("detector", {}).get("cell_mm", CELL_MM))
        cond_norm = ConditionNormaliser().fit(model_conditions(train, cell_mm))
        return cls(data, train.grid, f_max, threshold, cond_norm, cell_mm)

    # ------------------------------------------------------------------ batches
    def encode(self, ev: Showers, keys: frozenset[str]) -> Batch:
        """Normalised cells, the all-True mask, the conditions and (when asked for) the asymmetry."""
        if ev.grid != self.grid:
            raise InputError(
                f"these showers have {ev.grid} × {ev.grid} cells; the run was trained on {self.grid}"
            )
        f = np.log1p(np.clip(ev.response, 0.0, None) / self.data.energy_floor) / self.scale
        n = len(ev)
        batch: Batch = {
            "features": torch.as_tensor(f.reshape(n, -1, 1), dtype=torch.float32),
            "mask": torch.ones(n, self.grid**2, dtype=torch.bool),
            **self.conditions(ev, frozenset({"cond"})),
        }
        if "asymmetry" in keys:
            asym = incidence_observables(ev.response, ev.momentum, self.cell_mm)["asymmetry"]
            batch["asymmetry"] = torch.as_tensor(asym, dtype=torch.float32)
        return batch

    def conditions(self, ev: Showers, keys: frozenset[str]) -> Batch:
        """``{"cond": [N, 5]}`` when the model takes conditions (``"cond"`` in ``keys``)."""
        if "cond" not in keys:
            return {}
        return {"cond": torch.as_tensor(self.cond_norm.transform(model_conditions(ev, self.cell_mm)))}

    def decode(self, out: Batch, like: Showers | None) -> Showers:
        """Energy maps [GeV] from ``out["features"]``, zero-suppressed; conditions, ids and PDG ids of ``like``
        (a library replay scaled to its energies), or, without ``like``, the conditions the model drew
        (``matched_cond``; window frame) or NaN, and ids −1."""
        f = out["features"].detach().float().cpu().numpy()[..., 0]  # float32: the maps' own precision
        n = len(f)
        energy = np.float32(self.data.energy_floor) * np.expm1(np.clip(f, 0.0, None) * np.float32(self.scale))
        matched = None
        if "matched_cond" in out and out["matched_cond"].shape[-1] == len(self.cond_norm.mean):
            matched = self.cond_norm.inverse_transform(out["matched_cond"].detach().float().cpu().numpy())
        if like is not None and matched is not None:
            energy *= (like.energy / np.exp(matched[:, 4].astype(np.float64)))[:, None].astype(np.float32)
        energy[energy < self.threshold] = 0.0
        response = energy.reshape(n, self.grid, self.grid)
        if like is not None:
            return Showers(like.conditions, response, like.event_id, like.pdg)
        conditions = _physical(matched, self.cell_mm) if matched is not None else np.full((n, 6), np.nan)
        return Showers(conditions, response, np.full(n, -1, np.int64))

    def model_fields(self) -> dict[str, Any]:
        """Grid, cells as elements of one feature, condition count, the cell transform, the standardisation of
        the ln E condition (a model that scales its maps to the particle's energy needs it) and the outputs
        replayed."""
        return {
            "grid": self.grid,
            "n_max": self.grid**2,
            "n_features": 1,
            "n_cond": len(self.cond_norm.mean),
            "feature_scale": self.scale,
            "energy_floor": self.data.energy_floor,
            "threshold": self.threshold,
            "log_energy_mean": float(self.cond_norm.mean[4]),
            "log_energy_std": float(self.cond_norm.std[4]),
            "outputs": ("features", "mask"),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": config_to_dict(self.data),
            "grid": self.grid,
            "scale": self.scale,
            "threshold": self.threshold,
            "cond_normaliser": self.cond_norm.to_dict(),
            "cell_mm": self.cell_mm,
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> ShowerCodec:
        return cls(
            config_from_dict(ShowerData, state["data"], "data"),
            int(state["grid"]),
            float(state["scale"]),
            float(state["threshold"]),
            ConditionNormaliser.from_dict(state["cond_normaliser"]),
            float(state.get("cell_mm", CELL_MM)),
        )
