"""The detector's response to each generator-level particle, for the particle-conditioned ``gvae``.

Each particle gets a "core" — the hit in the crystal it strikes — and a "halo" mixture component around
it; :func:`particle_base` gives both their starting parameters, which the networks then correct.

An EM particle puts about three quarters of its energy into the one ECAL crystal it hits (the reference
ECAL's crystals are about one Molière radius wide); a charged hadron leaves a MIP there. A point process
with i.i.d. hits cannot say "exactly one hit in this cell": a Gaussian component centred on the cell also
spreads draws over its neighbours, and a broad component's soft draws land in the cell too. So the model
treats the impact cells apart: each particle's impact cell holds a hit with probability σ(logit), with a
log-normal energy, and every other hit comes from the mixture. When several particles hit one cell, the
most energetic of them owns it (the others' deposits merge into its hit).

The likelihood stays exact under this model: the hit found in a particle's impact cell is its core, an
empty impact cell is a core that was not there (no deposit, or one below the zero-suppression threshold).

A core's log energy is one normal, or (``core_modes = 2``) a mixture of two: measured on the reference
ECAL, a hadron's crystal holds a MIP or an early shower's start, and an EM core sits at 0.76 E with a long
lower tail (impacts near a crystal's edge); one normal fitted to either widens, and its upper side drew too
much energy into the hottest crystal.

With several channels (tracks, ECAL, HCAL hits, each on its own cells) every particle has a core in each
channel's cell at its impact point: the track pixel of a charged particle (found with the tracker's
efficiency, its pT smeared by the resolution: one hit, not a spread), its ECAL crystal and its HCAL tower.
Cores are then laid out channel-major, ``[B, k·m]`` for k channel slots, and a cell is identified by
``(slot · GRID + row) · GRID + column`` on the slot's own grid (:func:`mlfastsim.models.cellgraph.own_cells`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from mlfastsim.data.representations import GEN_FEATURE_NAMES
from mlfastsim.models.cellgraph import GRID
from mlfastsim.models.export_nn import truncated_normal_from_uniform
from mlfastsim.models.nn import LOG_2PI
from mlfastsim.physics.detector.geometry import CRYSTAL_DETA, CRYSTAL_DPHI

if TYPE_CHECKING:
    from mlfastsim.models.gvae import GVAEConfig

__all__ = [
    "CoreBounds",
    "core_cells",
    "core_log_likelihood",
    "core_width",
    "cores_from_uniforms",
    "decode_cores",
    "match_core_hits",
    "particle_base",
]

#: Starting values (training adapts them): the share of an EM particle's energy in the crystal it hits
#: (76 % in the reference simulation), the energy of each of its halo hits as a share of its energy, a
#: MIP's energy in 23 cm of PbWO4 (GeV), and the halo's width σ in cells.
EM_CORE_FRACTION = 0.75
EM_HALO_FRACTION = 0.02
MIP_ENERGY = 0.235
HALO_WIDTH_CELLS = 1.0
HADRON_HALO_WIDTH_CELLS = 2.0
HADRON_HALO_FRACTION = 0.03
#: Starting values of a particle's second halo (``halos = 2``): a ring on the crystals around its core, this wide
#: (cells) with hits of this share of its energy — an EM shower's lateral leakage into the neighbours of the
#: crystal it hits (measured: 4 hits of 1.3 GeV per crystal above 5 GeV, the first halo gave 3.5 of 1 GeV).
RING_WIDTH_CELLS = 0.7
RING_FRACTION = 0.05
#: The ring draws ECAL hits only (its other channels' logits start e⁻³⁰ down): the leakage of an EM shower into the
#: crystals around its core (an HCAL tower is 5 crystals wide).
RING_OFF_CHANNEL_LOGIT = -30.0
#: Starting values of the other channels' cores: a charged particle's track is found with ≈ 90 % probability
#: (the tracker's efficiency above 1 GeV, PHYSICS.md §1) with its pT to a few per cent; a hadron leaves about
#: half its energy in the HCAL tower it enters (EM particles own no HCAL core: their showers end in the ECAL).
TRACK_CORE_LOGIT = 2.2
TRACK_CORE_LOG_STD = math.log(0.1)
HCAL_CORE_FRACTION = 0.5
#: Image channels (the data's ``channels``): tracks' pT, ECAL, HCAL.
TRACKS, ECAL, HCAL = 0, 1, 2

_ETA, _PHI, _LOG_E, _LOG_PT, _REACHES, _CHARGE, _IS_EM = (
    GEN_FEATURE_NAMES.index(n)
    for n in ("eta_ecal_rel", "phi_ecal_rel", "log_e", "log_pt", "reaches_ecal", "charge", "is_em")
)
#: β of the softplus that keeps core means below their bound (normalised units): 0.006 off at 0.7 below it.
_BOUND_SHARPNESS = 5.0
#: Starting values of a core's second mode (``core_modes = 2``): its share of the particle's energy (tracks:
#: of the pT) per image channel, hadron / EM for the ECAL; its log-energy σ (normalised); the mode's weight logit.
SECOND_MODE_FRACTION = {TRACKS: 1.0, HCAL: 0.15}
SECOND_MODE_ECAL_FRACTION = (0.1, 0.3)
SECOND_MODE_LOG_STD = math.log(0.5)
SECOND_MODE_LOGIT = -2.0


def core_width(modes: int) -> int:
    """Numbers per core and channel slot: (logit, mean, log σ), and with a second mode its (mean, log σ,
    weight logit)."""
    if modes not in (1, 2):
        raise ValueError(f"model.core_modes={modes}: use 1 or 2 (log-energy modes per core)")
    return 3 * modes


def particle_base(
    gen: Tensor,
    pixel_scale: tuple[float, float],
    pixel_offset: tuple[float, float],
    energy_norm: tuple[float, float],
    per_component: int,
    core_channels: tuple[int, ...] = (ECAL,),
    modes: int = 1,
    halos: int = 1,
) -> tuple[Tensor, Tensor]:
    """Starting parameters of the particles ``gen [B, m, G]``, in the model's normalised units.

    Returns ``core [B, m, k, 3·modes]`` = (logit of a hit in the impact cell, mean and log std of its log energy;
    with two modes the second's mean, log std and weight logit, :data:`SECOND_MODE_FRACTION`) in each
    of the k image channels ``core_channels`` (the data's channel slots; one slot is treated as the ECAL, as in the
    ECAL-only model) and ``halo [B, m, halos · per_component]`` = per halo a mixture component's (weight logit,
    mean (x, y, log E), log std (x, y, log E), energy slope, …). An EM particle's ECAL core holds
    :data:`EM_CORE_FRACTION` of its energy with a sharp spread; a hadron's starts at a MIP (:data:`MIP_ENERGY`).
    A track core starts at the particle's pT (:data:`TRACK_CORE_LOGIT`), an HCAL core at
    :data:`HCAL_CORE_FRACTION` of a hadron's energy. The halo is centred on the impact point,
    :data:`HALO_WIDTH_CELLS` wide (:data:`HADRON_HALO_WIDTH_CELLS` for hadrons), with weight ∝ E and hits of
    :data:`EM_HALO_FRACTION` (:data:`HADRON_HALO_FRACTION`) of the particle's energy; a second halo is a ring
    :data:`RING_WIDTH_CELLS` wide with hits of :data:`RING_FRACTION`, in the ECAL alone. Particles that do not
    reach the ECAL (curling in the field) start with weights e⁻⁵. Entries that need the pixel map or the energy
    scale stay 0 where those are not set (a model not yet fitted to data).
    """
    f = {name: gen[..., i] for i, name in enumerate(GEN_FEATURE_NAMES)}
    zero = torch.zeros_like(f["log_e"])
    weight = -5.0 * (1.0 - f["reaches_ecal"])
    position, log_width = [zero, zero], [zero, zero]
    if pixel_scale[0] > 0:
        for axis, (name, size) in enumerate((("eta_ecal_rel", CRYSTAL_DETA), ("phi_ecal_rel", CRYSTAL_DPHI))):
            cells = f[name] / size + GRID // 2
            position[axis] = (cells - pixel_offset[axis]) / pixel_scale[axis]
            width = torch.where(f["is_em"] > 0.5, HALO_WIDTH_CELLS, HADRON_HALO_WIDTH_CELLS)
            log_width[axis] = torch.log(width / pixel_scale[axis])
    em = f["is_em"] > 0.5
    mean, std = energy_norm if energy_norm[1] > 0 else (0.0, 0.0)
    cores = []
    for channel in core_channels if len(core_channels) > 1 else (ECAL,):
        core_mean = core_log_std = zero
        logit = weight
        if channel == TRACKS:
            logit = weight + TRACK_CORE_LOGIT
            if std > 0:
                core_mean, core_log_std = (f["log_pt"] - mean) / std, zero + TRACK_CORE_LOG_STD
        elif channel == HCAL:
            if std > 0:
                core_mean = (f["log_e"] + math.log(HCAL_CORE_FRACTION) - mean) / std
        elif std > 0:
            core_mean = (
                torch.where(em, f["log_e"] + math.log(EM_CORE_FRACTION), math.log(MIP_ENERGY)) - mean
            ) / std
            core_log_std = torch.where(em, math.log(0.3), 0.0)
        columns = [logit, core_mean, core_log_std]
        if modes == 2:
            second = zero
            if std > 0:
                had, em_share = (math.log(v) for v in SECOND_MODE_ECAL_FRACTION)
                log_share = (
                    torch.where(em, em_share, had) if channel == ECAL
                    else zero + math.log(SECOND_MODE_FRACTION[channel])
                )  # fmt: skip
                second = (f["log_pt" if channel == TRACKS else "log_e"] + log_share - mean) / std
            columns += [second, zero + SECOND_MODE_LOG_STD, zero + SECOND_MODE_LOGIT]
        cores.append(torch.stack(columns, -1))
    # built column by column (no in-place writes: export traces it with a dynamic batch)
    core = torch.stack(cores, -2)
    halo_weight = weight + f["log_e"].clamp(-3.0, 5.0)  # more energy, more halo hits
    halo = []
    for ring in range(halos):
        halo_energy = zero
        if std > 0:
            share = torch.where(em, EM_HALO_FRACTION, HADRON_HALO_FRACTION).log() if not ring else None
            halo_energy = (f["log_e"] + (math.log(RING_FRACTION) if share is None else share) - mean) / std
        widths = log_width if not ring or pixel_scale[0] <= 0 else [
            zero + math.log(RING_WIDTH_CELLS / pixel_scale[axis]) for axis in (0, 1)]  # fmt: skip
        columns = [halo_weight, *position, halo_energy, *widths]
        columns += [zero] * (per_component - len(columns))  # the slope, the channels' logits
        if ring and len(core_channels) > 1 and ECAL in core_channels:  # the ring is in the ECAL alone
            off = [0.0 if channel == ECAL else RING_OFF_CHANNEL_LOGIT for channel in core_channels]
            columns[-len(core_channels) :] = [zero + logit for logit in off]
        halo.append(torch.stack(columns, -1))
    return core, torch.cat(halo, -1)


def core_cells(
    gen: Tensor, anchors: Tensor, core_channels: tuple[int, ...] = (ECAL,), sides: tuple[int, ...] = (1,)
) -> tuple[Tensor, Tensor]:
    """Impact cells ``[B, k·m]`` (``(slot · GRID + row) · GRID + column`` on each slot's own grid, int64;
    row · GRID + column with one slot) of the particles ``gen [B, m, G]`` in each of the k channel slots
    (image channels ``core_channels``, cell sides ``sides``), channel-major, and which particles own a
    core there ``[B, k·m]``: in ``anchors``, reaching the ECAL inside the window (charged for tracks, hadrons
    for HCAL towers), and the most energetic particle in their cell (ties: the first)."""
    half = GRID // 2
    row = torch.round(gen[..., _ETA] / CRYSTAL_DETA + half).long()
    col = torch.round(gen[..., _PHI] / CRYSTAL_DPHI + half).long()
    inside = (row >= 0) & (row < GRID) & (col >= 0) & (col < GRID)
    valid = anchors & inside & (gen[..., _REACHES] > 0.5)
    if len(core_channels) > 1:
        cells, valids = [], []
        for slot, (channel, side) in enumerate(zip(core_channels, sides, strict=True)):
            cells.append((slot * GRID + torch.div(row, side, rounding_mode="floor")) * GRID
                         + torch.div(col, side, rounding_mode="floor"))  # fmt: skip
            if channel == TRACKS:  # tracks of charged particles, towers of hadrons
                valids.append(valid & (gen[..., _CHARGE] != 0))
            else:
                valids.append(valid & (gen[..., _IS_EM] < 0.5) if channel == HCAL else valid)
        row_col, valid = torch.cat(cells, 1), torch.cat(valids, 1)
    else:
        row_col = row * GRID + col
    cell = torch.where(valid, row_col, -1)
    log_e = gen[..., _LOG_E].repeat(1, len(core_channels))
    m = cell.shape[1]
    same = (cell.unsqueeze(2) == cell.unsqueeze(1)) & valid.unsqueeze(2) & valid.unsqueeze(1)
    earlier = torch.ones(m, m, dtype=torch.bool, device=gen.device).tril(-1)  # j < i
    beaten = (log_e.unsqueeze(1) > log_e.unsqueeze(2)) | (
        (log_e.unsqueeze(1) == log_e.unsqueeze(2)) & earlier
    )
    owner = valid & ~(same & beaten).any(2)
    return cell, owner


def match_core_hits(hit_cell: Tensor, hit_mask: Tensor, cell: Tensor, owner: Tensor) -> tuple[Tensor, Tensor]:
    """The hits ``[B, n]`` (cells ``hit_cell``, real where ``hit_mask``) that are particles' cores.

    Returns ``core_hit [B, m, n]`` (bool: hit k is particle j's core; at most one per particle, since
    hits lie on distinct cells) and ``is_core [B, n]``.
    """
    core_hit = (cell.unsqueeze(2) == hit_cell.unsqueeze(1)) & owner.unsqueeze(2) & hit_mask.unsqueeze(1)
    return core_hit, core_hit.any(1)


def core_log_likelihood(
    log_e: Tensor,
    core_hit: Tensor,
    owner: Tensor,
    params: dict[str, Tensor],
    min_log_energy: float | Tensor = -1e9,
) -> Tensor:
    """log p of the cores ``[B]``: for each owning particle, a hit in its cell (with its normalised log
    energy from ``log_e [B, n]``) with probability σ(``core_logit``), or none.

    The energy is a normal in log E truncated to the zero-suppression threshold ``min_log_energy`` (a float,
    or each core's ``[k·m]``: its channel's; the detector reports no hit below it), so that drawing cores adds
    no second, unlearned loss of hits.
    ``params`` holds ``core_logit``, ``core_mean`` and ``core_log_std``, each ``[B, m]``; with two modes also
    ``core_mean2``, ``core_log_std2`` and ``core_mode_logit`` (σ of it: the second mode's weight).
    """
    present = core_hit.any(2)
    energy = (core_hit.to(log_e.dtype) * log_e.unsqueeze(1)).sum(2)
    lp_energy = _truncated_log_normal(energy, params["core_mean"], params["core_log_std"], min_log_energy)
    if "core_mode_logit" in params:
        w = params["core_mode_logit"]
        second = _truncated_log_normal(energy, params["core_mean2"], params["core_log_std2"], min_log_energy)
        lp_energy = torch.logaddexp(F.logsigmoid(-w) + lp_energy, F.logsigmoid(w) + second)
    logit = params["core_logit"]
    lp = torch.where(present, F.logsigmoid(logit) + lp_energy, F.logsigmoid(-logit))
    return (lp * owner.to(lp.dtype)).sum(1)


def _truncated_log_normal(x: Tensor, mean: Tensor, log_std: Tensor, low: float | Tensor) -> Tensor:
    """log density of ``x`` under N(mean, e^log_std) truncated to x ≥ ``low`` (elementwise)."""
    inv_std = torch.exp(-log_std)
    z = (x - mean) * inv_std
    return -0.5 * z**2 - log_std - 0.5 * LOG_2PI - torch.special.log_ndtr((mean - low) * inv_std)


def cores_from_uniforms(
    params: dict[str, Tensor], min_log_energy: float | Tensor, coin: Tensor, u_energy: Tensor
) -> tuple[Tensor, Tensor]:
    """Draw the cores from uniforms ``coin``, ``u_energy`` ``[B, k·m]`` in [0, 1): normalised log energies
    ``[B, k·m]`` (the normal truncated at ``min_log_energy``, by its inverse CDF — exportable:
    :func:`~mlfastsim.models.export_nn.truncated_normal_from_uniform`) and ``present [B, k·m]`` (owner and
    a σ(logit) coin). Their cells are ``params["core_cell"]``. With two modes the one uniform picks the mode
    (u ≥ 1 − w: the second) and, rescaled to [0, 1) within it, the energy: exact, and no further noise."""
    logit, mean, std = params["core_logit"], params["core_mean"], params["core_log_std"].exp()
    u = u_energy
    if "core_mode_logit" in params:
        w = torch.sigmoid(params["core_mode_logit"])
        second = u >= 1.0 - w
        u = torch.where(second, (u - (1.0 - w)) / w.clamp_min(1e-12), u / (1.0 - w).clamp_min(1e-12))
        mean = torch.where(second, params["core_mean2"], mean)
        std = torch.where(second, params["core_log_std2"].exp(), std)
    energy = mean + std * truncated_normal_from_uniform((min_log_energy - mean) / std, u.clamp(0.0, 1.0))
    return energy, params["core_owner"] & (coin < torch.sigmoid(logit))


@dataclass(frozen=True)
class CoreBounds:
    """Limits on the cores' log-energy normals (normalised units; ``energy_norm`` = (mean, std) of ln E):
    log σ in [``min_log_std``, ``max_log_std``], and the mean below ln(E_particle) + ``max_excess`` (ln pT
    for tracks; smoothly, :func:`decode_cores`). A core's mean far above its particle's energy, or a wide
    log-normal's upper tail, drew cores of 10²–10⁵ × the particle's energy; ``max_excess = None``: no bound."""

    min_log_std: float
    max_log_std: float
    max_excess: float | None
    energy_norm: tuple[float, float]

    @classmethod
    def of(cls, config: GVAEConfig) -> CoreBounds:
        """From a ``GVAEConfig`` (its ``min_log_std``, ``max_core_log_std``, ``max_core_excess``, ``energy_norm``)."""
        return cls(config.min_log_std, config.max_core_log_std, config.max_core_excess, config.energy_norm)

    def mean_bound(self, gen: Tensor, slots: tuple[int, ...]) -> Tensor | None:
        """Upper bounds ``[B, k·m]`` of the core means of the particles ``gen [B, m, G]`` in the k slots (None:
        unbounded, or no energy scale yet)."""
        mean, std = self.energy_norm
        if self.max_excess is None or std <= 0:
            return None
        per = [gen[..., _LOG_PT if channel == TRACKS else _LOG_E] for channel in slots]
        return (torch.cat(per, 1) + self.max_excess - mean) / std


def decode_cores(
    q: Tensor, base: Tensor, gen: Tensor, anchors: Tensor, slots: tuple[int, ...], sides: tuple[int, ...],
    bounds: CoreBounds,
) -> dict[str, Tensor]:  # fmt: skip
    """The cores' parameters from the networks' corrections ``q [B, m, k·3·modes]`` to :func:`particle_base`'s
    ``base [B, m, k, 3·modes]``: ``core_logit``, ``core_mean`` (below ``bounds.mean_bound`` by a sharp softplus,
    so that means well below it are unchanged), ``core_log_std`` (clamped), with two modes ``core_mean2``,
    ``core_log_std2`` (bounded alike) and ``core_mode_logit``, and ``core_cell``, ``core_owner``
    (:func:`core_cells`), each channel-major ``[B, k·m]``."""
    cores = (q.unflatten(-1, base.shape[-2:]) + base).transpose(1, 2).flatten(1, 2)
    cell, owner = core_cells(gen, anchors, slots, sides)
    top = bounds.mean_bound(gen, slots)

    def bounded(mean: Tensor) -> Tensor:
        return mean if top is None else top - F.softplus(top - mean, beta=_BOUND_SHARPNESS)

    out = {
        "core_logit": cores[..., 0],
        "core_mean": bounded(cores[..., 1]),
        "core_log_std": cores[..., 2].clamp(bounds.min_log_std, bounds.max_log_std),
        "core_cell": cell,
        "core_owner": owner,
    }
    if cores.shape[-1] == 6:
        out["core_mean2"] = bounded(cores[..., 3])
        out["core_log_std2"] = cores[..., 4].clamp(bounds.min_log_std, bounds.max_log_std)
        out["core_mode_logit"] = cores[..., 5]
    return out
