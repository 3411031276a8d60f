"""Small building blocks shared by the models: MLPs, masked pooling, Gaussian helpers."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = [
    "LeakyReLU02",
    "batched_take",
    "gaussian_kl",
    "masked_max",
    "masked_mean",
    "mlp",
    "reparameterise",
    "truncated_normal",
]


def mlp(
    sizes: list[int], activation: type[nn.Module] = nn.SiLU, last_activation: bool = False
) -> nn.Sequential:
    """A fully connected network ``sizes[0] → … → sizes[-1]`` with ``activation`` between layers."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_activation:
            layers.append(activation())
    return nn.Sequential(*layers)


def batched_take(t: Tensor, index: Tensor) -> Tensor:
    """Rows ``index [B, M]`` (int64, into axis 1) of ``t [B, K, ...]`` → ``[B, M, ...]``.

    ``torch.gather`` with the expanded index this needs is several times slower on CPU than one
    ``index_select`` on the flattened tensor.
    """
    b, k = t.shape[:2]
    flat = (index + torch.arange(b, device=index.device).unsqueeze(1) * k).reshape(-1)
    return t.reshape(b * k, *t.shape[2:]).index_select(0, flat).view(b, index.shape[1], *t.shape[2:])


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x [B, n, H]`` over the real entries of ``mask [B, n]`` → ``[B, H]`` (0 for empty sets)."""
    w = mask.to(x.dtype).unsqueeze(-1)
    return (x * w).sum(1) / w.sum(1).clamp_min(1.0)


def masked_max(x: Tensor, mask: Tensor) -> Tensor:
    """Maximum of ``x [B, n, H]`` over the real entries of ``mask`` → ``[B, H]`` (0 for empty sets)."""
    filled = x.masked_fill(~mask.unsqueeze(-1), -torch.inf).amax(1)
    return torch.where(torch.isfinite(filled), filled, torch.zeros_like(filled))


def reparameterise(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """``z = μ + σ ε`` with ``ε ~ N(0, 1)`` drawn from ``generator``."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def truncated_normal(low: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Standard normal draws truncated to ``z ≥ low`` (``low`` any shape; one draw per entry).

    Inverse CDF in float64, through the lower tail for ``low > 0`` (1 − Φ would round to 0 there, and
    torch's Φ already below −9: its log is used); beyond low = 37, where Φ(−low) underflows, the truncated
    normal is low + Exp(1)/low.
    """
    u = torch.rand(low.shape, generator=generator, device=low.device, dtype=torch.float64)
    a = low.double().clamp(-40.0, 60.0)
    head = torch.special.ndtri(torch.special.ndtr(a) + u * torch.special.ndtr(-a))  # a ≤ 0
    tail = -torch.special.ndtri(torch.exp(torch.log(u) + torch.special.log_ndtr(-a)).clamp_min(1e-308))
    z = torch.where(a > 0, tail, head)
    z = torch.where(a > 37.0, a - torch.log1p(-u) / a.clamp_min(37.0), z)
    return z.clamp_min(a).to(low.dtype)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) summed over all but the first axis → ``[B]`` (nats)."""
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
    return kl.flatten(1).sum(1)


LOG_2PI = math.log(2 * math.pi)


class LeakyReLU02(nn.LeakyReLU):
    """LeakyReLU with slope 0.2 (the GAN literature's default), constructible without arguments for :func:`mlp`."""

    def __init__(self) -> None:
        super().__init__(0.2)
