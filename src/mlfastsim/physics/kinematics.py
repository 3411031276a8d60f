"""Pure, vectorised relativistic kinematics (GeV, rad); collider coordinates (pT, η, φ).

The one numpy definition of the φ wrap, Δφ, ΔR and a jet's pT and mass from its constituents; the torch
twins, with the same names and arithmetic, are in :mod:`mlfastsim.physics.torch_kinematics`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "delta_phi",
    "delta_r",
    "eta_phi_from_momentum",
    "four_momentum",
    "invariant_mass",
    "jet_pt_mass",
    "jet_pt_mass_from_energy",
    "wrap_phi",
]

Axis = int | tuple[int, ...]


def wrap_phi(phi: ArrayLike) -> NDArray[np.float64]:
    """Wrap azimuthal angles into (−π, π] (rad)."""
    phi = np.asarray(phi, dtype=np.float64)
    wrapped = np.mod(phi + np.pi, 2.0 * np.pi) - np.pi
    return np.where(wrapped == -np.pi, np.pi, wrapped)


def delta_phi(phi1: ArrayLike, phi2: ArrayLike) -> NDArray[np.float64]:
    """φ1 − φ2 wrapped into (−π, π] (rad)."""
    return wrap_phi(np.asarray(phi1, dtype=np.float64) - np.asarray(phi2, dtype=np.float64))


def delta_r(eta1: ArrayLike, phi1: ArrayLike, eta2: ArrayLike, phi2: ArrayLike) -> NDArray[np.float64]:
    """ΔR = √(Δη² + Δφ²) with Δφ = φ1 − φ2 wrapped into (−π, π] (broadcasting; η units, rad).

    The wrap is skipped when max|φ1| + max|φ2| ≤ π, where no |Δφ| can exceed π: exact, and it spares a
    modulo over large pair matrices (the EMD's ground distances, the EFPs' angles).
    """
    phi1, phi2 = np.asarray(phi1, dtype=np.float64), np.asarray(phi2, dtype=np.float64)
    deta = np.asarray(eta1, dtype=np.float64) - np.asarray(eta2, dtype=np.float64)
    dphi = phi1 - phi2
    if not np.abs(phi1).max(initial=0.0) + np.abs(phi2).max(initial=0.0) <= np.pi:  # NaN: wrap
        dphi = wrap_phi(dphi)
    return np.sqrt(deta * deta + dphi * dphi)


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


def _pt_mass(
    pt: NDArray[np.float64],
    eta: NDArray[np.float64],
    phi: NDArray[np.float64],
    e: NDArray[np.float64],
    axis: Axis,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(pT, mass) of the sum over ``axis`` of massless constituents (pT, η, φ) with summed energy ``e``."""
    px = (pt * np.cos(phi)).sum(axis=axis)
    py = (pt * np.sin(phi)).sum(axis=axis)
    pz = (pt * np.sinh(eta)).sum(axis=axis)
    return np.hypot(px, py), np.sqrt(np.clip(e**2 - px**2 - py**2 - pz**2, 0.0, None))


def _masked(x: ArrayLike, mask: ArrayLike | None) -> NDArray[np.float64]:
    x = np.asarray(x, dtype=np.float64)
    return x if mask is None else np.where(np.asarray(mask, dtype=bool), x, 0.0)


def jet_pt_mass(
    eta: ArrayLike, phi: ArrayLike, pt: ArrayLike, mask: ArrayLike | None = None, axis: Axis = -1
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """pT and invariant mass (GeV) of a jet of massless constituents given by (η, φ, pT).

    Args:
        eta, phi, pt: constituents ``[..., n]`` (broadcasting) in (η units, rad, GeV); absolute or relative
            to the jet axis (relative coordinates give the mass exactly and the pT of a jet at η = 0).
        mask: bool, broadcastable to ``pt``: real constituents (None: all); the others count as pT = 0.
        axis: the constituent axis (or axes) summed over.

    Returns:
        (pT, mass), float64 ``[...]``: |Σ p⃗_T| and √max(E² − |p⃗|², 0) with E = Σ pT cosh η.
    """
    pt = _masked(pt, mask)
    eta, phi = np.asarray(eta, dtype=np.float64), np.asarray(phi, dtype=np.float64)
    return _pt_mass(pt, eta, phi, (pt * np.cosh(eta)).sum(axis=axis), axis)


def jet_pt_mass_from_energy(
    eta: ArrayLike, phi: ArrayLike, energy: ArrayLike, mask: ArrayLike | None = None, axis: Axis = -1
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """pT and invariant mass (GeV) of massless constituents given by (η, φ, E), e.g. calorimeter cells.

    As :func:`jet_pt_mass` with pT = E / cosh η and the energies summed as given.
    """
    energy = _masked(energy, mask)
    eta, phi = np.asarray(eta, dtype=np.float64), np.asarray(phi, dtype=np.float64)
    return _pt_mass(energy / np.cosh(eta), eta, phi, energy.sum(axis=axis), axis)
