"""The codec of the ``tpc`` kind: pad-row windows ↔ normalised model tensors, and the conditions a model gets.

Model tensors (batch keys, :mod:`mlfastsim.models.base`):
  ``features [N, 128, 1]`` the window's cells (pad-major: cell = pad · 16 + bucket) as
                          f = log(1 + ADC / s) / log(1 + ADC_max / s), s = ``data.adc_scale``: 0 for an
                          empty cell, 1 at saturation;
  ``mask [N, 128]``       all True (every cell is real; the key the generic tests and the library use);
  ``cond [N, 6]``         standardised (φ, λ, pad fraction, drift length, bucket fraction, row): the crossing
                          point's position within its pad and its bucket, not the raw position and drift
                          time — the window is centred on them, so only the fractions change its content
                          (``mlfastsim.physics.detector.tpc.window_origin``); with ``data.spans``
                          ``[N, 8]``: also the segment's extent across the row in pads, h·|tan φ|/pad
                          width, and in buckets, h·|tan λ|/cos φ/(v_drift·100 ns) (:data:`SPAN_CONDITIONS`),
                          which set how far the charge spreads — and the residuals' width, V-shaped in φ and
                          λ — so the generator need not build |·| from the signed angles.

``decode`` inverts the transform and digitises like the detector (rounding, saturation, zero suppression), so
a model's windows obey the same ADC rules as the reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mlfastsim._utils import InputError, config_from_dict, config_to_dict
from mlfastsim.data.kinds.base import Batch
from mlfastsim.data.kinds.tpc.container import TPCWindows
from mlfastsim.data.normalisation import ConditionNormaliser
from mlfastsim.physics.detector import tpc_constants as C
from mlfastsim.physics.detector.tpc import TPCConfig, digitise, window_origin

__all__ = ["MODEL_CONDITIONS", "SPAN_CONDITIONS", "TPCCodec", "TPCData", "model_conditions", "spans"]

#: The columns of ``cond`` (before standardisation).
MODEL_CONDITIONS = ("crossing_angle", "dip_angle", "pad_fraction", "drift_length", "time_fraction", "row")
#: The columns ``data.spans`` appends to them.
SPAN_CONDITIONS = ("pad_span", "time_span")
_CELLS = C.N_PADS * C.N_TIME


@dataclass(frozen=True)
class TPCData:
    """The ``[data]`` table of a TPC run.

    Attributes:
        row: keep only segments of this row type (0 inner, 1 outer); None keeps both (``row`` is a condition).
        adc_scale: s of the feature transform (module docstring) [ADC counts].
        val_fraction: fraction of segments held out for validation. max_events: read at most this many.
        spans: append the segment's spans across the row in pads and in buckets to the conditions
            (module docstring; off: the 6 conditions of runs trained before it existed).
    """

    row: int | None = None
    adc_scale: float = 30.0
    spans: bool = False
    val_fraction: float = 0.1
    max_events: int | None = None

    def __post_init__(self) -> None:
        if self.row not in (None, 0, 1):
            raise InputError(f"data.row={self.row}: choose 0 (inner), 1 (outer) or none (both)")
        if self.adc_scale <= 0:
            raise InputError(f"data.adc_scale={self.adc_scale} must be > 0 (ADC counts)")


def model_conditions(conditions: np.ndarray, drift_velocity: float = C.DRIFT_VELOCITY) -> np.ndarray:
    """``[N, 6]`` float64 (:data:`MODEL_CONDITIONS`) from physical conditions ``[N, 5]``."""
    cond = np.asarray(conditions, dtype=np.float64)
    _, _, crossing = window_origin(cond, TPCConfig(drift_velocity=drift_velocity))
    frac = crossing - np.array([C.PAD_BEFORE, C.TIME_BEFORE])
    return np.stack([cond[:, 0], cond[:, 1], frac[:, 0], cond[:, 3], frac[:, 1], cond[:, 4]], axis=1)


def spans(conditions: np.ndarray, drift_velocity: float = C.DRIFT_VELOCITY) -> np.ndarray:
    """``[N, 2]`` float64 (:data:`SPAN_CONDITIONS`) from physical conditions ``[N, 5]`` (φ, λ [rad], x₀, z₀ [cm],
    row): the segment's extent across its row's height h along the pads, h·|tan φ| / pad width [pads], and
    along the drift, h·|tan λ| / cos φ / (v_drift · bucket) [buckets] (the geometry of
    :mod:`mlfastsim.physics.detector.tpc`)."""
    cond = np.asarray(conditions, dtype=np.float64)
    h = np.asarray(C.PAD_HEIGHT)[np.clip(np.rint(cond[:, 4]), 0, 1).astype(int)]
    pad = h * np.abs(np.tan(cond[:, 0])) / C.PAD_WIDTH
    time = h * np.abs(np.tan(cond[:, 1])) / np.cos(cond[:, 0]) / (drift_velocity * C.TIME_BIN)
    return np.stack([pad, time], axis=1)


def _inputs(conditions: np.ndarray, data: TPCData, drift_velocity: float) -> np.ndarray:
    """The model's conditions before standardisation: :func:`model_conditions`, with :func:`spans` if asked."""
    cond = model_conditions(conditions, drift_velocity)
    return np.hstack([cond, spans(conditions, drift_velocity)]) if data.spans else cond


class TPCCodec:
    """Fitted state of one TPC run (module docstring): condition standardisation and the ADC transform."""

    def __init__(
        self, data: TPCData, cond_norm: ConditionNormaliser, sim: Mapping[str, Any] | None = None
    ) -> None:
        self.data, self.cond_norm = data, cond_norm
        known = set(TPCConfig.__dataclass_fields__)
        self.sim = TPCConfig(**{k: v for k, v in dict(sim or {}).items() if k in known})
        self._log_max = float(np.log1p(self.sim.adc_max / data.adc_scale))

    @classmethod
    def fit(cls, train: TPCWindows, data: TPCData) -> TPCCodec:
        """Condition statistics of the training segments; the detector settings from their provenance."""
        sim = dict(train.attrs.get("config", {}).get("detector", {}))
        velocity = float(sim.get("drift_velocity", C.DRIFT_VELOCITY))
        norm = ConditionNormaliser().fit(_inputs(train.conditions, data, velocity))
        return cls(data, norm, sim)

    # ------------------------------------------------------------------ transforms
    def transform(self, adc: np.ndarray) -> np.ndarray:
        """ADC counts ``[N, 8, 16]`` → features float32 ``[N, 128, 1]``."""
        a = np.clip(np.asarray(adc, dtype=np.float64), 0.0, None).reshape(len(adc), _CELLS, 1)
        return (np.log1p(a / self.data.adc_scale) / self._log_max).astype(np.float32)

    def inverse(self, features: np.ndarray) -> np.ndarray:
        """Features ``[N, 128, 1]`` → digitised ADC counts float32 ``[N, 8, 16]`` (no noise added)."""
        f = np.clip(np.asarray(features, dtype=np.float64).reshape(-1, C.N_PADS, C.N_TIME), 0.0, 1.5)
        return digitise(self.data.adc_scale * np.expm1(f * self._log_max), None, self.sim)

    def threshold_feature(self) -> float:
        """The feature value of the zero-suppression threshold (cells below it decode to 0)."""
        return float(np.log1p((self.sim.threshold_adc + 0.5) / self.data.adc_scale) / self._log_max)

    # ------------------------------------------------------------------ batches
    def _cond(self, ev: TPCWindows) -> torch.Tensor:
        return torch.as_tensor(
            self.cond_norm.transform(_inputs(ev.conditions, self.data, self.sim.drift_velocity))
        )

    def encode(self, ev: TPCWindows, keys: frozenset[str]) -> Batch:
        """Features, mask and conditions of every segment."""
        feats = torch.as_tensor(self.transform(ev.adc))
        return {
            "features": feats,
            "mask": torch.ones(feats.shape[:2], dtype=torch.bool),
            "cond": self._cond(ev),
        }

    def conditions(self, ev: TPCWindows, keys: frozenset[str]) -> Batch:
        """The standardised conditions ``cond [N, 6]`` (``[N, 8]`` with ``data.spans``), for models that read them."""
        return {"cond": self._cond(ev)} if "cond" in keys else {}

    def decode(self, out: Batch, like: TPCWindows | None) -> TPCWindows:
        """Generated windows in ADC counts. With ``like``: its conditions, offsets, crossing points and event
        ids; without, the conditions of ``out["matched_cond"]`` (a library's stored segments) if given, else
        NaN, and event id −1."""
        adc = self.inverse(out["features"].float().cpu().numpy())
        if like is not None:
            return TPCWindows(
                adc, like.conditions, like.pad_offset, like.time_offset, like.crossing, like.event_id
            )
        n = len(adc)
        if "matched_cond" not in out:
            return TPCWindows(adc, np.full((n, 5), np.nan), event_id=np.full(n, -1, np.int64))
        m = self.cond_norm.inverse_transform(out["matched_cond"].float().cpu().numpy()).astype(np.float64)
        cond = np.stack([m[:, 0], m[:, 1], np.clip(m[:, 2], 0.0, 1.0 - 1e-9) * C.PAD_WIDTH, m[:, 3],
                         np.clip(np.rint(m[:, 5]), 0, 1)], axis=1)  # fmt: skip
        pad_offset, time_offset, crossing = window_origin(cond, self.sim)
        return TPCWindows(adc, cond, pad_offset, time_offset, crossing, np.full(n, -1, np.int64))

    def model_fields(self) -> dict[str, Any]:
        """Cells, conditions, the threshold and scale of the feature transform (a GAN zero-suppresses its output
        and computes reconstruction features with them) and the condition statistics."""
        return {
            "n_max": _CELLS,
            "n_features": 1,
            "n_cond": len(MODEL_CONDITIONS) + (len(SPAN_CONDITIONS) if self.data.spans else 0),
            "n_pads": C.N_PADS,
            "n_time": C.N_TIME,
            "threshold": self.threshold_feature(),
            "feature_scale": self._log_max,
            "adc_scale": self.data.adc_scale,
            "cond_mean": tuple(self.cond_norm.mean),
            "cond_std": tuple(self.cond_norm.std),
            "outputs": ("features", "mask"),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": config_to_dict(self.data),
            "cond_normaliser": self.cond_norm.to_dict(),
            "detector": self.sim.to_dict(),
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> TPCCodec:
        return cls(
            config_from_dict(TPCData, state["data"], "data"),
            ConditionNormaliser.from_dict(state["cond_normaliser"]),
            state.get("detector"),
        )
