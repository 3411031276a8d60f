"""``particle-vae``: seed 003's particle-cloud VAE for jets, in both of its paradigms from one code path.

Seed 003 (Touranakou, Orzari, Pierini, Tomei, Gunopulos, Kansal, Duarte, Vlimant, "Particle-based fast jet
simulation at the LHC with variational autoencoders"): a VAE on jets as sets of constituents, trained with
the β-weighted loss

    L = β·KL + (1 − β)·[Chamfer + λ_m·Δm² + λ_pT·ΔpT²],

used either as a *generator* (decoder driven from the prior: "collision simulation") or as an end-to-end
*detector parametrisation* (generator-level constituents in, detector-level constituents out).

Here (``mode``): ``generation``: q(z | jet, c), p(jet | z, c) with jet conditions c (``cond``) or none;
sampling draws z from the prior and, for a conditional model asked for ``sample(n)`` alone, c from a bank of
training conditions (``matched_cond``). ``detector``: the context is the generator-level jet (its own encoder,
its exact relative pT and mass); a per-particle branch starts from each generator-level particle and learns
its response; the jet response (standardised log pT_reco / pT_gen, a Gaussian mixture given z and the
context, or given the context and the generated constituents: ``response_given``) is generated too:
relative constituents cannot carry the jet's energy scale.

Architecture: a permutation-invariant encoder (pT-sorted particles into an MLP, or DeepSets) gives μ, log σ²
of z; the prior is a normalising flow p(z | context) trained with the KL term (as seed 003's ConVAE+NF); the
decoder is an MLP on [z, context] giving all ``n_particles`` slots at once, a multiplicity head (the first n
slots are kept) and, in detector mode, the response head. Samples are clamped into training's ranges.

Loss per jet, batch-averaged: β·KL + (1 − β)·[Chamfer + λ_m Δm² + λ_pT ΔpT² + λ_n CE(n) (+ λ_r NLL(r))
(+ λ_EMD EMD)] (+ (1 − β)·λ_dist·D in generation mode, D comparing prior draws with the batch): each term and
its weight in :class:`ParticleVAEConfig`, the terms themselves in :mod:`.particle_vae_nn`, the reasons in
docs/models.md. KL is analytic for N(0, 1), a one-sample estimate for learned priors.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mlfastsim._utils import InputError
from mlfastsim.models.base import Batch
from mlfastsim.models.condition_bank import ConditionBank
from mlfastsim.models.flow_prior import FlowPrior
from mlfastsim.models.jet_response import (
    Mixture,
    mixture_draw,
    mixture_mean,
    mixture_nll,
    mixture_params,
    mixture_width,
)
from mlfastsim.models.nn import LOG_2PI, gaussian_kl, mlp
from mlfastsim.models.particle_vae_config import ParticleVAEConfig
from mlfastsim.models.particle_vae_nn import (
    MixturePrior,
    SetEncoder,
    SortedEncoder,
    chamfer,
    count_w1,
    distribution_w1,
    efp_distance,
    gen_slots_as_reco,
    into_latent_range,
    jet_emd,
    jet_observables,
    jet_observables_chunked,
    reflect_jets,
    widen_latent_range,
)

__all__ = ["ParticleVAE", "ParticleVAEConfig"]

#: Lower bound of the spreads that Δm and ΔpT are divided by (relative units): jets whose constituents sum
#: to the jet's pT almost exactly (few particles, all kept) would otherwise blow the pT term up.
SCALE_FLOOR = 0.01


class ParticleVAE(ConditionBank):
    """Seed 003's particle-cloud VAE (see the module docstring); a GenerativeModel, ReconstructingModel,
    ScoringModel and Prepared model of :mod:`mlfastsim.models.base`."""

    def __init__(self, config: ParticleVAEConfig) -> None:
        super().__init__()
        self.config = c = config
        p, f, d = c.n_particles, c.n_features, c.decoder_hidden
        self.detector = c.mode == "detector"
        ctx = 0
        if c.n_cond:
            self.cond_net = mlp([c.n_cond, c.context, c.context], last_activation=True)
            ctx += c.context
        if self.detector:
            self.gen_encoder: SetEncoder | SortedEncoder
            fg = f + c.n_gen_types
            if c.encoder == "sorted":
                self.gen_encoder = SortedEncoder(c.gen_slots, fg, c.encoder_hidden, c.context)
            else:
                self.gen_encoder = SetEncoder(fg, c.hidden, c.context)
            ctx += c.context + 2  # and log pT, log m of the gen jet (relative), computed exactly
        self.ctx_dim = ctx
        self.encoder: SetEncoder | SortedEncoder
        if c.encoder == "sorted":
            self.encoder = SortedEncoder(p, f, c.encoder_hidden, 2 * c.latent, extra=ctx)
        else:
            self.encoder = SetEncoder(f, c.hidden, 2 * c.latent, extra=ctx)
        self.trunk = mlp([c.latent + ctx] + [d] * c.decoder_layers, last_activation=True)
        self.particle_head = nn.Linear(d, p * f)
        self.count_head = nn.Linear(d, p + 1)
        if self.detector:
            n_mix = mixture_width(c.response_components, c.n_response)
            self.response_head: nn.Linear | SortedEncoder
            if c.response_given == "latent":
                self.response_head = nn.Linear(d, n_mix)
            else:  # p(r | detector-level constituents, context)
                self.response_head = SortedEncoder(p, f, d, n_mix, extra=ctx)
            self.slot_context = nn.Linear(d, c.slot_hidden)
            self.slot_embed = nn.Linear(f + 1, c.slot_hidden)
            self.slot_attention = nn.MultiheadAttention(c.slot_hidden, 4, batch_first=True)
            self.slot_net = mlp([c.slot_hidden, c.slot_hidden, f])
            # generator level → detector level standardisation, per feature: x_reco = a·x_gen + b
            a = torch.tensor(c.gen_std) / torch.tensor(c.feature_std)
            b = (torch.tensor(c.gen_mean) - torch.tensor(c.feature_mean)) / torch.tensor(c.feature_std)
            self.gen_to_reco: Tensor
            self.register_buffer("gen_to_reco", torch.stack([a, b]).float(), persistent=False)
        self.prior: FlowPrior | MixturePrior | None = None
        if c.prior == "flow":
            self.prior = FlowPrior(c.latent, ctx, c.flow_hidden, c.flow_layers)
        elif c.prior == "mixture":
            self.prior = MixturePrior(c.latent, c.prior_components)
        # spreads of the relative jet mass and pT over the training jets (Δm, ΔpT are in these units)
        self.mass_scale: Tensor
        self.pt_scale: Tensor
        self.register_buffer("mass_scale", torch.tensor(1.0))
        self.register_buffer("pt_scale", torch.tensor(1.0))
        self._init_condition_bank(c.n_cond)
        # where the decoder was trained: the range of every latent and of the norm of the posterior draws
        # (running, updated by every training step; empty until then) and of the particle features (prepare).
        # Samples are clamped into them: a flexible prior puts a little mass (≈0.1 %) far outside the
        # posterior's support, where the decoder makes absurd jets that dominate covariance metrics (FPD).
        self.latent_low: Tensor
        self.latent_high: Tensor
        self.latent_radius: Tensor
        self.feature_low: Tensor
        self.feature_high: Tensor
        self.register_buffer("latent_low", torch.full((c.latent,), torch.inf))
        self.register_buffer("latent_high", torch.full((c.latent,), -torch.inf))
        self.register_buffer("latent_radius", torch.tensor(torch.inf))
        self.register_buffer("feature_low", torch.full((c.n_features,), -torch.inf))
        self.register_buffer("feature_high", torch.full((c.n_features,), torch.inf))

    # ------------------------------------------------------------------ data
    def prepare(self, data: Batch) -> None:
        """Fit the spreads of the relative jet mass and pT of the training jets (``features``, ``mask``)
        and, for a conditional generator, store the training conditions ``cond [N, C]`` (the bank that
        ``sample(n)`` without conditions draws from)."""
        c = self.config
        with torch.no_grad():
            if len(data["mask"]) > 1:
                pt_all, m_all = jet_observables_chunked(
                    data["features"], data["mask"], c.feature_mean, c.feature_std
                )
                self.pt_scale.fill_(float(pt_all.std().clamp_min(SCALE_FLOOR)))
                self.mass_scale.fill_(float(m_all.std().clamp_min(SCALE_FLOOR)))
            real = data["features"][data["mask"]].float()
            if len(real):
                self.feature_low.copy_(real.amin(0))
                self.feature_high.copy_(real.amax(0))
            if c.n_cond and not self.detector and "cond" in data:
                self.store_conditions(data["cond"][:, : c.n_cond])

    # --------------------------------------------------------------- network
    def _context(self, batch: Batch) -> Tensor | None:
        """``[B, ctx_dim]`` from ``cond`` and (detector mode) the generator-level constituents, or None."""
        c = self.config
        parts = []
        if c.n_cond:
            parts.append(self.cond_net(batch["cond"][:, : c.n_cond]))
        if self.detector:
            gen, gm = batch["gen_features"], batch["gen_mask"]
            pt, m = jet_observables(gen[..., :3], gm, c.gen_mean, c.gen_std)
            obs = torch.stack([pt.clamp_min(1e-3).log(), (m + 1e-3).log()], -1)
            parts += [self.gen_encoder(gen, gm), obs]
        return torch.cat([t.to(parts[0].dtype) for t in parts], -1) if parts else None

    def encode(self, batch: Batch, ctx: Tensor | None) -> tuple[Tensor, Tensor]:
        """q(z | jet, context): ``(μ, log σ²)``, each ``[B, latent]``."""
        stats = self.encoder(batch["features"], batch["mask"], ctx).float()
        mu, logvar = stats.chunk(2, -1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z: Tensor, ctx: Tensor | None, batch: Batch) -> dict[str, Tensor]:
        """p(jet | z, context): ``features [B, P, 3]`` (standardised, every slot), ``count_logits [B, P+1]``
        (multiplicity 0 … P) and, in detector mode, the response's mixture: ``response_logits`` (log weights
        ``[B, K]``), ``response_mu``, ``response_log_std`` (``[B, K, n_response]``)."""
        c = self.config
        h = self.trunk(z if ctx is None else torch.cat([z.to(ctx.dtype), ctx], -1))
        feats = self.particle_head(h).view(z.shape[0], c.n_particles, c.n_features)
        out = {"count_logits": self.count_head(h)}
        if self.detector:
            gen, gm = gen_slots_as_reco(
                batch["gen_features"], batch["gen_mask"], self.gen_to_reco, c.n_particles
            )
            gmf = gm.unsqueeze(-1).to(gen.dtype)
            e = self.slot_embed(torch.cat([gen, gmf], -1)) + self.slot_context(h).unsqueeze(1)
            first = torch.arange(c.n_particles, device=gm.device) == 0
            keys = gm | (first & ~gm.any(1, keepdim=True))  # a jet without gen particles attends to slot 0
            e = e + self.slot_attention(e, e, e, key_padding_mask=~keys, need_weights=False)[0]
            slot = self.slot_net(e)
            feats = feats + slot + gen
            if isinstance(self.response_head, nn.Linear):
                out.update(self._mixture(self.response_head(h)))
        out["features"] = feats
        return out

    def _mixture(self, raw: Tensor) -> Mixture:
        return mixture_params(raw, self.config.response_components, self.config.n_response)

    def response_mixture(self, out: Mixture, features: Tensor, mask: Tensor, ctx: Tensor | None) -> Mixture:
        """The response's mixture (detector mode): the decoder's (``response_given = latent``, in ``out``) or
        p(r | ``features [B, P, 3]``, ``mask [B, P]``, ``ctx``) of the detector-level constituents (``jet``:
        the real ones in the loss, the generated ones when sampling)."""
        if isinstance(self.response_head, nn.Linear):
            return {k: out[k] for k in ("response_logits", "response_mu", "response_log_std")}
        x = torch.where(mask.unsqueeze(-1), features, 0.0).float()
        return self._mixture(self.response_head(x, mask, ctx))

    def _kl(self, mu: Tensor, logvar: Tensor, z: Tensor, ctx: Tensor | None) -> Tensor:
        """KL(q ‖ p) per jet ``[B]``: analytic for N(0, 1), single-sample Monte Carlo for learned priors."""
        if self.prior is None:
            return gaussian_kl(mu, logvar)
        log_q = -0.5 * (((z - mu) ** 2) / logvar.exp() + logvar + LOG_2PI).sum(-1)
        if isinstance(self.prior, FlowPrior):
            return log_q - self.prior.log_prob(z, ctx)
        return log_q - self.prior.log_prob(z)

    # ------------------------------------------------------------------ loss
    def _per_jet(self, batch: Batch, stochastic: bool) -> dict[str, Tensor]:
        """Every term of the loss per jet ``[B]`` (z drawn from q when ``stochastic``, else its mean)."""
        c = self.config
        mask = batch["mask"]
        x = torch.where(mask.unsqueeze(-1), batch["features"], 0.0).float()
        ctx = self._context(batch)
        mu, logvar = self.encode(batch, ctx)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu) if stochastic else mu
        out = self.decode(z, ctx, batch)
        n = mask.sum(1)
        pred_mask = torch.arange(c.n_particles, device=mask.device) < n.unsqueeze(1)
        xh = out["features"].float()
        rec = chamfer(x, mask, xh, pred_mask)
        pt_t, m_t = jet_observables(x, mask, c.feature_mean, c.feature_std)
        pt_p, m_p = jet_observables(xh, pred_mask, c.feature_mean, c.feature_std)
        dm2 = ((m_p - m_t) / self.mass_scale).pow(2)
        dpt2 = ((pt_p - pt_t) / self.pt_scale).pow(2)
        count = F.cross_entropy(out["count_logits"].float(), n, reduction="none")
        terms = {"chamfer": rec, "mass": dm2, "pt": dpt2, "count": count}
        physics = rec + c.lambda_mass * dm2 + c.lambda_pt * dpt2 + c.lambda_count * count
        if c.lambda_emd > 0:
            terms["emd"] = jet_emd(x, mask, xh, pred_mask, c.feature_mean, c.feature_std)
            physics = physics + c.lambda_emd * terms["emd"]
        if self.detector:
            mix = self.response_mixture(out, x, mask, ctx)
            nll = mixture_nll(mix, batch["response"][:, : c.n_response])
            terms["response"] = nll
            physics = physics + c.lambda_response * nll
        kl = self._kl(mu, logvar, z, ctx)
        if self.training:
            widen_latent_range(z.detach(), self.latent_low, self.latent_high, self.latent_radius)
        terms["kl"] = kl
        terms["loss"] = c.beta * kl + (1.0 - c.beta) * physics
        return terms

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """Seed 003's loss, batch means: ``loss`` and each term (chamfer, mass, pt, count, kl[, response]),
        plus ``dist`` in generation mode with ``lambda_dist`` > 0 (weighted by (1 − β)·λ_dist in ``loss``).

        In training mode with ``augment``, each jet is first reflected at random in η_rel and in φ_rel (the
        same reflection for its generator-level constituents): jet pT, mass and response are unchanged."""
        c = self.config
        if self.training and c.augment:
            stats = {"features": (c.feature_mean, c.feature_std), "gen_features": (c.gen_mean, c.gen_std)}
            batch = reflect_jets(batch, stats)
        out = {k: v.mean() for k, v in self._per_jet(batch, stochastic=True).items()}
        if c.lambda_dist > 0 and not self.detector:
            out["dist"] = self._distribution_term(batch)
            out["loss"] = out["loss"] + (1.0 - c.beta) * c.lambda_dist * out["dist"]
        return out

    def _distribution_term(self, batch: Batch) -> Tensor:
        """The batch's distribution term (``lambda_dist`` in :class:`ParticleVAEConfig`): jets decoded from the
        prior (global RNG) with the batch's contexts and multiplicities, latents and features clamped as
        ``sample`` clamps them, vs the batch's jets; a scalar."""
        c = self.config
        mask, ctx = batch["mask"], self._context(batch)
        out = self.decode(self._prior_z(len(mask), ctx, None), ctx, batch)
        feats = torch.clamp(out["features"].float(), self.feature_low, self.feature_high)
        counts = mask.sum(1)
        gen_mask = torch.arange(c.n_particles, device=mask.device) < counts.unsqueeze(1)
        args = (batch["features"], mask, feats, gen_mask, c.feature_mean, c.feature_std)
        efp = c.lambda_efp * efp_distance(*args, c.efp_frechet) if c.lambda_efp > 0 else 0.0
        return count_w1(out["count_logits"], counts) + distribution_w1(*args, self.mass_scale) + efp

    def score(self, batch: Batch) -> Tensor:
        """Anomaly score ``[B]``: the per-jet loss with z at its posterior mean (deterministic)."""
        return self._per_jet(batch, stochastic=False)["loss"].float()

    # -------------------------------------------------------------- outputs
    def in_latent_range(self, z: Tensor) -> Tensor:
        """``z [B, L]`` clamped into the latent range seen in training (:func:`into_latent_range`)."""
        return into_latent_range(z, self.latent_low, self.latent_high, self.latent_radius)

    def _prior_z(self, n: int, ctx: Tensor | None, generator: torch.Generator | None) -> Tensor:
        """``[n, L]`` latents from the prior (given ``ctx`` for the flow; ``generator`` None: the global RNG),
        clamped into the latent range of training."""
        if isinstance(self.prior, FlowPrior):
            z = self.prior.sample(n, ctx, generator)
        elif self.prior is not None:
            z = self.prior.sample(n, generator)
        else:
            z = torch.randn(n, self.config.latent, generator=generator, device=self.count_head.weight.device)
        return self.in_latent_range(z)

    def from_noise(
        self,
        out: dict[str, Tensor],
        u_count: Tensor,
        u_response: Tensor | None = None,
        eps_response: Tensor | None = None,
        ctx: Tensor | None = None,
    ) -> Batch:
        """The sample from the decoder's ``out`` and its noise, deterministically (shared by :meth:`sample` and
        the export sampler): features clamped into the training range, the multiplicity by the inverse CDF of
        ``u_count [B]`` (first n slots kept) and, in detector mode, the response mixture's component by the
        inverse CDF of ``u_response [B]`` with ``eps_response [B, n_response]`` standard normals (given the
        generated constituents and ``ctx`` with ``response_given = jet``). Returns
        ``features [B, P, F]``, ``mask [B, P]`` and (detector mode) ``response [B, n_response]``."""
        c = self.config
        feats = torch.clamp(out["features"].float(), self.feature_low, self.feature_high)
        cdf = out["count_logits"].float().softmax(-1).cumsum(-1)
        counts = (cdf < u_count.unsqueeze(1)).sum(-1).clamp_max(c.n_particles)
        res = self._finish({"features": feats}, counts)
        if self.detector:
            assert u_response is not None and eps_response is not None, "detector mode draws a response"
            mix = self.response_mixture(out, res["features"], res["mask"], ctx)
            res["response"] = mixture_draw(mix, u_response, eps_response)
        return res

    def _finish(self, out: dict[str, Tensor], counts: Tensor) -> Batch:
        mask = torch.arange(self.config.n_particles, device=counts.device) < counts.unsqueeze(1)
        return {"features": out["features"].float() * mask.unsqueeze(-1), "mask": mask}

    def reconstruct(self, batch: Batch) -> Batch:
        """Decode the posterior mean with the input's multiplicity: ``features [B, P, 3]``, ``mask`` (the
        first n slots), and ``response [B, 1]`` (its mean) in detector mode."""
        ctx = self._context(batch)
        mu, _ = self.encode(batch, ctx)
        out = self.decode(mu, ctx, batch)
        res = self._finish(out, batch["mask"].sum(1))
        if self.detector:
            res["response"] = mixture_mean(self.response_mixture(out, res["features"], res["mask"], ctx))
        return res

    def pure_sampler(self, mode: Literal["conditioned", "prior"]) -> nn.Module:
        """:meth:`sample` for export (:class:`~mlfastsim.models.base.Exportable`; ``models/particle_vae_export.py``)."""
        from mlfastsim.models.particle_vae_export import ParticleVAESampler

        return ParticleVAESampler(self, mode)

    def needs_conditions(self) -> bool:
        """True in detector mode (it generates the detector response to given generator-level jets)."""
        return self.detector

    def sample(self, n: int, cond: Batch | None = None, generator: torch.Generator | None = None) -> Batch:
        """Generate ``n`` jets: ``features [n, P, 3]`` (standardised), ``mask [n, P]`` (first slots), plus
        ``response [n, 1]`` (standardised) in detector mode and ``matched_cond [n, C]`` when a conditional
        generator drew its conditions from the training bank (``cond`` None).

        ``cond``: ``{"cond": [n, C]}`` for a conditional generator (optional), ``{"gen_features", "gen_mask"}``
        in detector mode (required). z comes from the prior, drawn with ``generator``.
        """
        c = self.config
        dev = self.count_head.weight.device
        batch: Batch = {k: v.to(dev) for k, v in (cond or {}).items()}
        if self.detector and "gen_features" not in batch:
            raise InputError(
                "this particle-vae run is in detector mode: give the generator-level jets to simulate "
                "(sample --conditions FILE)"
            )
        drawn = None
        if c.n_cond and "cond" not in batch:
            missing = "this conditional particle-vae stores no training conditions; give cond"
            batch["cond"] = drawn = self.draw_conditions(n, generator, missing, InputError)
        ctx = self._context(batch)
        out = self.decode(self._prior_z(n, ctx, generator), ctx, batch)
        u_count = torch.rand(n, generator=generator, device=dev)
        u_response = eps_response = None
        if self.detector:
            u_response = torch.rand(n, generator=generator, device=dev)
            eps_response = torch.randn(n, c.n_response, generator=generator, device=dev)
        res = self.from_noise(out, u_count, u_response, eps_response, ctx)
        if drawn is not None:
            res["matched_cond"] = drawn
        return res
