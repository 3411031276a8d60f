"""The ``gvae`` sampler: hits drawn from the decoder's mixture onto the detector's cells.

Draws follow the density of :mod:`mlfastsim.models.gvae_likelihood` (energy slope, truncation at the
zero-suppression threshold, uniform noise component). The cells are filled without replacement: the mixture
is over-sampled, the first draw in each cell that no particle's core holds is kept, hits below the threshold
are dropped, and the first ``n_hits`` survivors are returned sorted by decreasing energy, like the data.
Every random number comes from the ``generator`` given, in a fixed order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from mlfastsim.models.base import Batch
from mlfastsim.models.cellgraph import GRID, cell_indices, centre_crystals, own_cells
from mlfastsim.models.export_nn import categorical_from_uniform, truncated_normal_from_uniform
from mlfastsim.models.gvae_likelihood import (
    MAX_SLOPE_DISTANCE,
    cell_sides,
    channels,
    core_thresholds,
    thresholds,
    uniform_noise,
)
from mlfastsim.models.halo_cells import halo_core_mass
from mlfastsim.models.nn import batched_take
from mlfastsim.models.particle_response import cores_from_uniforms

if TYPE_CHECKING:
    from mlfastsim.models.gvae import GVAEConfig

#: ``sample`` draws in at most GROUPS groups of jets of similar hit counts, of MIN_GROUP jets at least.
GROUPS, MIN_GROUP = 8, 16

__all__ = ["core_hits", "draw_hits", "mixture_from_noise", "mixture_noise", "sampling_logits", "select_hits"]


def _cell_centres(cells: Tensor, config: GVAEConfig, dtype: torch.dtype) -> Tensor:
    """Normalised (η, φ) of the centres of cells ``[..., 2]`` (row, column)."""
    dev = cells.device
    scale = torch.tensor(config.pixel_scale, device=dev, dtype=dtype)
    return (cells.to(dtype) - torch.tensor(config.pixel_offset, device=dev, dtype=dtype)) / scale


def core_hits(
    params: dict[str, Tensor], config: GVAEConfig, coin: Tensor, u_energy: Tensor
) -> tuple[tuple[Tensor, Tensor], Tensor]:
    """The particles' cores from uniforms ``coin``, ``u_energy`` ``[B, k·m]`` (k channel slots): (hits
    ``[B, k·m, F]`` at their cells' centres — a tower's: its middle crystal — with their channel feature when
    there are several, present ``[B, k·m]``) and their cells ``[B, k·m]`` (−2: none)."""
    core_e, present = cores_from_uniforms(params, core_thresholds(config, coin), coin, u_energy)
    cell = params["core_cell"].clamp_min(0)  # (slot · GRID + row) · GRID + column
    slot = torch.div(cell, GRID * GRID, rounding_mode="floor")
    row, col = centre_crystals(torch.div(cell, GRID, rounding_mode="floor") % GRID, cell % GRID, slot,
                               cell_sides(config))  # fmt: skip
    feats = [_cell_centres(torch.stack([row, col], -1), config, core_e.dtype), core_e.unsqueeze(-1)]
    if channels(config) > 1:
        feats.append(slot.unsqueeze(-1).to(core_e.dtype))
    core_cell = torch.where(present, params["core_cell"], -2)
    return (torch.cat(feats, -1), present), core_cell


def mixture_noise(
    b: int, m: int, generator: torch.Generator | None, device: torch.device
) -> dict[str, Tensor]:
    """The noise of ``m`` mixture draws per jet: uniforms ``u_comp``, ``u_trunc``, ``u_ch`` ``[B, m]``,
    ``u_cell [B, m, 2]`` and normals ``eps [B, m, 3]``, from ``generator`` in a fixed order."""
    u = torch.rand(b, m, 5, generator=generator, device=device)
    eps = torch.randn(b, m, 3, generator=generator, device=device)
    return {"u_comp": u[..., 0], "u_trunc": u[..., 1], "u_ch": u[..., 2], "u_cell": u[..., 3:], "eps": eps}


def _categorical(log_probs: Tensor, u: Tensor, exportable: bool) -> Tensor:
    """:func:`~mlfastsim.models.export_nn.categorical_from_uniform` (``log_probs [..., K]``, ``u [..., M]``
    → int64 ``[..., M]``); outside export by a binary search of the CDF (the same categories: the number
    of CDF entries below u) instead of the ``[..., M, K]`` comparison, O(M log K) instead of O(M K)."""
    if exportable:
        return categorical_from_uniform(log_probs, u)
    return torch.searchsorted(_cdf(log_probs), u.contiguous()).clamp_max(log_probs.shape[-1] - 1)


def _cdf(log_probs: Tensor) -> Tensor:
    """The cumulative distribution ``[..., K]`` of (unnormalised) log probabilities ``[..., K]``."""
    return torch.cumsum(torch.exp(log_probs - torch.logsumexp(log_probs, -1, keepdim=True)), -1)


def _truncated_normal(low: Tensor, u: Tensor, exportable: bool) -> Tensor:
    """:func:`~mlfastsim.models.export_nn.truncated_normal_from_uniform` (z ≥ ``low`` from uniforms ``u``);
    outside export with torch's native Φ, log Φ and Φ⁻¹ in float64 (agreeing to ~1e-9), and beyond
    low = 37, where Φ(−low) underflows, low + Exp(1)/low (as :func:`mlfastsim.models.nn.truncated_normal`)."""
    if exportable:
        return truncated_normal_from_uniform(low, u)
    a, v = low.double().clamp(-40.0, 60.0), u.double().clamp(0.0, 1.0 - 1e-7)
    log_q = torch.log1p(-v) + torch.special.log_ndtr(-a)
    z = -torch.special.ndtri(torch.exp(log_q).clamp_min(1e-308))
    z = torch.where(a > 37.0, a - torch.log1p(-v) / a.clamp_min(37.0), z)
    return torch.maximum(z, a).to(low.dtype)


def sampling_logits(params: dict[str, Tensor], config: GVAEConfig) -> tuple[Tensor, Tensor]:
    """The log-weights of the components ``[B, K']`` and of their channels ``[B, K', C]`` that the sampler
    draws from: the model's, except where the halos are rings (one channel, or ``halo_rings`` in several),
    where a halo's pair (component k, channel s) is drawn 1/(1 − P_ks) times as often, P_ks its mass in its
    particle's core cell of channel s (:func:`~mlfastsim.models.halo_cells.halo_core_mass`). Those draws are
    thrown away (:func:`_one_per_cell`), so the kept ones follow the likelihood's truncated halos, each pair
    with its weight w_k c_ks; without the boost a hadron's halo in the HCAL, whose own tower is 5 × 5
    crystals, lost that share of its hits to the other components (tt̄ in the README: 28.4 towers per jet,
    29.5 with it; data 31.3)."""
    log_w, ch_logp = params["log_weights"], params.get("channel_logp", params["log_weights"][..., None])
    rings = (
        channels(config) == 1 or config.halo_rings
    )  # one channel: always rings (the likelihood's, gvae.py)
    if not rings or "core_cell" not in params:
        return log_w, ch_logp
    boost = halo_core_mass(params, config.pixel_scale, config.pixel_offset, cell_sides(config), config.halos)
    h = boost.shape[1]  # the halos: the last components (one channel: ch_logp [B, K', 1], its softmax 0)
    halo_ch = torch.log_softmax(ch_logp[:, -h:], -1) + boost
    log_w = torch.cat([log_w[:, :-h], log_w[:, -h:] + torch.logsumexp(halo_ch, -1)], 1)
    return log_w, torch.cat([ch_logp[:, :-h], halo_ch], 1)


def mixture_from_noise(
    params: dict[str, Tensor], config: GVAEConfig, noise: dict[str, Tensor], exportable: bool = True
) -> tuple[Tensor, Tensor, Tensor]:
    """Draws from the mixture given :func:`mixture_noise`: hits ``[B, m, F]``, their components and channels
    ``[B, m]`` — inverse CDFs only (no multinomial, no RNG), so that export traces it; ``exportable=False``
    (``sample``): the same draws through torch's native searches and special functions, several times faster."""
    noise_comp, n_ch = uniform_noise(config), channels(config)
    log_weights, channel_logp = sampling_logits(params, config)
    comp = _categorical(log_weights, noise["u_comp"], exportable)
    mean = batched_take(params["mean"], comp)
    std = batched_take(params["log_std"], comp).exp()
    eps = noise["eps"]
    slope = batched_take(params["slope"], comp)
    if noise_comp:
        slope = slope.masked_fill(comp == 0, 0.0)
    shift = slope * (0.5 * (eps[..., :2] ** 2).sum(-1)).clamp(max=MAX_SLOPE_DISTANCE)  # falls off
    ch = torch.zeros_like(comp)
    if n_ch > 1:  # the channel first: its threshold truncates the energy
        if exportable:
            logp = torch.gather(channel_logp, 1, comp.unsqueeze(-1).expand(-1, -1, n_ch))
            ch = categorical_from_uniform(logp, noise["u_ch"].unsqueeze(-1)).squeeze(-1)
        else:  # the same CDF per component, taken once per component instead of once per draw
            cdf = _cdf(channel_logp)[..., :-1]
            cdf = torch.gather(cdf, 1, comp.unsqueeze(-1).expand(-1, -1, n_ch - 1))
            ch = (cdf < noise["u_ch"].unsqueeze(-1)).sum(-1)
    # log E above the draw's channel's zero-suppression threshold, as in the likelihood
    low = (thresholds(config, mean)[ch] - mean[..., 2]) / std[..., 2] - shift
    e_energy = shift + _truncated_normal(low, noise["u_trunc"], exportable)
    x = mean + std * torch.cat([eps[..., :2], e_energy.unsqueeze(-1)], -1)
    if noise_comp:
        cells = torch.floor(noise["u_cell"] * GRID).long().clamp(0, GRID - 1)
        uniform = _cell_centres(cells, config, x.dtype)
        x = torch.cat([torch.where((comp == 0).unsqueeze(-1), uniform, x[..., :2]), x[..., 2:]], -1)
    feats = [x] + ([ch.unsqueeze(-1).to(x.dtype)] if n_ch > 1 else [])
    return torch.cat(feats, -1), comp, ch


def _one_per_cell(
    x: Tensor,
    comp: Tensor,
    ch: Tensor,
    params: dict[str, Tensor],
    core_cell: Tensor | None,
    config: GVAEConfig,
) -> tuple[Tensor, Tensor]:
    """Which draws ``[B, m]`` a detector reports: the first in each cell of its channel (a crystal; an HCAL
    tower) inside the window, none where a particle's core is or in a halo's own core crystal; and ``x``
    with its positions snapped to the centres of those cells."""
    b, m = comp.shape
    dev = x.device
    row, col = cell_indices(x, config.pixel_scale, config.pixel_offset)
    inside = (row >= 0) & (row < GRID) & (col >= 0) & (col < GRID)
    sides = cell_sides(config)
    row, col = own_cells(row, col, ch, sides)  # cells on each channel's own grid
    draw = torch.arange(m, device=dev)
    cell = torch.where(inside, (ch * GRID + row) * GRID + col, -1 - draw)
    # one hit per cell, the first drawn there (a draw of the model's p(E | cell)) ... (cell · m + draw is
    # unique: any sort keeps the draws' order within a cell, as exporters' sorts need not be stable)
    sorted_key, order = torch.sort(cell * m + draw, dim=1)
    sorted_cell = torch.div(sorted_key, m, rounding_mode="floor")
    first_sorted = torch.cat([torch.ones_like(sorted_cell[:, :1], dtype=torch.bool),
                              sorted_cell[:, 1:] != sorted_cell[:, :-1]], 1)  # fmt: skip
    keep = torch.zeros_like(first_sorted).scatter(1, order, first_sorted) & inside
    if core_cell is not None:  # ... none where a particle's core is, none in a halo's own core crystal
        cells = len(sides) * GRID * GRID  # the last entry: no cell
        spot = torch.where(core_cell >= 0, core_cell, cells)
        taken = torch.zeros(b, cells + 1, dtype=torch.bool, device=dev).scatter(1, spot, core_cell >= 0)
        keep = keep & ~torch.gather(taken, 1, torch.where(inside, cell, cells))
        if len(sides) == 1 or config.halo_rings:  # as the likelihood: no halo draw in its own core cells
            m_part = params["core_cell"].shape[1] // len(sides)
            n_global = params["mean"].shape[1] - config.halos * m_part  # then the halos, halo-major
            owned = torch.where(params["core_owner"], params["core_cell"], -2)
            slot = ch if len(sides) > 1 else torch.zeros_like(ch)
            own = torch.gather(owned, 1, slot * m_part + (comp - n_global).clamp_min(0) % m_part)
            keep = keep & ~((comp >= n_global) & (cell == own))
    # snap to the cell centre, as the detector reports it (a tower's centre: its middle crystal)
    row, col = centre_crystals(row, col, ch, sides)
    snapped = torch.stack([(row.to(x.dtype) - config.pixel_offset[0]) / config.pixel_scale[0],
                           (col.to(x.dtype) - config.pixel_offset[1]) / config.pixel_scale[1]], -1)  # fmt: skip
    return keep, torch.cat([snapped, x[..., 2:]], -1)


def draw_hits(
    params: dict[str, Tensor],
    n_hits: Tensor,
    config: GVAEConfig,
    generator: torch.Generator | None,
    total: bool = False,
) -> Batch:
    """Draw the particles' cores (when ``params`` has them) and ``n_hits [B]`` further hits from the mixture.

    Args:
        params: the decoder's output (:meth:`~mlfastsim.models.gvae.GVAE.decode`).
        n_hits: int64 ``[B]`` hits per jet; with ``total``, the cores count towards it.
        config: the model's settings (cell grid, threshold, ``oversample``, ``n_max``).
        generator: the source of every random number.

    Returns:
        ``features [B, n_max, F]`` (normalised units, padded slots zero) and ``mask [B, n_max]``: one hit per
        cell, by decreasing energy, in the first slots.
    """
    b, dev = len(n_hits), n_hits.device
    core_feats = core_cell = None
    if "core_logit" in params:
        logit = params["core_logit"]
        u = torch.rand((2, *logit.shape), generator=generator, device=dev, dtype=logit.dtype)
        core_feats, core_cell = core_hits(params, config, u[0], u[1])
        if total:
            n_hits = (n_hits - core_feats[1].sum(1)).clamp_min(0)
    # jets in groups of similar hit counts (at most GROUPS), each drawing for its own largest jet: a batch's
    # largest jet no longer sets the draws of all (3 channels: counts from ~100 to n_max)
    order = torch.argsort(n_hits)
    outs, parts = [], order.split(max(MIN_GROUP, -(-b // GROUPS))) if b else (order,)
    for idx in parts:
        sub = {k: v.index_select(0, idx) for k, v in params.items()}
        cores = None if core_feats is None else (core_feats[0][idx], core_feats[1][idx])
        cells = None if core_cell is None else core_cell[idx]
        most = int(n_hits[idx].max()) if len(idx) else 0
        m = max(round(most * config.oversample), most, 1)  # draws per jet, for the group's largest jet
        noise = mixture_noise(len(idx), m, generator, dev)
        x, comp, ch = mixture_from_noise(sub, config, noise, exportable=False)
        outs.append(select_hits(sub, config, x, comp, ch, n_hits[idx], cores, cells))
    back = torch.argsort(torch.cat(parts))  # the jets back in their order
    return {k: torch.cat([o[k] for o in outs]).index_select(0, back) for k in ("features", "mask")}


def select_hits(
    params: dict[str, Tensor],
    config: GVAEConfig,
    x: Tensor,
    comp: Tensor,
    ch: Tensor,
    n_hits: Tensor,
    core_feats: tuple[Tensor, Tensor] | None,
    core_cell: Tensor | None,
) -> Batch:
    """The hits a detector reports from the mixture draws ``x [B, m, F]`` (components, channels ``[B, m]``)
    and the cores (:func:`draw_hits`'s output; deterministic)."""
    b, m = comp.shape
    keep = torch.ones(b, m, dtype=torch.bool, device=x.device)
    if config.pixel_scale[0] > 0:
        keep, x = _one_per_cell(x, comp, ch, params, core_cell, config)
    keep = keep & (x[..., 2] >= thresholds(config, x)[ch])  # each channel's zero suppression, as in the data
    keep = keep & (torch.cumsum(keep.long(), 1) <= n_hits.unsqueeze(1))  # the first n_hits cells drawn
    if core_feats is not None:
        x = torch.cat([core_feats[0], x], 1)
        keep = torch.cat([core_feats[1], keep], 1)
    # the kept hits, by decreasing energy, into the first slots
    key = torch.where(keep, x[..., 2], torch.full_like(x[..., 2], -torch.inf))
    top = torch.topk(key, min(config.n_max, x.shape[1]), dim=1).indices
    out = batched_take(x, top)
    mask = torch.gather(keep, 1, top)
    if out.shape[1] < config.n_max:  # back to n_max slots
        out = F.pad(out, (0, 0, 0, config.n_max - out.shape[1]))
        mask = F.pad(mask, (0, config.n_max - mask.shape[1]))
    return {"features": out * mask.unsqueeze(-1).to(out.dtype), "mask": mask}
