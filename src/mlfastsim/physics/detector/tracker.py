"""Tracker: helix propagation to the ECAL surface in the solenoid field, Delphes efficiency and pT smearing.

Sources (PHYSICS.md §3): DEL-PP for the helix, DEL for the efficiency and resolution tables.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlfastsim.physics.detector.constants import (
    B_FIELD,
    ECAL_RADIUS,
    HELIX_K,
    TRACK_EFFICIENCY,
    TRACK_ETA_EDGES,
    TRACK_PT_EFF_EDGE,
    TRACK_PT_MIN,
    TRACK_RESOLUTION,
)
from mlfastsim.physics.kinematics import wrap_phi

__all__ = ["propagate_to_ecal", "reconstruct_tracks", "track_efficiency", "track_resolution"]


def propagate_to_ecal(
    pt: ArrayLike,
    eta: ArrayLike,
    phi: ArrayLike,
    charge: ArrayLike,
    b_field: float = B_FIELD,
    radius: float = ECAL_RADIUS,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Impact (η, φ) on the cylinder of ``radius`` [m] of particles from the origin, and ``reaches``.

    All inputs ``[n]`` (GeV, rad, e). Charged particles follow a helix in ``b_field`` [T] along +z
    (DEL-PP): r_curv = pT / (0.2998·|q|·B); they reach the cylinder only if 2·r_curv ≥ R, crossing at
    φ0 − sign(q)·asin(R / (2·r_curv)); the transverse arc length is s = 2·r_curv·asin(R / (2·r_curv)), so the
    impact z = sinh(η)·s and the impact η = asinh(z / R). Neutral particles go straight (η, φ unchanged).
    The barrel is idealised: it extends in z as far as needed (no endcap). Returns three ``[n]`` arrays;
    for particles that do not reach, η and φ are the production values.
    """
    pt, eta, phi, charge = (np.asarray(a, dtype=np.float64) for a in (pt, eta, phi, charge))
    charged = charge != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r_curv = np.where(charged, pt / (HELIX_K * np.abs(charge) * b_field), np.inf)
        ratio = radius / (2.0 * r_curv)  # 0 for neutrals
    reaches = (ratio <= 1.0) & (pt > 0)
    half_turn = np.arcsin(np.clip(ratio, 0.0, 1.0))
    phi_impact = np.where(reaches, wrap_phi(phi - np.sign(charge) * half_turn), phi)
    # Transverse arc length over chord: s/R = asin(x)/x with x = R/(2 r_curv), → 1 for neutrals.
    stretch = np.where(ratio > 0, half_turn / np.where(ratio > 0, ratio, 1.0), 1.0)
    eta_impact = np.where(reaches, np.arcsinh(np.sinh(eta) * stretch), eta)
    return eta_impact, phi_impact, reaches


def _band(eta: NDArray[np.float64]) -> NDArray[np.int64]:
    """Delphes |η| band index ``[n]``: 0, 1, 2, or 3 (outside the tracker)."""
    return np.searchsorted(np.asarray(TRACK_ETA_EDGES), np.abs(eta), side="left").astype(np.int64)


def track_efficiency(pt: ArrayLike, eta: ArrayLike) -> NDArray[np.float64]:
    """Delphes π± tracking efficiency ``[n]`` for generator (pT [GeV], η) ``[n]`` (DEL; 0 beyond |η| 2.5)."""
    pt, eta = np.asarray(pt, dtype=np.float64), np.asarray(eta, dtype=np.float64)
    table = np.vstack([np.asarray(TRACK_EFFICIENCY), [0.0, 0.0]])
    eff = table[_band(eta), (pt > TRACK_PT_EFF_EDGE).astype(np.int64)]
    return np.where(pt > TRACK_PT_MIN, eff, 0.0)


def track_resolution(pt: ArrayLike, eta: ArrayLike) -> NDArray[np.float64]:
    """Relative resolution σ(pT)/pT = √(a² + (b·pT)²) ``[n]`` with Delphes (a, b) per |η| band (DEL)."""
    pt, eta = np.asarray(pt, dtype=np.float64), np.asarray(eta, dtype=np.float64)
    table = np.vstack([np.asarray(TRACK_RESOLUTION), TRACK_RESOLUTION[-1]])
    ab = table[_band(eta)]
    return np.hypot(ab[:, 0], ab[:, 1] * pt)


def reconstruct_tracks(
    pt: ArrayLike, eta: ArrayLike, rng: np.random.Generator, smear: bool = True
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Measured pT ``[n]`` [GeV] and ``found [n]`` for charged particles with generator (pT, η) ``[n]``.

    Each track is found with :func:`track_efficiency`; its pT is smeared by a Gaussian of width
    :func:`track_resolution` (clipped at zero). Draws two numbers per track from ``rng``.
    """
    pt, eta = np.asarray(pt, dtype=np.float64), np.asarray(eta, dtype=np.float64)
    found = rng.random(pt.shape) < track_efficiency(pt, eta)
    z = rng.standard_normal(pt.shape)
    measured = pt * (1.0 + track_resolution(pt, eta) * z) if smear else pt.copy()
    return np.clip(measured, 0.0, None), found
