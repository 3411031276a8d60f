"""The ``gvae`` decoder's density of one hit: the exact log-likelihood its reconstruction loss sums.

A hit (η, φ, log E[, channel]) in normalised units is drawn from a mixture of K' components (see
:meth:`~mlfastsim.models.gvae.GVAE.decode`): a Gaussian in position, and a log-energy Gaussian whose mean
falls with the distance from the component's centre and which is truncated at the zero-suppression threshold;
component 0 may be the detector's electronic noise, uniform over the window's cells. The sampler of
:mod:`mlfastsim.models.gvae_sampler` draws from the same density.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from mlfastsim.models.cellgraph import GRID, cell_indices, own_cells
from mlfastsim.models.halo_cells import halo_exclusion
from mlfastsim.models.nn import LOG_2PI

if TYPE_CHECKING:
    from mlfastsim.models.gvae import GVAEConfig

__all__ = [
    "MAX_SLOPE_DISTANCE",
    "cell_sides",
    "channels",
    "core_slots",
    "core_thresholds",
    "dequantise",
    "hit_cells",
    "hit_channels",
    "hit_log_likelihood",
    "log_window_area",
    "thresholds",
    "uniform_noise",
]

#: The energy slope acts up to u = ½|(x − μ)/σ|² = 18 (6 σ): beyond, a component's density is negligible,
#: and an unbounded shift overflows the truncation term in float32.
MAX_SLOPE_DISTANCE = 18.0


def channels(config: GVAEConfig) -> int:
    """Number of channels the mixture draws (1 unless the hits carry a channel feature)."""
    return config.n_channels if config.n_features > 3 else 1


def thresholds(config: GVAEConfig, like: Tensor) -> Tensor:
    """Each channel slot's zero suppression ``[n_ch]`` (normalised log E, dtype and device of ``like``): the
    lowest hit energy of its channel in the training data (``channel_min_log_energy``; the reference HCAL
    suppresses towers below 0.8 GeV, the ECAL crystals below 0.111 GeV), else ``min_log_energy`` for all."""
    n_ch = channels(config)
    values = tuple(config.channel_min_log_energy)
    return torch.tensor(values if len(values) == n_ch else (config.min_log_energy,) * n_ch,
                        dtype=like.dtype, device=like.device)  # fmt: skip


def core_thresholds(config: GVAEConfig, cores: Tensor) -> Tensor:
    """The zero suppression ``[k·m]`` (normalised log E) of cores ``[B, k·m]`` of m particles in the k channel
    slots, channel-major as the cores are laid out; each slot's :func:`thresholds`."""
    k = max(len(core_slots(config)), 1)
    return thresholds(config, cores)[:k].repeat_interleave(cores.shape[-1] // k)


def cell_sides(config: GVAEConfig) -> tuple[int, ...]:
    """Cell side in crystals of each channel the mixture draws (1: crystals; 5: HCAL towers); all crystals
    for models trained before cells had channel granularity (no ``channel_cells``)."""
    n_ch = channels(config)
    cells = tuple(config.channel_cells)
    return cells if len(cells) == n_ch else (1,) * n_ch


def core_slots(config: GVAEConfig) -> tuple[int, ...]:
    """Image channels of the slots that hold particles' cores (``models/particle_response.py``): the one slot
    (as the ECAL) of a single-channel model with particles, every slot of a multi-channel one whose config
    names them (``image_channels``; models trained before it have none: no cores); () without particles or
    without the cell grid."""
    if not (config.use_gen and config.pixel_scale[0] > 0):
        return ()
    if channels(config) == 1:
        return (1,)
    return tuple(config.image_channels) if len(config.image_channels) == channels(config) else ()


def hit_cells(x: Tensor, config: GVAEConfig) -> Tensor:
    """The cell ``[B, n]`` (int64) of every hit of ``x [B, n, F]``: ``(slot · GRID + row) · GRID + column`` on
    its channel slot's own grid (row · GRID + column with one channel), as the cores' cells are numbered."""
    row, col = cell_indices(x, config.pixel_scale, config.pixel_offset)
    ch = hit_channels(x, channels(config))
    row, col = own_cells(row, col, ch, cell_sides(config))
    return (ch * GRID + row) * GRID + col


def hit_channels(x: Tensor, n_ch: int) -> Tensor:
    """The channel slot ``[B, n]`` (int64) of hits ``x [B, n, F]``: the rounded channel feature, 0 with one."""
    if n_ch == 1:
        return torch.zeros(x.shape[:-1], dtype=torch.long, device=x.device)
    return x[..., 3].round().long().clamp(0, n_ch - 1)


def uniform_noise(config: GVAEConfig) -> bool:
    """True when component 0 is the uniform electronic noise (it needs the cell grid)."""
    return config.noise_component and config.pixel_scale[0] > 0


def log_window_area(config: GVAEConfig) -> float:
    """log of the window's area in normalised (η, φ) units: the uniform noise density is its negative."""
    return math.log(GRID / config.pixel_scale[0]) + math.log(GRID / config.pixel_scale[1])


def hit_log_likelihood(
    x: Tensor, params: dict[str, Tensor], config: GVAEConfig, hit_cell: Tensor | None = None
) -> Tensor:
    """log p(hit) (nats) of every hit of ``x [B, n, F]`` under the mixture ``params`` → ``[B, n]``.

    ``hit_cell [B, n]``: the hits' cells, to take the particles' core crystals out of their halos (when
    ``params`` has cores). Padded slots get a value too; the caller masks them.
    """
    n_ch = channels(config)
    diff = (x[..., None, :3] - params["mean"].unsqueeze(1)) * torch.exp(-params["log_std"]).unsqueeze(1)
    log_std = params["log_std"].unsqueeze(1)
    u = 0.5 * (diff[..., :2] ** 2).sum(-1)  # [B, n, K']
    position = -u - log_std[..., :2].sum(-1) - LOG_2PI
    if uniform_noise(config):
        # component 0: electronic noise, uniform over the window's cells, energy independent of position
        position = torch.cat(
            [torch.full_like(position[..., :1], -log_window_area(config)), position[..., 1:]], -1
        )
        u = torch.cat([torch.zeros_like(u[..., :1]), u[..., 1:]], -1)
    if hit_cell is not None and "core_cell" in params:
        slots = hit_channels(x, n_ch)
        ring = halo_exclusion(
            params, hit_cell, config.pixel_scale, config.pixel_offset, slots, cell_sides(config), config.halos
        )  # [B, n, halos·m]: the last components are the particles' halos
        m = ring.shape[-1]
        position = torch.cat([position[..., :-m], position[..., -m:] + ring], -1)
    shift = params["slope"].unsqueeze(1) * u.clamp(max=MAX_SLOPE_DISTANCE)  # in units of σ_E
    # energies are truncated at the hit's channel's zero-suppression threshold: the data have no hit below
    # it, and mass there would be drawn and thrown away, thinning the components whose hits are soft
    low = thresholds(config, x)[hit_channels(x, n_ch)]  # [B, n]
    inv_std = torch.exp(-params["log_std"][..., 2]).unsqueeze(1)
    above = (params["mean"][..., 2].unsqueeze(1) - low.unsqueeze(2)) * inv_std
    log_above = torch.special.log_ndtr(above + shift)
    energy = -0.5 * (diff[..., 2] - shift) ** 2 - log_std[..., 2] - 0.5 * LOG_2PI - log_above
    logp = position + energy + params["log_weights"].unsqueeze(1)
    if n_ch > 1:
        ch = x[..., 3].round().long().clamp(0, n_ch - 1)
        lp = params["channel_logp"].unsqueeze(1).expand(-1, x.shape[1], -1, -1)
        logp = logp + torch.gather(lp, 3, ch[..., None, None].expand(-1, -1, lp.shape[2], 1)).squeeze(-1)
    return torch.logsumexp(logp, -1)


def dequantise(x: Tensor, pixel_scale: tuple[float, float], sides: tuple[int, ...] = (1,)) -> Tensor:
    """Spread cell-centre positions of ``x [B, n, F]`` uniformly over their cell: a density, not spikes.

    ``sides``: cell side in crystals of each channel slot (an HCAL hit is spread over its 5 × 5-crystal
    tower). For training; draws from the global torch generator. Without a cell grid (scale ≤ 0) ``x`` is
    returned.
    """
    if pixel_scale[0] <= 0:
        return x
    noise = (torch.rand_like(x[..., :2]) - 0.5) / torch.tensor(pixel_scale, device=x.device, dtype=x.dtype)
    if any(side != 1 for side in sides):
        side = torch.tensor(sides, device=x.device, dtype=x.dtype)[hit_channels(x, len(sides))]
        noise = noise * side.unsqueeze(-1)
    return torch.cat([x[..., :2] + noise, x[..., 2:]], -1)
