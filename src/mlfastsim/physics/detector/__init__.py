"""The reference simulation: a parametric CMS-like detector (tracker, PbWO4 ECAL, HCAL towers)."""

from mlfastsim.physics.detector.geometry import (
    CHANNELS,
    CRYSTAL_DETA,
    CRYSTAL_DPHI,
    HCAL_TOWER_CRYSTALS,
    IMAGE_SIZE,
    pixel_centres,
)

__all__ = ["CHANNELS", "CRYSTAL_DETA", "CRYSTAL_DPHI", "HCAL_TOWER_CRYSTALS", "IMAGE_SIZE", "pixel_centres"]
