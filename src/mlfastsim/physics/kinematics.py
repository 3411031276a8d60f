"""Pure, vectorised relativistic kinematics (GeV, rad); collider coordinates (pT, η, φ)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["delta_phi", "eta_phi_from_momentum", "four_momentum", "invariant_mass", "wrap_phi"]


def wrap_phi(phi: ArrayLike) -> NDArray[np.float64]:
    """Wrap azimuthal angles into (−π, π] (rad)."""
    phi = np.asarray(phi, dtype=np.float64)
    wrapped = np.mod(phi + np.pi, 2.0 * np.pi) - np.pi
    return np.where(wrapped == -np.pi, np.pi, wrapped)


def delta_phi(phi1: ArrayLike, phi2: ArrayLike) -> NDArray[np.float64]:
    """φ1 − φ2 wrapped into (−π, π] (rad)."""
    return wrap_phi(np.asarray(phi1, dtype=np.float64) - np.asarray(phi2, dtype=np.float64))


def eta_phi_from_momentum(
    px: ArrayLike, py: ArrayLike, pz: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(pT, η, φ) from Cartesian momenta (GeV). η is ±inf-safe: capped at |η| = 1e3 for pT = 0."""
    px, py, pz = (np.asarray(a, dtype=np.float64) for a in (px, py, pz))
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(np.where(pt > 0, pz / np.where(pt > 0, pt, 1.0), np.sign(pz) * 1e3))
    return pt, eta, np.arctan2(py, px)


def four_momentum(pt: ArrayLike, eta: ArrayLike, phi: ArrayLike, e: ArrayLike) -> NDArray[np.float64]:
    """Cartesian four-momenta ``[..., 4]`` = (E, px, py, pz) in GeV from (pT, η, φ, E)."""
    pt, eta, phi, e = (np.asarray(a, dtype=np.float64) for a in (pt, eta, phi, e))
    return np.stack([e, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)


def invariant_mass(p4: ArrayLike, axis: int = -2) -> NDArray[np.float64]:
    """Invariant mass (GeV) of the sum of four-momenta ``[..., n, 4]`` (E, px, py, pz) over ``axis``.

    Negative m² from rounding is clipped to zero.
    """
    total = np.asarray(p4, dtype=np.float64).sum(axis=axis)
    m2 = total[..., 0] ** 2 - (total[..., 1:] ** 2).sum(axis=-1)
    return np.sqrt(np.clip(m2, 0.0, None))
