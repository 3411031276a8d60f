"""Hadrons and muons: calorimeter response, the ECAL/HCAL energy split, and lateral hadron deposits.

Sources (PHYSICS.md §2, §5): FS-HR "old" HB model for the pion response R(E) = 0.95·E/(1 + 3 GeV/E) and
resolution √(1.22²/E + 0.05²), applied to the hadron's total calorimeter signal (ECAL + HCAL, the e/h of the
two compartments is not separated); interaction probability 1 − e^(−1.1) in the ECAL; PUMAS MIP losses.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlfastsim.physics.detector.constants import (
    HADRON_ECAL_LAMBDA,
    HADRON_SHOWER_LENGTH,
    HADRON_SPOTS_MAX,
    HADRON_SPOTS_PER_GEV,
    HCAL_CONSTANT,
    HCAL_RESPONSE_E0,
    HCAL_RESPONSE_SCALE,
    HCAL_STOCHASTIC,
    MIP_ECAL_MEAN,
    MIP_ECAL_WIDTH,
    NUCLEON_MASS,
    P_ECAL_START,
)
from mlfastsim.physics.detector.ecal import lateral_offsets, mip_energy

__all__ = [
    "available_energy",
    "hadron_deposits",
    "hadron_resolution",
    "hadron_response",
    "spread_deposits",
]


def hadron_response(energy: ArrayLike) -> NDArray[np.float64]:
    """Mean calorimeter signal ``[n]`` [GeV] of hadrons of ``energy [n]`` [GeV]: 0.95·E/(1 + 3/E) (FS-HR)."""
    energy = np.asarray(energy, dtype=np.float64)
    return HCAL_RESPONSE_SCALE * energy / (1.0 + HCAL_RESPONSE_E0 / np.maximum(energy, 1e-6))


def hadron_resolution(energy: ArrayLike) -> NDArray[np.float64]:
    """Relative resolution σ/E ``[n]`` = √(1.22²/E + 0.05²) (FS-HR old HB model)."""
    energy = np.maximum(np.asarray(energy, dtype=np.float64), 1e-6)
    return np.hypot(HCAL_STOCHASTIC / np.sqrt(energy), HCAL_CONSTANT)


def available_energy(e: ArrayLike, pdgid: ArrayLike) -> NDArray[np.float64]:
    """Energy a hadron can deposit ``[n]`` [GeV]: E (mesons), E − m_N (baryons), E + m_N (antibaryons)."""
    e, pdgid = np.asarray(e, dtype=np.float64), np.asarray(pdgid)
    baryon = (np.abs(pdgid) >= 1000) & (np.abs(pdgid) < 10000)
    return np.clip(e - np.where(baryon, np.sign(pdgid) * NUCLEON_MASS, 0.0), 0.0, None)


def hadron_deposits(
    energy: ArrayLike,
    charged: ArrayLike,
    rng: np.random.Generator,
    *,
    p_ecal_start: float = P_ECAL_START,
    smear: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Split hadrons of available ``energy [n]`` [GeV] into (E_ECAL, E_HCAL, starts_in_ecal), each ``[n]``.

    The total signal is R(E)·(1 + σ/E·z) (FS-HR, clipped at 0). With probability ``p_ecal_start`` the shower
    starts in the ECAL at a depth x ~ Exp(λ_I) truncated to the ECAL's 1.1 λ_I; the ECAL keeps the fraction
    1 − exp(−(1.1 − x)/ℓ), ℓ = 1 λ_I (unverified), the HCAL the rest. Otherwise a charged hadron leaves a
    MIP (Moyal, mean 235 MeV) in the ECAL and the rest in the HCAL; a neutral one leaves all in the HCAL.
    """
    energy = np.asarray(energy, dtype=np.float64)
    charged = np.asarray(charged, dtype=bool)
    n = energy.size
    z, u_start, u_depth = rng.standard_normal(n), rng.random(n), rng.random(n)
    sigma = hadron_resolution(energy) if smear else np.zeros(n)
    total = np.clip(hadron_response(energy) * (1.0 + sigma * z), 0.0, None)
    starts = u_start < p_ecal_start
    depth = -np.log1p(-u_depth * (1.0 - np.exp(-HADRON_ECAL_LAMBDA)))
    frac = 1.0 - np.exp(-(HADRON_ECAL_LAMBDA - depth) / HADRON_SHOWER_LENGTH)
    mip = np.where(charged & ~starts, mip_energy(n, MIP_ECAL_MEAN, MIP_ECAL_WIDTH, rng), 0.0)
    e_ecal = np.where(starts, frac * total, np.minimum(mip, total))
    return e_ecal, total - e_ecal, starts


def spread_deposits(
    energy: ArrayLike,
    radius: float,
    rng: np.random.Generator,
    *,
    spots_per_gev: float = HADRON_SPOTS_PER_GEV,
    spots_max: int = HADRON_SPOTS_MAX,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Lateral spots (Δη, Δφ, E_spot, owner) ``[m]`` of hadron deposits ``energy [n]`` [GeV].

    Each deposit with E > 0 is split equally over clip(⌈spots_per_gev·E⌉, 1, spots_max) spots drawn from
    f(r) = 2rR²/(r²+R²)², R = ``radius`` (rad; 95 % within r95 = √19·R), truncated at 1.5·r95.
    """
    energy = np.asarray(energy, dtype=np.float64)
    n_spots = np.where(energy > 0, np.clip(np.ceil(spots_per_gev * energy), 1, spots_max), 0).astype(np.int64)
    owner = np.repeat(np.arange(energy.size, dtype=np.int64), n_spots)
    scale = np.full(owner.size, radius)
    deta, dphi = lateral_offsets(scale, np.sqrt(19.0) * radius * 1.5, rng)
    per_spot = np.divide(energy, n_spots, out=np.zeros_like(energy), where=n_spots > 0)
    return deta, dphi, per_spot[owner], owner
