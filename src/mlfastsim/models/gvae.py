"""``gvae``: a graph VAE that really simulates — jets from the prior or from conditions, at thousands per second.

Encoder: per-hit MLP, two SAGE-style message-passing layers on the calorimeter's own neighbourhood
graph (the up to 8 hits in adjacent cells, found through a per-jet cell-index map in O(n) — no dense
n × n adjacency, no distance matrix), masked mean and max pooling, the number of hits and the
conditions → Gaussian posterior q(z | jet, c).

Decoder p(jet | z, c): a categorical distribution of the number of hits (0 … n_max), optionally
(``total_energy``) a log-normal distribution of the jet's total hit energy to which the drawn shower hits
are scaled, and a mixture
of K Gaussians in (η, φ, log E) (times a categorical over channels when there are several) from which
the hits are drawn. The reconstruction loss is the exact negative log-likelihood of the hit set under
this point process: it is invariant to the order of the hits by construction, needs no matching or
Chamfer approximation, is masked to real hits, and — being a proper likelihood — makes the negative
ELBO a principled anomaly score. Sampling draws hits on the detector's cells without replacement
(over-sample, keep the first hit in each cell), so generated jets respect the one-hit-per-cell
geometry, and sorts them by energy like the data.

Conditions (normalised jet pT, η, mass) and an optional DeepSets embedding of the generator-level
particles enter encoder and decoder; during training each is replaced by a learned "null" vector with
probability ``cond_dropout``, so the same model also samples unconditionally.

Global component 0 is the detector's electronic noise: uniform over the window's cells (a Gaussian
cannot be flat), with its own energy spectrum and weight (``noise_component``).
Hits drawn below ``min_log_energy`` (the lowest hit energy of the training data, i.e. the zero
suppression threshold, in normalised units) are not kept, as the detector would not report them.
Positions are in the normaliser's units; ``pixel_scale``/``pixel_offset`` map them to cell indices
(row = rint(x · scale + offset)), set from the fitted normaliser when a run is trained. The φ window
of a jet image (2.2 rad) is not periodic, so no wrapping is applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mlfastsim.models.base import Batch
from mlfastsim.models.cellgraph import GRID, CellMessagePassing, cell_indices, cell_neighbours
from mlfastsim.models.nn import LOG_2PI, masked_max, masked_mean, mlp, reparameterise

__all__ = ["GVAE", "GVAEConfig"]


@dataclass(frozen=True)
class GVAEConfig:
    """Settings of ``gvae``. ``n_max``, ``n_features``, ``n_cond`` and the pixel map are set from the data."""

    n_max: int = 400
    n_features: int = 3
    n_cond: int = 0
    n_channels: int = 1
    use_gen: bool = False
    gen_features: int = 5
    hidden: int = 32
    context: int = 128
    latent: int = 32
    components: int = 32
    message_passing: int = 2
    cond_dropout: float = 0.2
    beta_kl: float = 1.0
    free_bits: float = 0.1
    min_log_std: float = -4.0
    oversample: float = 2.0
    min_log_energy: float = -1e9
    noise_component: bool = True
    energy_norm: tuple[float, float] = (0.0, 0.0)
    total_energy: bool = False
    pixel_scale: tuple[float, float] = (0.0, 0.0)
    pixel_offset: tuple[float, float] = (0.0, 0.0)


class GVAE(nn.Module):
    """Conditional graph VAE over calorimeter hits with a point-process decoder (see the module docstring)."""

    def __init__(self, config: GVAEConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.n_ch = c.n_channels if c.n_features > 3 else 1
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
        self.count_head = nn.Linear(c.context, c.n_max + 1)
        # the jet's total hit energy, log-normal (mean, log std): sampled hits are scaled to it
        self._total_energy = c.total_energy and c.energy_norm[1] > 0
        if self._total_energy:
            self.total_head = nn.Linear(c.context, 2)
        per_component = 1 + 3 + 3 + (self.n_ch if self.n_ch > 1 else 0)
        self.mixture_head = nn.Linear(c.context, c.components * per_component)
        self._uniform_noise = c.noise_component and c.pixel_scale[0] > 0
        self._log_window_area = (
            math.log(GRID / c.pixel_scale[0]) + math.log(GRID / c.pixel_scale[1])
            if self._uniform_noise
            else 0.0
        )
        # training conditions, drawn for unconditional sampling: p(jet) = Σ p(c) p(jet | c)
        self.condition_bank: Tensor
        self.register_buffer("condition_bank", torch.zeros(0, c.n_cond))
        if c.use_gen:
            # one mixture component per generator-level particle, placed near it (the detector response)
            self.anchor_head = mlp([c.gen_features + c.context, h, per_component])
            self.anchor_position = nn.Linear(c.gen_features, 3)

    # ---- context ------------------------------------------------------------------------------
    def set_condition_bank(self, cond: Tensor) -> None:
        """Store the training jets' (normalised) conditions ``[N, C]``; ``sample(n)`` without conditions draws
        from them (the empirical p(c)) instead of using the null condition."""
        self.condition_bank = cond.detach().to(self.condition_bank.device, torch.float32).clone()

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        key = prefix + "condition_bank"
        if key in state_dict:
            self.condition_bank = torch.empty_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def unconditional_ok(self) -> bool:
        """True: with ``cond=None`` the learned null condition is used."""
        return True

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
                cell_neighbours(row, col, mask)
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
        ``[B, K', 3]``, where K' = K global components plus, with particles, one component per particle
        ``[B, m]`` anchored at it (those not in ``anchors`` get zero weight)."""
        c = self.config
        h = self.decoder(z if ctx is None else torch.cat([z, ctx], -1))
        p = self.mixture_head(h).view(len(z), c.components, -1)
        if c.use_gen and gen_features is not None and anchors is not None:
            per = torch.cat([gen_features, h.unsqueeze(1).expand(-1, gen_features.shape[1], -1)], -1)
            q = self.anchor_head(per)
            q = torch.cat([q[..., :1], q[..., 1:4] + self.anchor_position(gen_features), q[..., 4:]], -1)
            q = torch.cat([q[..., :1].masked_fill(~anchors.unsqueeze(-1), -1e9), q[..., 1:]], -1)
            p = torch.cat([p, q], 1)
        out = {
            "count_logits": self.count_head(h),
            "log_weights": torch.log_softmax(p[..., 0], -1),
            "mean": p[..., 1:4],
            "log_std": p[..., 4:7].clamp(c.min_log_std, 3.0),
        }
        if self._total_energy:
            out["log_total"] = self.total_head(h)
        if self.n_ch > 1:
            out["channel_logp"] = torch.log_softmax(p[..., 7 : 7 + self.n_ch], -1)
        return out

    # ---- likelihood ---------------------------------------------------------------------------
    def _hit_log_likelihood(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        """log p(hit) of every hit ``[B, n]`` under the mixture."""
        diff = (x[..., None, :3] - params["mean"].unsqueeze(1)) * torch.exp(-params["log_std"]).unsqueeze(1)
        log_std = params["log_std"].unsqueeze(1)
        position = -0.5 * (diff[..., :2] ** 2).sum(-1) - log_std[..., :2].sum(-1) - LOG_2PI
        if self._uniform_noise:
            # component 0: electronic noise, uniform over the window's cells
            position = torch.cat(
                [torch.full_like(position[..., :1], -self._log_window_area), position[..., 1:]], -1
            )
        energy = -0.5 * diff[..., 2] ** 2 - log_std[..., 2] - 0.5 * LOG_2PI
        logp = position + energy + params["log_weights"].unsqueeze(1)
        if self.n_ch > 1:
            ch = x[..., 3].round().long().clamp(0, self.n_ch - 1)
            lp = params["channel_logp"].unsqueeze(1).expand(-1, x.shape[1], -1, -1)
            logp = logp + torch.gather(lp, 3, ch[..., None, None].expand(-1, -1, lp.shape[2], 1)).squeeze(-1)
        return torch.logsumexp(logp, -1)

    def _dequantise(self, x: Tensor) -> Tensor:
        """Spread cell-centre positions uniformly over their cell (training only): a density, not spikes."""
        scale = self.config.pixel_scale
        if scale[0] <= 0 or not self.training:
            return x
        noise = (torch.rand_like(x[..., :2]) - 0.5) / torch.tensor(scale, device=x.device, dtype=x.dtype)
        return torch.cat([x[..., :2] + noise, x[..., 2:]], -1)

    def _log_total_energy(self, log_e: Tensor, mask: Tensor) -> Tensor:
        """log(Σ E / GeV) of the real hits ``[B]``, from normalised log energies ``[B, n]``."""
        mean, std = self.config.energy_norm
        log_gev = (log_e * std + mean).masked_fill(~mask, -torch.inf)
        return torch.logsumexp(log_gev, 1).clamp_min(-30.0)

    def _neg_elbo(self, batch: Batch, stochastic: bool) -> dict[str, Tensor]:
        x, mask = batch["features"], batch["mask"]
        b = len(x)
        ctx, anchors = self._context(batch, b, x.device, drop=stochastic and self.training)
        mu, logvar = self.encode(batch, ctx)
        z = reparameterise(mu, logvar) if stochastic else mu
        params = self.decode(z, ctx, batch.get("gen_features"), anchors)
        ll = self._hit_log_likelihood(self._dequantise(x), params)
        nll_hits = -(ll * mask.to(ll.dtype)).sum(1)
        n = mask.sum(1)
        nll_count = F.cross_entropy(params["count_logits"], n, reduction="none")
        nll_total = torch.zeros_like(nll_count)
        if self._total_energy:
            mean, log_std = params["log_total"].unbind(-1)
            log_std = log_std.clamp(-5.0, 3.0)
            log_total = self._log_total_energy(x[..., 2], mask)
            nll_total = 0.5 * ((log_total - mean) / log_std.exp()) ** 2 + log_std + 0.5 * LOG_2PI
        kl_dims = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
        return {
            "nll_hits": nll_hits,
            "nll_count": nll_count,
            "nll_total": nll_total,
            "kl": kl_dims.sum(1),
            "kl_dims": kl_dims,
            "n": n.to(x.dtype),
        }

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """Negative ELBO per hit (nats): (hit NLL + count NLL + β KL) summed over the batch / hits.

        The KL term of each latent dimension is held at ``free_bits`` nats at least (Kingma et al. 2016),
        so the decoder cannot ignore z; the logged ``kl`` and :meth:`score` use the true KL.
        """
        t = self._neg_elbo(batch, stochastic=True)
        hits = t["n"].sum().clamp_min(1.0)
        # free bits: no pressure below `free_bits` nats per latent dimension (batch mean), against collapse
        kl_dims = t["kl_dims"].mean(0)
        kl_term = torch.maximum(kl_dims, torch.full_like(kl_dims, self.config.free_bits)).sum() * len(t["n"])
        total = (
            (t["nll_hits"] + t["nll_count"] + t["nll_total"]).sum() + self.config.beta_kl * kl_term
        ) / hits
        return {
            "loss": total,
            "nll_hits": t["nll_hits"].sum() / hits,
            "nll_count": t["nll_count"].mean(),
            "nll_total": t["nll_total"].mean(),
            "kl": t["kl"].mean(),
        }

    def score(self, batch: Batch) -> Tensor:
        """Anomaly score: negative ELBO per jet ``[B]`` (nats), at the posterior mean."""
        t = self._neg_elbo(batch, stochastic=False)
        return t["nll_hits"] + t["nll_count"] + t["nll_total"] + t["kl"]

    # ---- generation ---------------------------------------------------------------------------
    def _draw_hits(
        self,
        params: dict[str, Tensor],
        n_hits: Tensor,
        generator: torch.Generator | None,
        log_total: Tensor | None = None,
    ) -> Batch:
        """Draw ``n_hits [B]`` hits per jet from the mixture, one per cell, sorted by decreasing energy."""
        c = self.config
        b, dev = len(n_hits), n_hits.device
        most = int(n_hits.max()) if len(n_hits) else 0
        m = max(round(most * c.oversample), most, 1)  # draws per jet, for the largest jet of the batch
        comp = torch.multinomial(params["log_weights"].exp(), m, replacement=True, generator=generator)
        idx = comp.unsqueeze(-1).expand(-1, -1, 3)
        mean = torch.gather(params["mean"], 1, idx)
        std = torch.gather(params["log_std"], 1, idx).exp()
        x = mean + std * torch.randn(mean.shape, generator=generator, device=dev, dtype=mean.dtype)
        if self._uniform_noise:
            cells = torch.randint(GRID, (b, m, 2), generator=generator, device=dev).to(x.dtype)
            scale = torch.tensor(c.pixel_scale, device=dev, dtype=x.dtype)
            uniform = (cells - torch.tensor(c.pixel_offset, device=dev, dtype=x.dtype)) / scale
            x = torch.cat([torch.where((comp == 0).unsqueeze(-1), uniform, x[..., :2]), x[..., 2:]], -1)
        feats = [x]
        ch = torch.zeros(b, m, dtype=torch.long, device=dev)
        if self.n_ch > 1:
            probs = torch.gather(
                params["channel_logp"], 1, comp.unsqueeze(-1).expand(-1, -1, self.n_ch)
            ).exp()
            ch = torch.multinomial(probs.view(-1, self.n_ch), 1, generator=generator).view(b, m)
            feats.append(ch.unsqueeze(-1).to(x.dtype))
        x = torch.cat(feats, -1)
        keep = torch.ones(b, m, dtype=torch.bool, device=dev)
        if c.pixel_scale[0] > 0:
            row, col = cell_indices(x, c.pixel_scale, c.pixel_offset)
            inside = (row >= 0) & (row < GRID) & (col >= 0) & (col < GRID)
            cell = torch.where(inside, (ch * GRID + row) * GRID + col, -1 - torch.arange(m, device=dev))
            sorted_cell, order = torch.sort(cell, dim=1, stable=True)
            first_sorted = torch.ones_like(sorted_cell, dtype=torch.bool)
            first_sorted[:, 1:] = sorted_cell[:, 1:] != sorted_cell[:, :-1]
            first = torch.zeros_like(first_sorted).scatter(1, order, first_sorted)
            keep = first & inside
            # snap to the cell centre, as the detector reports it
            x[..., 0] = (row.to(x.dtype) - c.pixel_offset[0]) / c.pixel_scale[0]
            x[..., 1] = (col.to(x.dtype) - c.pixel_offset[1]) / c.pixel_scale[1]
        keep = keep & (x[..., 2] >= c.min_log_energy)  # zero suppression, as in the data
        rank = torch.cumsum(keep.long(), 1)
        keep = keep & (rank <= n_hits.unsqueeze(1))
        # the kept hits, by decreasing energy, into the first slots
        key = torch.where(keep, x[..., 2], torch.full_like(x[..., 2], -torch.inf))
        top = torch.topk(key, min(c.n_max, m), dim=1).indices
        out = torch.gather(x, 1, top.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        mask = torch.gather(keep, 1, top)
        if out.shape[1] < c.n_max:  # back to n_max slots
            out = F.pad(out, (0, 0, 0, c.n_max - out.shape[1]))
            mask = F.pad(mask, (0, c.n_max - mask.shape[1]))
            top = F.pad(top, (0, c.n_max - top.shape[1]))
        if log_total is not None and self._total_energy:
            # scale the shower hits (not the electronic noise) so that the sum of all hits is the jet's
            # total energy, drawn from its own distribution
            noise = torch.gather(comp == 0, 1, top) & mask if self._uniform_noise else torch.zeros_like(mask)
            e_noise = self._log_total_energy(out[..., 2], noise).exp() * noise.any(1)
            e_shower = self._log_total_energy(out[..., 2], mask & ~noise)
            wanted = torch.log((log_total.exp() - e_noise).clamp_min(1e-3))
            shift = torch.where((mask & ~noise).any(1), (wanted - e_shower) / c.energy_norm[1], 0.0)
            scaled = out[..., 2:3] + shift[:, None, None] * (~noise).unsqueeze(-1)
            out = torch.cat([out[..., :2], scaled, out[..., 3:]], -1)
        return {"features": out * mask.unsqueeze(-1).to(out.dtype), "mask": mask}

    def sample(
        self, n: int, cond: Tensor | None = None, generator: torch.Generator | None = None, **kwargs: Tensor
    ) -> Batch:
        """Generate ``n`` jets from the prior, conditioned on ``cond [n, C]`` (and ``gen_features``/``gen_mask``
        when given), or unconditionally (learned null conditions) when they are None."""
        dev = next(self.parameters()).device
        batch: Batch = dict(kwargs)
        if cond is not None:
            batch["cond"] = cond.to(dev)
        elif self.config.n_cond and len(self.condition_bank):
            pick = torch.randint(len(self.condition_bank), (n,), generator=generator, device=dev)
            batch["cond"] = self.condition_bank[pick]
        ctx, anchors = self._context(batch, n, dev, drop=False)
        z = torch.randn(n, self.config.latent, generator=generator, device=dev)
        params = self.decode(z, ctx, batch.get("gen_features"), anchors)
        n_hits = torch.multinomial(params["count_logits"].softmax(-1), 1, generator=generator).squeeze(1)
        log_total = None
        if self._total_energy:
            mean, log_std = params["log_total"].unbind(-1)
            eps = torch.randn(mean.shape, generator=generator, device=dev, dtype=mean.dtype)
            log_total = mean + log_std.clamp(-5.0, 3.0).exp() * eps
        return self._draw_hits(params, n_hits, generator, log_total)

    def reconstruct(self, batch: Batch) -> Batch:
        """Encode, decode the posterior mean and draw as many hits as the input has (seeded, reproducible)."""
        x = batch["features"]
        ctx, anchors = self._context(batch, len(x), x.device, drop=False)
        mu, _ = self.encode(batch, ctx)
        gen = torch.Generator(device=x.device).manual_seed(0)
        params = self.decode(mu, ctx, batch.get("gen_features"), anchors)
        log_total = params["log_total"][:, 0] if self._total_energy else None
        return self._draw_hits(params, batch["mask"].sum(1), gen, log_total)
