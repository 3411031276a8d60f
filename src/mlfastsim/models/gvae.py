"""``gvae``: a graph VAE that really simulates — jets from the prior or from conditions, at thousands per second.

Encoder: per-hit MLP, two SAGE-style message-passing layers on the calorimeter's own neighbourhood
graph (the up to 8 hits in adjacent cells, found through a per-jet cell-index map in O(n) — no dense
n × n adjacency, no distance matrix), masked mean and max pooling, the number of hits and the
conditions → Gaussian posterior q(z | jet, c).

Decoder p(jet | z, c): a categorical distribution of the number of hits (0 … n_max) and a mixture of
K Gaussians in (η, φ, log E) (times a categorical over channels when there are several) from which the
hits are drawn. With generator-level particles, each particle also gets a core hit in the crystal it
strikes and a halo component around it (``models/particle_response.py``). The reconstruction loss is the
exact negative log-likelihood of the hit set under this model: it is invariant to the order of the hits
by construction, needs no matching or Chamfer approximation, is masked to real hits, and — being a
proper likelihood — makes the negative ELBO a principled anomaly score. Sampling draws hits on the
detector's cells without replacement (over-sample, keep the first hit in each cell no core holds), so
generated jets respect the one-hit-per-cell geometry, and sorts them by energy like the data. The density of
one hit is in ``models/gvae_likelihood.py``, the sampler in ``models/gvae_sampler.py``.

Conditions (normalised jet pT, η, mass) and an optional DeepSets embedding of the generator-level
particles enter encoder and decoder; during training each is replaced by a learned "null" vector with
probability ``cond_dropout``, so the same model also samples unconditionally.

Global component 0 is the detector's electronic noise: uniform over the window's cells (a Gaussian
cannot be flat), with its own energy spectrum and weight (``noise_component``).
Hits drawn below ``min_log_energy`` (the lowest hit energy of the training data, i.e. the zero
suppression threshold, in normalised units) are not kept, as the detector would not report them.
Positions are in the normaliser's units; ``pixel_scale``/``pixel_offset`` map them to cell indices (row =
rint(x · scale + offset)), set from the fitted normaliser; the φ window (2.2 rad) is not periodic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mlfastsim.models import particle_response as response
from mlfastsim.models.base import Batch
from mlfastsim.models.cellgraph import CellMessagePassing, cell_indices, channel_neighbours
from mlfastsim.models.condition_bank import ConditionBank
from mlfastsim.models.gvae_likelihood import (
    cell_sides,
    channels,
    core_slots,
    core_thresholds,
    dequantise,
    hit_cells,
    hit_channels,
    hit_log_likelihood,
)
from mlfastsim.models.gvae_prior import LatentFlow, aggregate_posterior, fit_latent_flow
from mlfastsim.models.gvae_sampler import draw_hits
from mlfastsim.models.nn import masked_max, masked_mean, mlp, reparameterise

__all__ = ["GVAE", "GVAEConfig"]


@dataclass(frozen=True)
class GVAEConfig:
    """Settings of ``gvae``. ``n_max``, ``n_features``, ``n_cond`` and the pixel map are set from the data."""

    n_max: int = 400
    n_features: int = 3
    n_cond: int = 0
    n_channels: int = 1
    channel_cells: tuple[int, ...] = ()  # cell side in crystals per channel (1 crystal, 5 HCAL tower)
    image_channels: tuple[int, ...] = ()  # each slot's image channel (0 tracks 1 ECAL 2 HCAL): its cores
    use_gen: bool = False
    gen_features: int = 9
    hidden: int = 32
    context: int = 128
    latent: int = 32
    components: int = 32
    message_passing: int = 2
    cond_dropout: float = 0.2
    beta_kl: float = 1.0
    free_bits: float = 0.1
    min_log_std: float = -4.0
    max_core_log_std: float = 1.0  # cores' log-energy σ ≤ e^this (normalised): their draws' tail
    max_core_excess: float | None = None  # cores' log-energy mean ≤ ln E_particle + this (particle_response)
    core_modes: int = 1  # log-energy modes per core: 2, a MIP or a shower's start (particle_response)
    anchor_hidden: tuple[int, ...] = ()  # hidden layers of the per-particle response network; () = (hidden,)
    halo_rings: bool = False  # 3 channels: each halo excludes its particle's core cells (1 channel: always)
    halos: int = 1  # halo components per particle: 2 adds a narrow ring around the core (particle_response)
    oversample: float = 2.0
    min_log_energy: float = -1e9
    channel_min_log_energy: tuple[float, ...] = ()  # per channel slot (the data's); () = min_log_energy
    noise_component: bool = True
    energy_norm: tuple[float, float] = (0.0, 0.0)
    pixel_scale: tuple[float, float] = (0.0, 0.0)
    pixel_offset: tuple[float, float] = (0.0, 0.0)
    # the prior of z: "normal" (N(0, 1)) or "flow" (a zuko flow p(z | context) fitted to the aggregate
    # posterior after training: models/gvae_prior.py), its kind ("maf" / "nsf"), size and fitting steps
    prior: str = "normal"
    prior_flow: str = "maf"
    prior_transforms: int = 3
    prior_hidden: int = 64
    prior_passes: int = 2  # 2: coupling transforms (fast to sample); 0: fully autoregressive
    prior_steps: int = 1000
    # scales the prior's standard-normal noise when sampling (< 1: fewer draws in the tails)
    prior_temperature: float = 1.0

    def batch_keys(self) -> frozenset[str]:
        """Hits, the jet conditions when conditional, the generator-level particles with ``use_gen``."""
        keys = {"features", "mask"} | ({"cond"} if self.n_cond else set())
        return frozenset(keys | ({"gen_features", "gen_mask"} if self.use_gen else set()))


class GVAE(ConditionBank):
    """Conditional graph VAE over calorimeter hits with a point-process decoder (see the module docstring)."""

    def __init__(self, config: GVAEConfig) -> None:
        super().__init__()
        self.config = c = config
        self.n_ch = channels(c)
        self.core_slots = core_slots(c)  # image channels of the slots holding particles' cores (or none)
        self.core_bounds = response.CoreBounds.of(c)
        h = c.hidden
        self.embed = mlp([c.n_features, h, h])
        self.mp = nn.ModuleList([CellMessagePassing(h) for _ in range(c.message_passing)])
        ctx_in = 0
        if c.n_cond:
            self.cond_net = mlp([c.n_cond, h, h])
            self.cond_null = nn.Parameter(torch.zeros(h))
            ctx_in += h
        if c.use_gen:
            self.gen_embed = mlp([c.gen_features, h, h])
            self.gen_net = mlp([2 * h, h, h])
            self.gen_null = nn.Parameter(torch.zeros(h))
            ctx_in += h
        self.ctx_in = ctx_in
        self.encoder_head = mlp([2 * h + 1 + ctx_in, c.context, c.context, 2 * c.latent])
        self.decoder = mlp([c.latent + ctx_in, c.context, c.context], last_activation=True)
        # the hit count depends on the conditions only, not on z: counts drawn with z from the prior were
        # biased low (6 % with particles) where the aggregate posterior and the prior differ
        self.count_head = (
            mlp([ctx_in, c.context, c.n_max + 1]) if ctx_in else nn.Linear(1, c.n_max + 1, bias=False)
        )
        per_component = 1 + 3 + 3 + 1 + (self.n_ch if self.n_ch > 1 else 0)
        self.mixture_head = nn.Linear(c.context, c.components * per_component)
        # training conditions, drawn for unconditional sampling: p(jet) = Σ p(c) p(jet | c)
        self._init_condition_bank(c.n_cond)
        if c.use_gen:
            # per generator-level particle: a core hit in the crystal it strikes and a halo component around
            # it, starting from particle_base (where it hits the ECAL, how much energy it brings); the
            # networks learn corrections: the detector's response
            self.n_core = response.core_width(c.core_modes) * max(len(self.core_slots), 1)  # per particle
            widths = [*(c.anchor_hidden or (h,)), self.n_core + c.halos * per_component]
            self.anchor_head = mlp([c.gen_features + c.context, *widths])
            self.anchor_position = nn.Linear(c.gen_features, 3)
            with torch.no_grad():  # small corrections at first (not zero: gradients must reach every layer)
                last = self.anchor_head[-1]
                assert isinstance(last, nn.Linear)
                for layer in (last, self.anchor_position):
                    layer.weight.mul_(0.01)
                    layer.bias.zero_()
        if c.prior not in ("normal", "flow") or c.prior_flow not in ("maf", "nsf"):
            raise ValueError(
                f"model.prior={c.prior!r}, model.prior_flow={c.prior_flow!r}: use normal|flow, maf|nsf"
            )
        # built last, so that the VAE's initial weights do not depend on the prior
        self.prior_flow = (
            LatentFlow(c.latent, ctx_in, "nsf" if c.prior_flow == "nsf" else "maf", c.prior_transforms,
                       c.prior_hidden, c.prior_passes)
            if c.prior == "flow" else None
        )  # fmt: skip

    # ---- context ------------------------------------------------------------------------------
    def prepare(self, data: Batch) -> None:
        """Store the training jets' (normalised) conditions ``data["cond"] [N, C]``; ``sample(n)`` without
        conditions draws from them (the empirical p(c)) instead of using the null condition."""
        self.store_conditions(data["cond"])

    def needs_conditions(self) -> bool:
        """False: without conditions, jet conditions come from the training bank (or the null condition)."""
        return False

    def _context(
        self, batch: Batch, b: int, device: torch.device, drop: bool, generator: torch.Generator | None = None
    ) -> tuple[Tensor | None, Tensor | None]:
        """The conditioning vector ``[B, ctx_in]`` (None when unconditional) and, with particles, a mask
        ``[B, m]`` of the particles that anchor mixture components (all False where they were dropped)."""
        c = self.config
        parts = []
        anchors = None
        # one coin per jet: with probability cond_dropout all conditions are dropped together (the
        # unconditional path), with the same probability only the particles (the kinematics-only path)
        keep = keep_gen = torch.ones(b, 1, dtype=torch.bool, device=device)
        if drop and c.cond_dropout > 0:
            u = torch.rand(b, 1, device=device, generator=generator)
            keep = u >= c.cond_dropout
            keep_gen = u >= 2 * c.cond_dropout if c.n_cond else keep
        if c.n_cond:
            cond = batch.get("cond")
            null = self.cond_null.expand(b, -1)
            if cond is None or cond.shape[-1] == 0:
                parts.append(null)
            else:
                parts.append(torch.where(keep, self.cond_net(cond), null))
        if c.use_gen:
            null = self.gen_null.expand(b, -1)
            if batch.get("gen_features") is None:
                parts.append(null)
            else:
                gm = batch["gen_mask"]
                g = self.gen_embed(batch["gen_features"]) * gm.unsqueeze(-1).to(null.dtype)
                emb = self.gen_net(torch.cat([masked_mean(g, gm), masked_max(g, gm)], -1))
                anchors = gm & keep_gen
                parts.append(torch.where(keep_gen, emb, null))
        return (torch.cat(parts, -1) if parts else None), anchors

    # ---- encoder / decoder --------------------------------------------------------------------
    def encode(self, batch: Batch, ctx: Tensor | None) -> tuple[Tensor, Tensor]:
        """Posterior ``(μ, log σ²)``, each ``[B, latent]``."""
        x, mask = batch["features"], batch["mask"]
        real = mask.any(0).nonzero()
        width = int(real.max()) + 1 if len(real) else 1
        x, mask = x[:, :width], mask[:, :width]  # slots padded in every jet do no work
        m = mask.unsqueeze(-1).to(x.dtype)
        h = self.embed(x * m) * m
        if self.mp:
            row, col = cell_indices(x, self.config.pixel_scale, self.config.pixel_offset)
            nb = (
                channel_neighbours(row, col, hit_channels(x, self.n_ch), mask, cell_sides(self.config))
                if self.config.pixel_scale[0] > 0
                else (torch.arange(x.shape[1], device=x.device).view(1, -1, 1).expand(x.shape[0], -1, 8))
            )
            for layer in self.mp:
                h = layer(h, nb, mask)
        n_hits = mask.sum(1, keepdim=True).to(x.dtype)
        pooled = [
            masked_mean(h, mask),
            masked_max(h, mask),
            torch.log1p(n_hits) / math.log(self.config.n_max + 1),
        ]
        if ctx is not None:
            pooled.append(ctx)
        mu, logvar = self.encoder_head(torch.cat(pooled, -1)).chunk(2, -1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(
        self, z: Tensor, ctx: Tensor | None, gen_features: Tensor | None = None, anchors: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Count logits ``[B, n_max+1]`` and mixture parameters: weights ``[B, K']``, means and log-stds
        ``[B, K', 3]`` and energy slopes ``[B, K']``, where K' = K global components plus, with particles,
        ``halos`` per particle ``[B, halos·m]`` (those not in ``anchors`` get zero weight); with particles in the
        ECAL-only configuration, or in every channel slot when the config names the slots' image channels,
        also the cores (``core_logit``, ``core_mean``, ``core_log_std``, a second mode's, ``core_cell``,
        ``core_owner``, each ``[B, k·m]`` for k slots; see ``models/particle_response.py``).

        A component's log-energy mean falls (never rises) with the hit's distance from its centre:
        log E ~ N(μ_E + slope · σ_E · u, σ_E) with u = ½ |(x − μ_x) / σ_x|² — a shower's core cell holds
        most of its energy, its halo little (with a diagonal Gaussian, energy and position would be
        independent). The density stays normalised: p(x) p(log E | x)."""
        c = self.config
        h = self.decoder(z if ctx is None else torch.cat([z, ctx], -1))
        p = self.mixture_head(h).view(z.shape[0], c.components, -1)
        core_params: dict[str, Tensor] = {}
        if c.use_gen and gen_features is not None and anchors is not None:
            per = torch.cat([gen_features, h.unsqueeze(1).expand(-1, gen_features.shape[1], -1)], -1)
            slots, k = self.core_slots, self.n_core
            core_base, halo_base = response.particle_base(
                gen_features, c.pixel_scale, c.pixel_offset, c.energy_norm, p.shape[-1], slots or (1,),
                c.core_modes, c.halos,
            )  # fmt: skip
            q = self.anchor_head(per)
            if slots:
                core_params = response.decode_cores(
                    q[..., :k], core_base, gen_features, anchors, slots, cell_sides(c), self.core_bounds
                )
            q = (q[..., k:] + halo_base).unflatten(-1, (c.halos, -1))  # [B, m, halos, per component]
            q = torch.cat([q[..., :1].masked_fill(~anchors[..., None, None], -1e9),
                           q[..., 1:4] + self.anchor_position(gen_features).unsqueeze(2), q[..., 4:]], -1)  # fmt: skip
            p = torch.cat([p, q.transpose(1, 2).flatten(1, 2)], 1)  # halo-major: [B, K + halos·m, ·]
        out = {
            "count_logits": self.count_head(ctx if ctx is not None else torch.ones_like(z[:, :1])),
            "log_weights": torch.log_softmax(p[..., 0], -1),
            "mean": p[..., 1:4],
            "log_std": p[..., 4:7].clamp(c.min_log_std, 3.0),
            # energy may only fall away from a component's centre (bounded: |shift| ≤ 5 σ_E · 18); a rising
            # slope sent the far draws of briefly trained models to absurd energies
            "slope": -5.0 * torch.sigmoid(p[..., 7] - 3.0),
        }
        out.update(core_params)
        if self.n_ch > 1:
            out["channel_logp"] = torch.log_softmax(p[..., 8 : 8 + self.n_ch], -1)
        return out

    def _neg_elbo(self, batch: Batch, stochastic: bool) -> dict[str, Tensor]:
        x, mask = batch["features"], batch["mask"]
        b = len(x)
        ctx, anchors = self._context(batch, b, x.device, drop=stochastic and self.training)
        mu, logvar = self.encode(batch, ctx)
        z = reparameterise(mu, logvar) if stochastic else mu
        params = self.decode(z, ctx, batch.get("gen_features"), anchors)
        n = mask.sum(1)
        rest, nll_cores = mask, torch.zeros(b, device=x.device, dtype=x.dtype)
        hit_cell = None
        if "core_logit" in params:  # hits in the particles' impact cells are their cores
            hit_cell = hit_cells(x, self.config)
            core_hit, is_core = response.match_core_hits(
                hit_cell, mask, params["core_cell"], params["core_owner"]
            )
            low = core_thresholds(self.config, params["core_logit"])
            nll_cores = -response.core_log_likelihood(x[..., 2], core_hit, params["core_owner"], params, low)
            rest = mask & ~is_core
        xq = dequantise(x, self.config.pixel_scale, cell_sides(self.config)) if self.training else x
        rings = hit_cell if self.n_ch == 1 or self.config.halo_rings else None  # halos around their cores
        ll = hit_log_likelihood(xq, params, self.config, rings)
        nll_hits = -(ll * rest.to(ll.dtype)).sum(1) + nll_cores
        nll_count = F.cross_entropy(params["count_logits"], rest.sum(1), reduction="none")
        kl_dims = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
        return {
            "nll_hits": nll_hits,
            "nll_count": nll_count,
            "kl": kl_dims.sum(1),
            "kl_dims": kl_dims,
            "n": n.to(x.dtype),
        }

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """Negative ELBO per hit (nats): (hit NLL + count NLL + β KL) summed over the batch / hits. The KL term of
        each latent dimension is held at ``free_bits`` nats at least (Kingma et al. 2016), so the decoder cannot
        ignore z; the logged ``kl`` and :meth:`score` use the true KL."""
        t = self._neg_elbo(batch, stochastic=True)
        hits = t["n"].sum().clamp_min(1.0)
        # free bits: no pressure below `free_bits` nats per latent dimension (batch mean), against collapse
        kl_dims = t["kl_dims"].mean(0)
        kl_term = torch.maximum(kl_dims, torch.full_like(kl_dims, self.config.free_bits)).sum() * len(t["n"])
        total = ((t["nll_hits"] + t["nll_count"]).sum() + self.config.beta_kl * kl_term) / hits
        return {
            "loss": total,
            "nll_hits": t["nll_hits"].sum() / hits,
            "nll_count": t["nll_count"].mean(),
            "kl": t["kl"].mean(),
        }

    def score(self, batch: Batch) -> Tensor:
        """Anomaly score: negative ELBO per jet ``[B]`` (nats) at the posterior mean of the hits alone, on the null
        context ``cond_dropout`` trains (with none: the full context); a jet's own particles explain it away."""
        hits = {k: batch[k] for k in ("features", "mask")} if self.config.cond_dropout else batch
        t = self._neg_elbo(hits, stochastic=False)
        return t["nll_hits"] + t["nll_count"] + t["kl"]

    # ---- generation (the sampler: models/gvae_sampler.py) -----------------------------------
    def sample(self, n: int, cond: Batch | None = None, generator: torch.Generator | None = None) -> Batch:
        """Generate ``n`` jets from the prior, conditioned on ``cond["cond"] [n, C]`` and/or the particles
        ``cond["gen_features"]``/``["gen_mask"]`` when given. Without ``"cond"``, jet conditions are drawn from
        the stored training conditions (returned as ``matched_cond [n, C]``, normalised, so that the jets'
        kinematics are known) or, without a bank, replaced by the learned null condition."""
        dev = next(self.parameters()).device
        batch: Batch = {k: v.to(dev) for k, v in (cond or {}).items()}
        drawn = None
        if "cond" not in batch and self.config.n_cond and len(self.condition_bank):
            drawn = batch["cond"] = self.draw_conditions(n, generator, "no training conditions")
        ctx, anchors = self._context(batch, n, dev, drop=False)
        z = self.latent(torch.randn(n, self.config.latent, generator=generator, device=dev), ctx)
        params = self.decode(z, ctx, batch.get("gen_features"), anchors)
        n_hits = torch.multinomial(params["count_logits"].softmax(-1), 1, generator=generator).squeeze(1)
        out = draw_hits(params, n_hits, self.config, generator)
        if drawn is not None:
            out["matched_cond"] = drawn
        return out

    def latent(self, noise: Tensor, ctx: Tensor | None) -> Tensor:
        """z ``[B, L]`` from standard normals ``noise [B, L]``: ``noise`` itself under the normal prior, its image
        under the flow prior given the context ``ctx [B, ctx_in]`` (deterministic: the noise is drawn outside)."""
        noise = noise * self.config.prior_temperature if self.config.prior_temperature != 1.0 else noise
        if self.prior_flow is None:
            return noise
        if not bool(self.prior_flow.fitted):
            raise ValueError("the flow prior is not fitted yet: it is fitted when 'mlfastsim train' finishes")
        return self.prior_flow(noise, ctx)

    def fit_second_stage(self, data: Batch, seed: int) -> dict[str, float]:
        """Fit the flow prior to the trained encoder's aggregate posterior on ``data`` (the training split),
        after training (:class:`~mlfastsim.models.base.SecondStage`); nothing to fit under the normal prior."""
        if self.prior_flow is None:
            return {}
        mu, logvar, ctx = aggregate_posterior(self, data)
        return fit_latent_flow(self.prior_flow, mu, logvar, ctx, self.config.prior_steps, seed)

    def pure_sampler(self, mode: Literal["conditioned", "prior"]) -> nn.Module:
        """:meth:`sample` for export (:class:`~mlfastsim.models.base.Exportable`): noise in as tensors, static
        sizes (``models/gvae_export.py``)."""
        from mlfastsim.models.gvae_export import GVAESampler

        return GVAESampler(self, mode)

    def reconstruct(self, batch: Batch) -> Batch:
        """Encode, decode the posterior mean and draw as many hits as the input has (seeded, reproducible)."""
        x = batch["features"]
        ctx, anchors = self._context(batch, len(x), x.device, drop=False)
        gen = torch.Generator(device=x.device).manual_seed(0)
        params = self.decode(self.encode(batch, ctx)[0], ctx, batch.get("gen_features"), anchors)
        return draw_hits(params, batch["mask"].sum(1), self.config, gen, total=True)
