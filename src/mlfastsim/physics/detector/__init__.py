"""The reference simulation: a parametric CMS-like detector (tracker, PbWO4 ECAL, HCAL towers)."""

from mlfastsim.physics.detector.ecal import em_shower_deposits, gflash_longitudinal, mip_energy
from mlfastsim.physics.detector.geometry import (
    CHANNELS,
    CRYSTAL_DETA,
    CRYSTAL_DPHI,
    HCAL_TOWER_CRYSTALS,
    HCAL_TOWERS,
    IMAGE_SIZE,
    WINDOW_HALF_WIDTH,
    crystal_indices,
    pixel_centres,
    towers_to_crystals,
)
from mlfastsim.physics.detector.hcal import (
    available_energy,
    hadron_deposits,
    hadron_response,
    spread_deposits,
)
from mlfastsim.physics.detector.simulate import DetectorConfig, simulate_jet, simulate_particles
from mlfastsim.physics.detector.tracker import propagate_to_ecal, reconstruct_tracks

__all__ = [
    "CHANNELS",
    "CRYSTAL_DETA",
    "CRYSTAL_DPHI",
    "HCAL_TOWERS",
    "HCAL_TOWER_CRYSTALS",
    "IMAGE_SIZE",
    "WINDOW_HALF_WIDTH",
    "DetectorConfig",
    "available_energy",
    "crystal_indices",
    "em_shower_deposits",
    "gflash_longitudinal",
    "hadron_deposits",
    "hadron_response",
    "mip_energy",
    "pixel_centres",
    "propagate_to_ecal",
    "reconstruct_tracks",
    "simulate_jet",
    "simulate_particles",
    "spread_deposits",
    "towers_to_crystals",
]
