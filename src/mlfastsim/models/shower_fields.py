"""The settings every shower family takes from the data (the showers codec's ``model_fields``), and the two
conversions they all need: codec units → cell energies, normalised conditions → ln E."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["ShowerFields"]


@dataclass(frozen=True)
class ShowerFields:
    """The settings a shower family takes from the data (the showers codec's ``model_fields``): the grid, cells
    as elements of one feature, the condition count, the cell transform f = ln(1 + e/ε)/f_max
    (``energy_floor`` ε, ``feature_scale`` f_max), the zero suppression [GeV] and the standardisation of the
    ln E condition (column 4)."""

    grid: int = 30
    n_max: int = 900
    n_features: int = 1
    n_cond: int = 5
    feature_scale: float = 8.4
    energy_floor: float = 0.01
    threshold: float = 0.015
    log_energy_mean: float = 2.65
    log_energy_std: float = 1.13

    def energies(self, f: Tensor) -> Tensor:
        """Cell energies [GeV] of codec units ``f`` (any shape): ε · (exp(f · f_max) − 1), negatives as 0."""
        return self.energy_floor * torch.expm1(f.clamp_min(0) * self.feature_scale)

    def log_energy(self, cond: Tensor) -> Tensor:
        """ln E [ln GeV] ``[B]`` of the particles of normalised conditions ``cond [B, n_cond]`` (column 4)."""
        return cond[:, 4] * self.log_energy_std + self.log_energy_mean
