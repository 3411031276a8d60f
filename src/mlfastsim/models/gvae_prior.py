"""The ``gvae`` flow prior (issue 12): p(z | context) as a zuko normalising flow fitted to the aggregate posterior.

With z ~ N(0, 1) the decoder is fed latents it never saw in training wherever the aggregate posterior
q(z | c) = E_x q(z | x, c) differs from the standard normal (the "prior holes"), and prior-sampled jets came
out worse than particle-conditioned ones. Here the prior is a conditional masked autoregressive flow (MAF,
Papamakarios et al. 2017, or zuko's neural spline flow) fitted **after** the VAE is trained, on samples of the
trained encoder's posterior — a two-stage VAE (Dai & Wipf 2019, arXiv:1903.05789): the encoder and decoder stay
exactly as trained, so the flow cannot hurt reconstruction or training, and the same VAE can be compared with
either prior. The flow is conditioned on the decoder's own context vector (the embedded jet conditions and the
particle embedding, or their learned null vectors), so every sampling path — from particles, from the jet
conditions alone, from nothing — gets the posterior of that path.

Noise is drawn outside (``LatentFlow.forward(noise, ctx)`` maps standard normals to z), so the pure sampler
(``models/gvae_export.py``) and ONNX export take the same ``z`` input as before.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Literal

import torch
import zuko
from torch import Tensor, nn

from mlfastsim.models.base import Batch

if TYPE_CHECKING:
    from mlfastsim.models.gvae import GVAE

__all__ = ["LatentFlow", "aggregate_posterior", "fit_latent_flow"]

LOG_2PI = math.log(2.0 * math.pi)


class LatentFlow(nn.Module):
    """p(z | ctx) = |det ∂u/∂z| N(u; 0, 1), u = f((z − shift) / scale; ctx), f a zuko flow.

    Args:
        latent: dimension L of z.
        context: dimension C of the context vector (0: unconditional).
        kind: ``"maf"`` (affine autoregressive, fast to sample and export) or ``"nsf"`` (rational-quadratic
            splines).
        transforms: number of autoregressive transforms; ``hidden``: width of their two hidden layers.
        passes: passes of each transform's inverse (sampling): 2 makes it a coupling transform (half of z
            given the other half, zuko's ``passes=2``), 0 fully autoregressive (one pass per dimension: L
            network calls per transform when sampling).

    ``shift``/``scale`` ``[L]`` standardise z with the aggregate posterior's mean and standard deviation
    (set by :func:`fit_latent_flow`); ``fitted`` says whether the flow has been fitted.
    """

    def __init__(
        self,
        latent: int,
        context: int,
        kind: Literal["maf", "nsf"],
        transforms: int,
        hidden: int,
        passes: int = 2,
    ) -> None:
        super().__init__()
        flow_cls = {"maf": zuko.flows.MAF, "nsf": zuko.flows.NSF}[kind]
        self.flow = flow_cls(
            latent,
            context,
            transforms=transforms,
            hidden_features=(hidden, hidden),
            passes=passes if passes > 0 else None,
        )
        self.context = context
        self.shift: Tensor
        self.scale: Tensor
        self.fitted: Tensor
        self.register_buffer("shift", torch.zeros(latent))
        self.register_buffer("scale", torch.ones(latent))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def _dist(self, ctx: Tensor | None) -> zuko.distributions.NormalizingFlow:
        return self.flow(ctx if self.context else None)

    def log_prob(self, z: Tensor, ctx: Tensor | None) -> Tensor:
        """log p(z | ctx) for ``z [B, L]``, ``ctx [B, C]`` (or None) → ``[B]`` (nats)."""
        u = (z - self.shift) / self.scale
        return self._dist(ctx).log_prob(u) - self.scale.log().sum()

    def forward(self, noise: Tensor, ctx: Tensor | None) -> Tensor:
        """z ``[B, L]`` from standard normals ``noise [B, L]`` given ``ctx [B, C]``: the inverse flow (no RNG)."""
        if self.context and ctx is not None and noise.shape[0] != ctx.shape[0]:
            raise ValueError(f"flow prior: {noise.shape[0]} noise rows for {ctx.shape[0]} contexts")
        u = self._dist(ctx).transform.inv(noise)
        return self.shift + self.scale * u


def aggregate_posterior(model: GVAE, data: Batch, chunk: int = 256) -> tuple[Tensor, Tensor, Tensor | None]:
    """The trained encoder's posteriors of the jets in ``data``, under every context ``sample`` can use:
    with particles and conditions as given, without particles (the prior path: conditions from the bank),
    and without either. Returns μ, log σ² ``[R, L]`` and the contexts ``[R, C]`` (None when unconditional),
    R = jets × paths; computed in eval mode without gradients."""
    c = model.config
    paths: list[frozenset[str]] = [frozenset()]
    if c.use_gen:
        paths.append(frozenset({"gen_features", "gen_mask"}))
    if c.n_cond:
        paths.append(frozenset({"gen_features", "gen_mask", "cond"}))
    was_training = model.training
    model.eval()
    mus, logvars, ctxs = [], [], []
    dev = next(model.parameters()).device
    n = len(data["features"])
    with torch.no_grad():
        for drop in paths:
            for start in range(0, n, chunk):
                batch = {k: v[start : start + chunk].to(dev) for k, v in data.items() if k not in drop}
                ctx, _ = model._context(batch, len(batch["features"]), dev, drop=False)
                mu, logvar = model.encode(batch, ctx)
                mus.append(mu)
                logvars.append(logvar)
                if ctx is not None:
                    ctxs.append(ctx)
    model.train(was_training)
    return torch.cat(mus), torch.cat(logvars), (torch.cat(ctxs) if ctxs else None)


def _normal_nll(z: Tensor) -> float:
    return float((0.5 * (z.pow(2) + LOG_2PI)).sum(-1).mean())


def fit_latent_flow(
    flow: LatentFlow,
    mu: Tensor,
    logvar: Tensor,
    ctx: Tensor | None,
    steps: int,
    seed: int,
    batch_size: int = 256,
    lr: float = 1e-3,
) -> dict[str, float]:
    """Fit ``flow`` by maximum likelihood to the aggregate posterior: every step draws fresh z = μ + σ ε for a
    batch of posteriors (the mixture of the posteriors, not their means, which are under-dispersed).

    A tenth of the rows (at least one) is held out with fixed draws; the state with the lowest held-out
    negative log-likelihood is kept. Adam with a cosine learning-rate decay; every random number comes from a
    generator seeded with ``seed``, so the fit is reproducible. Returns the held-out NLL per jet (nats) under
    the flow (``prior_nll``) and under N(0, 1) (``normal_nll``) — their difference is what the standard normal
    prior misses.
    """
    g = torch.Generator(device=mu.device).manual_seed(seed)
    n = len(mu)
    order = torch.randperm(n, generator=g, device=mu.device)
    n_val = max(1, n // 10) if n > 1 else 0
    val, train = order[:n_val], order[n_val:] if n > n_val else order
    std = (0.5 * logvar).exp()
    mean = mu[train].mean(0)
    var = (std[train].pow(2) + mu[train].pow(2)).mean(0) - mean.pow(2)
    with torch.no_grad():
        flow.shift.copy_(mean)
        flow.scale.copy_(var.clamp_min(1e-6).sqrt())
    z_val = mu[val] + std[val] * torch.randn(mu[val].shape, generator=g, device=mu.device)
    c_val = ctx[val] if ctx is not None else None
    opt = torch.optim.Adam(flow.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    best, best_state = math.inf, copy.deepcopy(flow.state_dict())

    def held_out() -> float:
        with torch.no_grad():
            return float(-flow.log_prob(z_val, c_val).mean()) if n_val else math.inf

    for step in range(steps):
        idx = train[torch.randint(len(train), (min(batch_size, len(train)),), generator=g, device=mu.device)]
        z = mu[idx] + std[idx] * torch.randn(mu[idx].shape, generator=g, device=mu.device)
        loss = -flow.log_prob(z, ctx[idx] if ctx is not None else None).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 100 == 0 or step + 1 == steps:
            nll = held_out()
            if nll < best:
                best, best_state = nll, copy.deepcopy(flow.state_dict())
    flow.load_state_dict(best_state)
    with torch.no_grad():
        flow.fitted.fill_(True)
    return {
        "prior_nll": best if steps else held_out(),
        "normal_nll": _normal_nll(z_val) if n_val else math.inf,
    }
