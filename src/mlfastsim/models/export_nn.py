"""Building blocks of the pure samplers that ``mlfastsim export`` writes (issue 11): plain-MLP samplers, the
bank of training conditions drawn from a uniform input, and the random-variate transforms the samplers need
written in ONNX-exportable operations (no ``torch.special.ndtri``/``log_ndtr``, no ``multinomial``).

The noise of an exported sampler comes in as tensors (standard normal or U[0, 1) draws, as the sampler's
:class:`~mlfastsim.models.base.SamplerSpec` declares); everything else is a deterministic function of it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mlfastsim.models.base import SamplerSpec, TensorSpec

__all__ = [
    "BankSampler",
    "MLPSampler",
    "ZeroBelow",
    "categorical_from_uniform",
    "log_ndtr",
    "mlp_spec",
    "ndtri_from_log",
    "truncated_normal_from_uniform",
]

# Numerical Recipes' erfc (Chebyshev fit, fractional error < 1.2e-7 everywhere): log erfc(x) for x ≥ 0 as
# log t − x² + P(t), t = 1 / (1 + x/2) — exact in the far tail, where 1 − erf(x) rounds to 0.
_ERFC = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
         0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277)  # fmt: skip
# Acklam's inverse normal CDF (relative error < 1.15e-9): central and tail rational functions.
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01)  # fmt: skip
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
_P_LOW = 0.02425


def _poly(coeffs: tuple[float, ...], x: Tensor) -> Tensor:
    """c0 xⁿ + c1 xⁿ⁻¹ + … + cn (Horner)."""
    out = torch.full_like(x, coeffs[0])
    for c in coeffs[1:]:
        out = out * x + c
    return out


def _log_erfc(z: Tensor) -> Tensor:
    """log erfc(z) for z ≥ 0 (Numerical Recipes' fit; exact in the far tail)."""
    t = 1.0 / (1.0 + 0.5 * z)
    return torch.log(t) - z * z + _poly(_ERFC[::-1], t)


def log_ndtr(x: Tensor) -> Tensor:
    """log Φ(x) of the standard normal CDF, elementwise, accurate to ~1e-7 relative in both tails."""
    lower = math.log(0.5) + _log_erfc((-x).clamp_min(0.0) / math.sqrt(2.0))  # Φ(x) = erfc(−x/√2) / 2
    upper = torch.log1p(-0.5 * torch.exp(_log_erfc(x.clamp_min(0.0) / math.sqrt(2.0))))  # x ≥ 0
    return torch.where(x <= 0, lower, upper)


def ndtri_from_log(log_p: Tensor) -> Tensor:
    """Φ⁻¹(p) from ``log_p = log p`` (p in (0, 1)), elementwise; the lower tail from log p directly, so
    that p down to e^-700 (and far below float32's smallest number) keeps its precision."""
    p = torch.exp(log_p)
    q = p - 0.5
    r = q * q
    central = q * _poly(_A, r) / (_poly(_B, r) * r + 1.0)
    lo = torch.sqrt(-2.0 * log_p.clamp_max(math.log(_P_LOW)))
    lower = _poly(_C, lo) / (_poly(_D, lo) * lo + 1.0)
    hi = torch.sqrt(-2.0 * torch.log((1.0 - p).clamp_min(1e-30)))
    upper = -_poly(_C, hi) / (_poly(_D, hi) * hi + 1.0)
    return torch.where(p < _P_LOW, lower, torch.where(p > 1.0 - _P_LOW, upper, central))


def truncated_normal_from_uniform(low: Tensor, u: Tensor) -> Tensor:
    """Standard normal draws truncated to ``z ≥ low`` from uniforms ``u`` in [0, 1) (same shape):
    z = −Φ⁻¹((1 − u) Φ(−low)), the inverse CDF taken through the upper tail in log space, so that it
    holds for any ``low`` (the mapping of :func:`mlfastsim.models.nn.truncated_normal`, u ↦ 1 − u)."""
    a, v = (
        low.double(),
        u.double(),
    )  # in float64, as nn.truncated_normal: exp/log rounding stays far below 1e-5
    log_q = torch.log1p(-v.clamp(0.0, 1.0 - 1e-7)) + log_ndtr(-a)
    return torch.maximum(-ndtri_from_log(log_q), a).to(low.dtype)


def categorical_from_uniform(log_probs: Tensor, u: Tensor) -> Tensor:
    """Categories (int64) of ``log_probs [..., K]`` by the inverse CDF of ``u [..., M]``: ``[..., M]``."""
    cdf = torch.cumsum(torch.exp(log_probs - torch.logsumexp(log_probs, -1, keepdim=True)), -1)
    below = (cdf.unsqueeze(-2) < u.unsqueeze(-1)).to(torch.int64).sum(-1)
    return below.clamp_max(log_probs.shape[-1] - 1)


def mlp_spec(
    noise: int,
    n_cond: int,
    n_out: int,
    doc_out: str,
    features: tuple[int, ...] | None = None,
    mask: tuple[int, ...] = (),
) -> SamplerSpec:
    """The spec of a conditioned plain-MLP generator G(noise [B, noise], conditions [B, n_cond]): its
    ``n_out`` outputs as ``features [B, *features]`` (default ``[B, n_out]``) and an all-True ``mask
    [B, *mask]`` (what the family's ``sample`` returns)."""
    return SamplerSpec(
        inputs=(
            TensorSpec("noise", ("batch", noise), source="normal", doc="standard normal noise"),
            TensorSpec("cond", ("batch", n_cond), source="batch:cond", doc="the codec's conditions"),
        ),
        outputs=(
            TensorSpec("features", ("batch", *(features or (n_out,))), doc=doc_out),
            TensorSpec("mask", ("batch", *mask), "bool", doc="all True"),
        ),
        mode="conditioned",
    )


class ZeroBelow(nn.Module):
    """Hard zero suppression, elementwise: x where x ≥ ``threshold``, else 0 (C export knows it)."""

    def __init__(self, threshold: float) -> None:
        super().__init__()
        self.threshold = float(threshold)

    def forward(self, x: Tensor) -> Tensor:
        return torch.where(x >= self.threshold, x, torch.zeros_like(x))


class MLPSampler(nn.Module):
    """``forward(noise [B, noise], cond [B, n_cond]) → (features, mask)``: a plain MLP on the concatenated
    inputs, its output shaped as the spec's ``features``, and an all-True ``mask`` (a
    :class:`~mlfastsim.models.base.PlainMLP`, so C export applies)."""

    def __init__(self, net: nn.Sequential, spec: SamplerSpec) -> None:
        super().__init__()
        self.net = net
        self.spec = spec
        self._features = tuple(int(d) for d in spec.outputs[0].shape[1:])
        self._mask = tuple(int(d) for d in spec.outputs[1].shape[1:])

    def layers(self) -> nn.Sequential:
        return self.net

    def forward(self, noise: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        flat = self.net(torch.cat([noise, cond], dim=1))
        width = math.prod(self._mask)
        mask = torch.ones_like(flat[:, :width], dtype=torch.bool).reshape(-1, *self._mask)
        return flat.reshape(-1, *self._features), mask


class BankSampler(nn.Module):
    """A conditioned sampler turned into a prior one: the conditions come from a stored bank, row
    ⌊u · N⌋ for an input ``bank_u [B]`` ~ U[0, 1), and are output as ``matched_cond`` (what
    ``sample(n)`` without conditions does with a generator; the bank travels inside the exported file)."""

    def __init__(self, inner: nn.Module, bank: Tensor, cond_name: str = "cond") -> None:
        super().__init__()
        if len(bank) == 0:
            raise ValueError("no training conditions are stored to draw from; export the conditioned sampler")
        self.inner = inner
        self.bank: Tensor
        self.register_buffer("bank", bank.detach().float().clone())
        spec = inner.spec
        assert isinstance(spec, SamplerSpec)
        self._slot = [i.name for i in spec.inputs].index(cond_name)
        inputs = tuple(i for i in spec.inputs if i.name != cond_name)
        self.spec = SamplerSpec(
            inputs=(*inputs, TensorSpec("bank_u", ("batch",), source="uniform", doc="picks a bank row")),
            outputs=(
                *spec.outputs,
                TensorSpec("matched_cond", ("batch", bank.shape[1]), doc="the drawn conditions"),
            ),
            mode="prior",
        )

    def forward(self, *args: Tensor) -> tuple[Tensor, ...]:
        *noise, u = args
        n = self.bank.shape[0]
        index = torch.floor(u * n).to(torch.int64).clamp(0, n - 1)
        cond = self.bank.index_select(0, index)
        inputs = [*noise[: self._slot], cond, *noise[self._slot :]]
        return (*self.inner(*inputs), cond)
