"""The learned flow prior of ``particle-vae``: a RealNVP normalising flow p(z | c) onto N(0, 1), one unit
(re-exported by :mod:`mlfastsim.models.particle_vae_nn`)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mlfastsim.models.nn import LOG_2PI, mlp

__all__ = ["FlowPrior"]


class FlowPrior(nn.Module):
    """A learned prior p(z | c) as a RealNVP normalising flow onto N(0, 1) (Dinh et al., 1605.08803):
    ``layers`` affine couplings, each transforming half of z given the other half (and the context c),
    the halves swapped between layers. Seed 003's line of work adds a normalising flow to its VAE for
    sampling (ConVAE+NF, Orzari et al. 2023); here the flow is the prior and trains with the KL term.

    ``u = f(z)``: log p(z | c) = log N(u; 0, 1) + log |det ∂f/∂z|; sampling inverts f.
    """

    def __init__(self, latent: int, context: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.n_a = latent // 2
        self.n_b = latent - self.n_a
        self.nets = nn.ModuleList()
        for i in range(layers):
            given, moved = (self.n_a, self.n_b) if i % 2 == 0 else (self.n_b, self.n_a)
            net = mlp([given + context, hidden, hidden, 2 * moved])
            last = net[-1]
            assert isinstance(last, nn.Linear)
            with torch.no_grad():  # start near the identity (not exactly: every weight must get gradients)
                last.weight.mul_(0.01)
                last.bias.zero_()
            self.nets.append(net)

    def _split(self, z: Tensor, i: int) -> tuple[Tensor, Tensor]:
        a, b = z[:, : self.n_a], z[:, self.n_a :]
        return (a, b) if i % 2 == 0 else (b, a)

    def _join(self, given: Tensor, moved: Tensor, i: int) -> Tensor:
        return torch.cat([given, moved] if i % 2 == 0 else [moved, given], -1)

    def _affine(self, i: int, given: Tensor, ctx: Tensor | None) -> tuple[Tensor, Tensor]:
        inp = given if ctx is None else torch.cat([given, ctx.to(given.dtype)], -1)
        raw = self.nets[i](inp).float()
        shift, log_scale = raw.chunk(2, -1)
        return shift, 2.0 * torch.tanh(0.5 * log_scale)  # |log scale| < 2 per layer: stable

    def log_prob(self, z: Tensor, ctx: Tensor | None = None) -> Tensor:
        """log p(z | c) for ``z [B, L]``, ``ctx [B, context]`` (or None) → ``[B]`` (nats)."""
        u = z.float()
        log_det = torch.zeros(len(u), device=u.device)
        for i in range(len(self.nets)):
            given, moved = self._split(u, i)
            shift, log_scale = self._affine(i, given, ctx)
            u = self._join(given, (moved - shift) * torch.exp(-log_scale), i)
            log_det = log_det - log_scale.sum(-1)
        return -0.5 * (u.pow(2) + LOG_2PI).sum(-1) + log_det

    def inverse(self, u: Tensor, ctx: Tensor | None = None) -> Tensor:
        """z = f⁻¹(u) for base points ``u [n, L]`` given ``ctx [n, context]`` (or None)."""
        halves = [u[:, : self.n_a], u[:, self.n_a :]]  # kept apart: no split and join per layer
        for i in reversed(range(len(self.nets))):
            given, moved = (0, 1) if i % 2 == 0 else (1, 0)
            shift, log_scale = self._affine(i, halves[given], ctx)
            halves[moved] = torch.addcmul(shift, halves[moved], torch.exp(log_scale))
        return torch.cat(halves, -1)

    def sample(self, n: int, ctx: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``[n, L]`` draws: u ~ N(0, 1) (from ``generator``) through the inverse flow, given ``ctx``."""
        dev = next(self.parameters()).device
        return self.inverse(torch.randn(n, self.n_a + self.n_b, generator=generator, device=dev), ctx)
