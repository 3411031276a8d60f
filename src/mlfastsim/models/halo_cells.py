"""The particles' halos taken out of their own core cells (``gvae`` with cores, ``halo_rings``): each halo's
Gaussian mass in the cell its particle's core owns, and the likelihood's correction that truncates the halo
there. The sampler uses the same masses to keep each halo's weight (:func:`~mlfastsim.models.gvae_sampler.
sampling_logits`)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mlfastsim.models.cellgraph import GRID

__all__ = ["halo_core_mass", "halo_exclusion"]

SQRT2 = math.sqrt(2.0)  # Φ(x) = (1 + erf(x/√2)) / 2, which exports (torch.special.ndtr does not)


def halo_core_mass(
    params: dict[str, Tensor],
    pixel_scale: tuple[float, float],
    pixel_offset: tuple[float, float],
    sides: tuple[int, ...] = (1,),
    halos: int = 1,
) -> Tensor:
    """−log(1 − P_core) ``[B, halos·m, slots]``: P_core the mass of halo j's Gaussian (the last halos·m
    components of ``params``, halo-major) in the cell its particle's core owns in each channel slot (a crystal,
    or a tower of ``sides[s]`` crystals); 0 where the particle owns no core in that slot."""
    cell, owner = params["core_cell"], params["core_owner"]
    m = cell.shape[1] // len(sides)
    mean, std = params["mean"][:, -halos * m :, :2], params["log_std"][:, -halos * m :, :2].exp()
    out = []
    for slot, side in enumerate(sides):
        local = (cell[:, slot * m : (slot + 1) * m].repeat(1, halos) - slot * GRID * GRID).clamp_min(0)
        p_core = torch.ones_like(mean[..., 0])
        for axis, index in enumerate((local // GRID, local % GRID)):
            crystal = index.to(mean.dtype) * side + (side - 1) / 2  # the cell's middle crystal
            centre = (crystal - pixel_offset[axis]) / pixel_scale[axis]
            half = 0.5 * side / pixel_scale[axis]
            lo = (centre - half - mean[..., axis]) / std[..., axis]
            hi = (centre + half - mean[..., axis]) / std[..., axis]
            p_core = p_core * 0.5 * (torch.erf(hi / SQRT2) - torch.erf(lo / SQRT2))  # Φ by erf: it exports
        owns = owner[:, slot * m : (slot + 1) * m].repeat(1, halos).to(mean.dtype)
        out.append(-torch.log1p(-p_core.clamp(max=1.0 - 1e-4)) * owns)
    return torch.stack(out, -1)


def halo_exclusion(
    params: dict[str, Tensor],
    hit_cell: Tensor,
    pixel_scale: tuple[float, float],
    pixel_offset: tuple[float, float],
    hit_slot: Tensor | None = None,
    sides: tuple[int, ...] = (1,),
    halos: int = 1,
) -> Tensor:
    """Log-density correction ``[B, n, halos·m]`` that takes each owning particle's core cells out of its halos.

    The halo of particle j (the last m mixture components, means and log-stds ``[B, K', 3]`` in ``params``)
    is its Gaussian truncated to outside the cell j's core owns in the hit's channel slot: −∞ (−1e4) for hits
    ``hit_cell [B, n]`` in that cell, −log(1 − P_core) elsewhere (:func:`halo_core_mass`) — a ring around the
    core, normalised in every channel, as the halo's channel is drawn apart from its position. 0 where j owns
    no core in that slot. With several slots, ``hit_slot [B, n]`` gives each hit's slot. With ``halos`` per
    particle (the last halos·m components, halo-major) each is taken out of its particle's cells.
    """
    cell, owner, k = params["core_cell"], params["core_owner"], len(sides)
    m = cell.shape[1] // k
    outside = halo_core_mass(params, pixel_scale, pixel_offset, sides, halos)
    corr = torch.zeros((*hit_cell.shape, halos * m), dtype=outside.dtype, device=outside.device)
    for slot in range(k):
        own, owns = (t[:, slot * m : (slot + 1) * m].repeat(1, halos).unsqueeze(1) for t in (cell, owner))
        here = torch.where(hit_cell.unsqueeze(2) == own, -1e4, outside[..., slot].unsqueeze(1)) * owns
        corr = corr + (here if hit_slot is None or k == 1 else here * (hit_slot == slot).unsqueeze(2))
    return corr
