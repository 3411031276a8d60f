"""Permutation-equivariant normalisation of hit features and per-jet conditions (fit on training data only)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ConditionNormaliser", "HitNormaliser"]

#: Index of the energy feature in hit clouds (features are (η_rel, φ_rel, E[, channel])).
ENERGY_INDEX = 2
#: Hit features that are standardised; later features (the channel index) pass unchanged.
SCALED_FEATURES = 3


@dataclass
class HitNormaliser:
    """Standardise (η_rel, φ_rel, log E) with one mean and std per feature, shared by all hits.

    The statistics are taken over real hits only, so padding never moves them, and the same
    transform applies to every hit slot (permutation-equivariant). Padded slots come out as 0.
    """

    mean: list[float] = field(default_factory=lambda: [0.0] * SCALED_FEATURES)
    std: list[float] = field(default_factory=lambda: [1.0] * SCALED_FEATURES)
    energy_floor: float = 1e-6

    def fit(self, features: np.ndarray, mask: np.ndarray) -> HitNormaliser:
        """Fit to ``features [N, n, F]`` (physical units) over the real hits of ``mask [N, n]``."""
        real = self._logged(features)[np.asarray(mask, dtype=bool)]
        if len(real) == 0:
            raise ValueError("cannot fit a hit normaliser: no real hits")
        self.mean = [float(v) for v in real[:, :SCALED_FEATURES].mean(axis=0)]
        self.std = [float(max(v, 1e-6)) for v in real[:, :SCALED_FEATURES].std(axis=0)]
        return self

    def _logged(self, features: np.ndarray) -> np.ndarray:
        out = np.array(features, dtype=np.float32, copy=True)
        out[..., ENERGY_INDEX] = np.log(np.maximum(out[..., ENERGY_INDEX], self.energy_floor))
        return out

    def transform(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Physical ``[N, n, F]`` → normalised ``[N, n, F]`` float32; padded slots 0."""
        out = self._logged(features)
        out[..., :SCALED_FEATURES] = (
            out[..., :SCALED_FEATURES] - np.asarray(self.mean, dtype=np.float32)
        ) / np.asarray(self.std, dtype=np.float32)
        return out * np.asarray(mask, dtype=np.float32)[..., None]

    def inverse_transform(self, features: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Normalised ``[N, n, F]`` → physical (η_rel, φ_rel, E in GeV[, channel]); padded slots 0."""
        out = np.array(features, dtype=np.float32, copy=True)
        out[..., :SCALED_FEATURES] = out[..., :SCALED_FEATURES] * np.asarray(
            self.std, dtype=np.float32
        ) + np.asarray(self.mean, dtype=np.float32)
        out[..., ENERGY_INDEX] = np.exp(np.clip(out[..., ENERGY_INDEX], -30.0, 30.0))
        return out * np.asarray(mask, dtype=np.float32)[..., None]

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "energy_floor": self.energy_floor}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HitNormaliser:
        return cls(list(data["mean"]), list(data["std"]), float(data.get("energy_floor", 1e-6)))


@dataclass
class ConditionNormaliser:
    """Standardise per-jet conditions ``[N, C]`` column by column; missing values (NaN) become 0 (the mean)."""

    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)

    def fit(self, cond: np.ndarray) -> ConditionNormaliser:
        cond = np.asarray(cond, dtype=np.float64).reshape(len(cond), -1)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: handled below
            mean = np.nanmean(cond, axis=0) if cond.size else np.zeros(cond.shape[1])
            std = np.nanstd(cond, axis=0) if cond.size else np.ones(cond.shape[1])
        self.mean = [float(v) if np.isfinite(v) else 0.0 for v in mean]
        self.std = [float(v) if np.isfinite(v) and v > 1e-9 else 1.0 for v in std]
        return self

    def transform(self, cond: np.ndarray) -> np.ndarray:
        cond = np.asarray(cond, dtype=np.float32).reshape(len(cond), -1)
        if cond.shape[1] != len(self.mean):
            raise ValueError(f"expected {len(self.mean)} conditions per jet, got {cond.shape[1]}")
        out = (
            (cond - np.asarray(self.mean, dtype=np.float32)) / np.asarray(self.std, dtype=np.float32)
            if self.mean
            else cond
        )
        return np.nan_to_num(out, nan=0.0).astype(np.float32)

    def inverse_transform(self, cond: np.ndarray) -> np.ndarray:
        cond = np.asarray(cond, dtype=np.float32)
        return (
            cond * np.asarray(self.std, dtype=np.float32) + np.asarray(self.mean, dtype=np.float32)
            if self.mean
            else cond
        )

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConditionNormaliser:
        return cls(list(data["mean"]), list(data["std"]))
