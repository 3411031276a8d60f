"""The jet-image window of the CMS end-to-end convention: 125 × 125 ECAL crystals centred on the jet axis."""

from __future__ import annotations

import numpy as np

__all__ = [
    "CHANNELS",
    "CHANNEL_CELL_CRYSTALS",
    "CRYSTAL_DETA",
    "CRYSTAL_DPHI",
    "HCAL_TOWERS",
    "HCAL_TOWER_CRYSTALS",
    "IMAGE_SIZE",
    "WINDOW_HALF_WIDTH",
    "crystal_indices",
    "crystals_to_towers",
    "pixel_centres",
    "towers_to_crystals",
]

#: Image side in crystals (CMS E2E jet images; Andrews et al., arXiv:1902.08276).
IMAGE_SIZE = 125
#: ECAL barrel crystal size in η and φ (PHYSICS.md §1, PF17: 2.2 cm at R = 1.29 m).
CRYSTAL_DETA = 0.0174
CRYSTAL_DPHI = 0.0174
#: An HCAL barrel tower (0.087 × 0.087, PHYSICS.md §2) covers 5 × 5 ECAL crystals.
HCAL_TOWER_CRYSTALS = 5
#: Image channels, in order (CMS E2E convention).
CHANNELS = ("tracks_pt", "ecal", "hcal")
#: Side of each channel's own cell in crystals: tracks (at their ECAL impact crystal) and ECAL on crystals,
#: HCAL on towers. The image stores every channel on crystals; hit clouds use these cells.
CHANNEL_CELL_CRYSTALS = (1, 1, HCAL_TOWER_CRYSTALS)


def pixel_centres(size: int = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(Δη, Δφ) of pixel centres relative to the jet axis, each ``[size]`` in rad/units of η.

    Row index ``i`` runs along η, column index ``j`` along φ; the central pixel (``size // 2``)
    is centred on the jet axis.
    """
    offsets = (np.arange(size) - size // 2).astype(np.float64)
    return offsets * CRYSTAL_DETA, offsets * CRYSTAL_DPHI


#: Half-width of the window in η and φ: 62.5 crystals (rad / units of η).
WINDOW_HALF_WIDTH = (IMAGE_SIZE / 2) * CRYSTAL_DETA
#: HCAL towers per image side; the tower grid is aligned to the image (tower I = crystals 5I … 5I+4).
HCAL_TOWERS = IMAGE_SIZE // HCAL_TOWER_CRYSTALS


def crystal_indices(
    deta: np.ndarray, dphi: np.ndarray, size: int = IMAGE_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, column) crystal indices ``[n]`` (int64) of points at (Δη, Δφ) from the axis, and ``inside [n]``.

    Crystal ``i`` covers Δη ∈ [(i − c − ½)·0.0174, (i − c + ½)·0.0174) with ``c = size // 2``; indices of
    points outside the window are clipped to its edge (mask them with ``inside``).
    """
    half = size // 2 + 0.5
    row = np.floor(np.asarray(deta) / CRYSTAL_DETA + half).astype(np.int64)
    col = np.floor(np.asarray(dphi) / CRYSTAL_DPHI + half).astype(np.int64)
    inside = (row >= 0) & (row < size) & (col >= 0) & (col < size)
    return np.clip(row, 0, size - 1), np.clip(col, 0, size - 1), inside


def towers_to_crystals(towers: np.ndarray) -> np.ndarray:
    """Spread tower energies ``[..., T, T]`` evenly over their 5 × 5 crystals: ``[..., 5T, 5T]`` (GeV)."""
    k = HCAL_TOWER_CRYSTALS
    return np.repeat(np.repeat(towers, k, axis=-2), k, axis=-1) / (k * k)


def crystals_to_towers(crystals: np.ndarray) -> np.ndarray:
    """Sum crystal energies ``[..., 5T, 5T]`` over each 5 × 5 tower: ``[..., T, T]`` (GeV; summed in float64).

    The inverse of :func:`towers_to_crystals` (up to float32 rounding); tower ``I`` = crystals 5I … 5I+4.
    """
    k = HCAL_TOWER_CRYSTALS
    *lead, rows, cols = crystals.shape
    if rows % k or cols % k:
        raise ValueError(
            f"an image side of {rows} x {cols} crystals is not a whole number of {k}-crystal towers"
        )
    blocks = np.asarray(crystals, dtype=np.float64).reshape(*lead, rows // k, k, cols // k, k)
    return blocks.sum(axis=(-3, -1))
