"""The jet-image window of the CMS end-to-end convention: 125 × 125 ECAL crystals centred on the jet axis."""

from __future__ import annotations

import numpy as np

__all__ = [
    "CHANNELS",
    "CRYSTAL_DETA",
    "CRYSTAL_DPHI",
    "HCAL_TOWER_CRYSTALS",
    "IMAGE_SIZE",
    "pixel_centres",
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


def pixel_centres(size: int = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(Δη, Δφ) of pixel centres relative to the jet axis, each ``[size]`` in rad/units of η.

    Row index ``i`` runs along η, column index ``j`` along φ; the central pixel (``size // 2``)
    is centred on the jet axis.
    """
    offsets = (np.arange(size) - size // 2).astype(np.float64)
    return offsets * CRYSTAL_DETA, offsets * CRYSTAL_DPHI
