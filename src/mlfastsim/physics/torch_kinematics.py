"""Torch twins of :mod:`mlfastsim.physics.kinematics`: the same names, arithmetic and units (GeV, rad).

They keep the input's dtype and device and are differentiable, for losses and metrics on tensors.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["delta_phi", "delta_r", "jet_pt_mass", "jet_pt_mass_from_energy", "wrap_phi"]

Axis = int | tuple[int, ...]


def wrap_phi(phi: Tensor) -> Tensor:
    """Wrap azimuthal angles into (−π, π] (rad); as the numpy ``wrap_phi``, element by element."""
    wrapped = torch.remainder(phi + math.pi, 2.0 * math.pi) - math.pi
    return wrapped.masked_fill(wrapped == -math.pi, math.pi)


def delta_phi(phi1: Tensor, phi2: Tensor) -> Tensor:
    """φ1 − φ2 wrapped into (−π, π] (rad)."""
    return wrap_phi(phi1 - phi2)


def _abs_max(x: Tensor) -> float:
    return float(x.abs().amax()) if x.numel() else 0.0


def delta_r(eta1: Tensor, phi1: Tensor, eta2: Tensor, phi2: Tensor) -> Tensor:
    """ΔR = √(Δη² + Δφ²) with Δφ = φ1 − φ2 wrapped into (−π, π] (broadcasting; η units, rad).

    As the numpy ``delta_r``, the wrap is skipped when max|φ1| + max|φ2| ≤ π (exact); deciding it reads
    two numbers back from the device.
    """
    deta = eta1 - eta2
    dphi = phi1 - phi2
    if not _abs_max(phi1) + _abs_max(phi2) <= math.pi:  # NaN: wrap
        dphi = wrap_phi(dphi)
    return torch.sqrt(deta * deta + dphi * dphi)


def _pt_mass(pt: Tensor, eta: Tensor, phi: Tensor, e: Tensor, axis: Axis) -> tuple[Tensor, Tensor]:
    px = (pt * torch.cos(phi)).sum(dim=axis)
    py = (pt * torch.sin(phi)).sum(dim=axis)
    pz = (pt * torch.sinh(eta)).sum(dim=axis)
    return torch.hypot(px, py), torch.sqrt(torch.clamp(e**2 - px**2 - py**2 - pz**2, min=0.0))


def _masked(x: Tensor, mask: Tensor | None) -> Tensor:
    return x if mask is None else torch.where(mask, x, torch.zeros_like(x))


def jet_pt_mass(
    eta: Tensor, phi: Tensor, pt: Tensor, mask: Tensor | None = None, axis: Axis = -1
) -> tuple[Tensor, Tensor]:
    """pT and invariant mass (GeV) of a jet of massless constituents ``[..., n]`` given by (η, φ, pT).

    ``mask`` (bool, broadcastable to ``pt``): real constituents; the others count as pT = 0. Returns
    (pT, mass) ``[...]``: |Σ p⃗_T| and √max(E² − |p⃗|², 0) with E = Σ pT cosh η. The gradient of the mass
    is infinite where it is 0 (a single constituent); clamp it if a loss can meet such jets.
    """
    pt = _masked(pt, mask)
    return _pt_mass(pt, eta, phi, (pt * torch.cosh(eta)).sum(dim=axis), axis)


def jet_pt_mass_from_energy(
    eta: Tensor, phi: Tensor, energy: Tensor, mask: Tensor | None = None, axis: Axis = -1
) -> tuple[Tensor, Tensor]:
    """As :func:`jet_pt_mass` for constituents given by (η, φ, E): pT = E / cosh η, energies summed as given."""
    energy = _masked(energy, mask)
    return _pt_mass(energy / torch.cosh(eta), eta, phi, energy.sum(dim=axis), axis)
