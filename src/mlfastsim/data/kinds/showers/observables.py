"""Shower observables along the incidence direction (seed 004's asymmetry), shared by the codec (the regressor's
target) and the evaluation suite; plain numpy on arrays."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from mlfastsim.physics.detector.lhcb_ecal_constants import CELL_MM

__all__ = ["cell_centres", "incidence_direction", "incidence_observables"]


def cell_centres(grid: int, cell_mm: float = CELL_MM) -> np.ndarray:
    """Cell-centre coordinates ``[grid]`` [mm] relative to the window centre (the same along x and y)."""
    return (np.arange(grid) - (grid - 1) / 2) * cell_mm


def incidence_direction(momentum: ArrayLike) -> np.ndarray:
    """Unit vectors ``[N, 2]`` along (px, py); (1, 0) for normal incidence."""
    p = np.asarray(momentum, dtype=np.float64)[:, :2]
    norm = np.linalg.norm(p, axis=1, keepdims=True)
    return np.where(norm > 0, p / np.where(norm > 0, norm, 1.0), np.array([[1.0, 0.0]]))


def incidence_observables(
    response: ArrayLike, momentum: ArrayLike, cell_mm: float = CELL_MM
) -> dict[str, np.ndarray]:
    """Asymmetry and widths of showers along their incidence direction d = (px, py)/|(px, py)|.

    Args:
        response: ``[N, G, G]`` cell energies [GeV] (rows y, columns x, window-centred).
        momentum: ``[N, 3]`` (px, py, pz) [GeV].
        cell_mm: cell pitch [mm].

    Returns:
        ``{name: float64 [N]}``: ``asymmetry`` = (E₊ − E₋)/(E₊ + E₋) with E± the energy of the cells whose
        centres lie downstream (+) / upstream (−) of the line through the window centre perpendicular to d
        (Rogachev & Ratnikov, arXiv:2207.06329: the metric their regressor enforces; 0 for an empty map);
        ``width_long`` / ``width_trans``: energy-weighted standard deviations [mm] of the cell positions
        along / across d about the centroid (a tilted shower is longer along d).
    """
    img = np.asarray(response, dtype=np.float64)
    n, g = img.shape[0], img.shape[1]
    d = incidence_direction(momentum)
    c = cell_centres(g, cell_mm)
    flat = img.reshape(n, g * g)
    xs, ys = np.tile(c, g), np.repeat(c, g)  # cell (i, j) → x = c[j], y = c[i]
    along = d[:, :1] * xs[None] + d[:, 1:] * ys[None]  # [N, G²]
    across = -d[:, 1:] * xs[None] + d[:, :1] * ys[None]
    total = flat.sum(1)
    safe = np.where(total > 0, total, 1.0)
    plus = (flat * (along > 0)).sum(1)
    minus = (flat * (along < 0)).sum(1)
    both = plus + minus

    def width(pos: np.ndarray) -> np.ndarray:
        mean = (flat * pos).sum(1) / safe
        return np.sqrt(np.clip((flat * pos**2).sum(1) / safe - mean**2, 0.0, None))

    return {
        "asymmetry": (plus - minus) / np.where(both > 0, both, 1.0),
        "width_long": width(along),
        "width_trans": width(across),
    }
