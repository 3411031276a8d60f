"""Shared pieces of the conditional GANs (seed 004): weighted means, the WGAN-GP and Cramér GAN losses and the
energy distance, all honouring per-event weights (LHCb's sWeights, some negative).

* WGAN-GP — Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017 (arXiv:1704.00028):
  critic loss E[D(x̃)] − E[D(x)] + λ E[(‖∇D(x̂)‖₂ − 1)²] on x̂ = εx + (1 − ε)x̃, generator loss −E[D(x̃)].
* Cramér GAN — Bellemare et al., "The Cramer Distance as a Solution to Biased Wasserstein Gradients",
  arXiv:1705.10743, Algorithm 1, as LHCb's RICH GAN uses it (Maevskiy et al., arXiv:1905.11825): a critic
  map h: x → ℝᵏ, the critic f(x) = ‖h(x) − h(x̃′)‖ − ‖h(x)‖, the generator loss
  E‖h(x) − h(x̃)‖ + E‖h(x) − h(x̃′)‖ − E‖h(x̃) − h(x̃′)‖ (an energy distance in h-space), the critic loss
  −(E f(x) − E f(x̃)) + λ GP(f). x̃, x̃′: two generated samples for the same conditions.
* Energy distance (Székely & Rizzo 2013) between two weighted samples: 2E‖X − Y‖ − E‖X − X′‖ − E‖Y − Y′‖,
  zero iff the distributions agree; a critic-free measure of a generator's progress.

Weights: expectations are Σᵢ wᵢ tᵢ / Σᵢ wᵢ over the rows of a batch (row i: a real event, its conditions and
the events generated for them). The gradient penalty is a regulariser, not an expectation over the target,
so it is an unweighted mean (a negative weight would reward steep critics).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = [
    "cramer_critic_loss",
    "cramer_generator_loss",
    "energy_distance",
    "gradient_penalty",
    "weighted_mean",
    "wgan_critic_loss",
    "wgan_generator_loss",
]

#: Critic: (outputs [B, D], conditions [B, C]) → scores [B] (WGAN) or features [B, k] (Cramér).
Critic = Callable[[Tensor, Tensor], Tensor]


def weighted_mean(values: Tensor, weight: Tensor | None = None) -> Tensor:
    """Σ wᵢ vᵢ / Σ wᵢ over the first axis of ``values [B, ...]`` (plain mean without ``weight [B]``).

    The denominator is kept ≥ 10⁻³ Σ|wᵢ| so that a batch whose signed weights nearly cancel cannot blow up.
    """
    if weight is None:
        return values.mean(0)
    w = weight.to(values.dtype).reshape(-1, *([1] * (values.dim() - 1)))
    denom = w.sum().clamp_min(1e-3 * w.abs().sum().clamp_min(1e-12))
    return (w * values).sum(0) / denom


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    one_sided: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP's penalty E[(‖∇ₓ f(x̂)‖₂ − 1)²] on x̂ = εx + (1 − ε)x̃, ε ~ U(0, 1) per row (Gulrajani et al.);
    ``one_sided``: E[max(0, ‖∇ₓ f(x̂)‖₂ − 1)²] (Petzka et al., ICLR 2018, "WGAN-LP"), which only caps the
    slope — the two-sided penalty also pushes a flat critic's slope up in whatever direction it points at
    initialisation, and can lock a critic that starts reversed into a reversed optimum.

    Args:
        critic: x̂ ``[B, D]`` → scalar score per row ``[B]`` (conditions bound inside).
        real, fake: ``[B, D]``; ``fake`` should not carry the generator's graph (detach it).
        generator: the RNG of ε (None: the global one, which the trainer forks and checkpoints).
    """
    eps = torch.rand(real.shape[0], 1, generator=generator, device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    score = critic(x_hat)
    (grad,) = torch.autograd.grad(score.sum(), x_hat, create_graph=True)
    excess = grad.flatten(1).norm(dim=1) - 1.0
    return (excess.clamp_min(0.0) if one_sided else excess).pow(2).mean()


def wgan_critic_loss(
    critic: Critic,
    real: Tensor,
    fake: Tensor,
    cond: Tensor,
    weight: Tensor | None = None,
    gp_lambda: float = 10.0,
    one_sided: bool = False,
) -> dict[str, Tensor]:
    """WGAN-GP critic loss (module docstring). ``real``, ``fake`` ``[B, D]`` share the conditions ``cond
    [B, C]``; returns ``loss``, the weighted Wasserstein estimate ``wasserstein`` = E[D(x)] − E[D(x̃)] and ``gp``
    (``one_sided``: see :func:`gradient_penalty`)."""
    fake = fake.detach()
    w_est = weighted_mean(critic(real, cond), weight) - weighted_mean(critic(fake, cond), weight)
    gp = gradient_penalty(lambda x: critic(x, cond), real, fake, one_sided)
    return {"loss": -w_est + gp_lambda * gp, "wasserstein": w_est.detach(), "gp": gp.detach()}


def wgan_generator_loss(critic: Critic, fake: Tensor, cond: Tensor, weight: Tensor | None = None) -> Tensor:
    """−E_w[D(x̃, c)]: the generator raises the critic's score of its samples."""
    return -weighted_mean(critic(fake, cond), weight)


def _cramer_f(h_x: Tensor, h_other: Tensor) -> Tensor:
    """Bellemare et al.'s critic f(x) = ‖h(x) − h(x̃′)‖ − ‖h(x)‖, per row ``[B]``."""
    return (h_x - h_other).norm(dim=1) - h_x.norm(dim=1)


def cramer_generator_loss(
    critic: Critic, real: Tensor, fake: Tensor, fake2: Tensor, cond: Tensor, weight: Tensor | None = None
) -> Tensor:
    """E‖h(x) − h(x̃)‖ + E‖h(x) − h(x̃′)‖ − E‖h(x̃) − h(x̃′)‖ (weighted), with ``fake``, ``fake2`` two
    independent generated samples for the conditions of ``real`` (all ``[B, D]``)."""
    h_r, h_g, h_g2 = critic(real, cond), critic(fake, cond), critic(fake2, cond)
    per_row = (h_r - h_g).norm(dim=1) + (h_r - h_g2).norm(dim=1) - (h_g - h_g2).norm(dim=1)
    return weighted_mean(per_row, weight)


def cramer_critic_loss(
    critic: Critic,
    real: Tensor,
    fake: Tensor,
    fake2: Tensor,
    cond: Tensor,
    weight: Tensor | None = None,
    gp_lambda: float = 10.0,
    one_sided: bool = False,
) -> dict[str, Tensor]:
    """Cramér GAN critic loss −(E f(x) − E f(x̃)) + λ GP(f) (module docstring); ``fake2`` is the x̃′ of f.

    Returns ``loss``, the weighted ``surrogate`` E f(x) − E f(x̃) and the penalty ``gp``.
    """
    fake, fake2 = fake.detach(), fake2.detach()
    h_g2 = critic(fake2, cond)
    surrogate = weighted_mean(_cramer_f(critic(real, cond), h_g2), weight) - weighted_mean(
        _cramer_f(critic(fake, cond), h_g2), weight
    )
    gp = gradient_penalty(lambda x: _cramer_f(critic(x, cond), h_g2), real, fake, one_sided)
    return {"loss": -surrogate + gp_lambda * gp, "surrogate": surrogate.detach(), "gp": gp.detach()}


def energy_distance(
    x: Tensor, y: Tensor, weight_x: Tensor | None = None, weight_y: Tensor | None = None
) -> Tensor:
    """Weighted energy distance 2E‖X − Y‖ − E‖X − X′‖ − E‖Y − Y′‖ of ``x [N, D]`` and ``y [M, D]`` (V-statistic
    over all pairs, weights ``[N]``, ``[M]`` or None for 1). Zero iff the samples' distributions agree (in
    the limit); cost O((N + M)²)."""

    def mean_dist(a: Tensor, b: Tensor, wa: Tensor | None, wb: Tensor | None) -> Tensor:
        d = torch.cdist(a, b)
        wa = torch.ones(len(a), dtype=d.dtype, device=d.device) if wa is None else wa.to(d.dtype)
        wb = torch.ones(len(b), dtype=d.dtype, device=d.device) if wb is None else wb.to(d.dtype)
        return (wa[:, None] * d * wb[None]).sum() / (wa.sum() * wb.sum())

    return (
        2 * mean_dist(x, y, weight_x, weight_y)
        - mean_dist(x, x, weight_x, weight_x)
        - mean_dist(y, y, weight_y, weight_y)
    )
