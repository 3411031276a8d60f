"""The outer cells of ``flow-shower`` given the shower: p(outer | core, c), factorised over the cells.

Outside the flow's core the window holds isolated noise hits and the far tails of the shower — 32 % of
the width_x² summed over the reference showers (26 % per shower on average), from 0.7 % of their energy. A table of
per-cell rates and per-ring energies (``model.outer = "table"``) draws them independently of the shower; in
the reference showers their moment correlates with the core's own tail (0.09–0.29 per ln E quintile) and with the
incidence angle, and shuffling the reference's outer cells among showers of one ln E bin alone lifts the
widths' W1 from the truth-vs-truth floor (0.065–0.094 mm) to 0.175–0.203 mm (README, "LHCb ECAL showers").

This model (``model.outer = "conditional"``) conditions each outer cell j on a context h = (c, s(core)): the
five normalised conditions and a summary of the core's cells (energy fraction per Chebyshev ring, centroid,
second moments, deposit; standardised on the training showers). A shared MLP maps h to per-shower
coefficient vectors a_k(h) ∈ R^W, one per head k; each head's value in cell j is a_k(h) · φ_j + b_kj with
learned cell embeddings φ_j ∈ R^W and biases b_kj — a low-rank, cell-resolved conditional model at a cost
of B · cells · heads · W per batch. Heads: the hit logit of the cell (Bernoulli: above threshold t or
suppressed) and the logits of a histogram density of v = ln(e/t) for a hit's energy e > t, over ``bins``
bins at quantiles 1 − (1 − i/bins)³ of the training hits' v, uniform within each, bounded by the largest
training hit. Measured before (outer cells trained alone for 3 epochs on a trained flow's core): a Gaussian
mixture in ln v drew too many hot far cells (its tail, doubly exponentiated: widths' W1 0.56–0.66 mm), and
evenly spaced quantile bins, whose last bin spans the steep tail uniformly, 7 % too much outer energy.
The loss is the exact negative log-likelihood of the training showers' outer cells (of v for the hits; the
Jacobian to e carries no parameter) — trained jointly with the flow, teacher-forced on the data's core;
sampling conditions on the generated core.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mlfastsim.models.export_nn import categorical_from_uniform
from mlfastsim.models.nn import mlp

__all__ = ["OuterCells", "core_summary"]


def core_summary(core: Tensor, patch: int) -> Tensor:
    """``[B, patch/2 + 6]`` of core cell energies ``core [B, patch²]`` [GeV] (window centre at the patch's
    centre): the deposit's fraction in each Chebyshev ring (ln, floored at 10⁻⁴), the centroid (x, y) and
    the central moments xx, yy, xy [cells, cells²], ln of the deposit [ln GeV]."""
    b = core.shape[0]
    e = core.view(b, patch, patch)
    h = torch.arange(patch, device=core.device, dtype=core.dtype) - (patch - 1) / 2
    ring = torch.maximum(h.abs()[:, None], h.abs()[None, :]).floor().long()  # 0 … patch/2 − 1
    dep = e.sum((1, 2)).clamp_min(1e-6)
    fr = torch.zeros(b, patch // 2, device=core.device, dtype=core.dtype)
    fr.index_add_(1, ring.flatten(), core)
    fr = (fr / dep[:, None]).clamp_min(1e-4).log()
    x, y = h[None, None, :], h[None, :, None]
    cx, cy = (e * x).sum((1, 2)) / dep, (e * y).sum((1, 2)) / dep
    dx, dy = x - cx[:, None, None], y - cy[:, None, None]
    mom = [(e * dx * dx).sum((1, 2)) / dep, (e * dy * dy).sum((1, 2)) / dep, (e * dx * dy).sum((1, 2)) / dep]
    return torch.cat([fr, torch.stack([cx, cy, *mom, dep.log()], 1)], 1)


class OuterCells(nn.Module):
    """The conditional outer-cell model (module docstring) of ``n_out`` cells around a ``patch``² core.

    Args:
        n_out: outer cells (their order: the caller's). patch: the core's side [cells]. n_cond: conditions.
        threshold: zero suppression t [GeV]. width: W, the cell embeddings' size. hidden: the context MLP's
        widths. bins: bins of the hit-energy histogram.
    """

    summary_mean: Tensor
    summary_std: Tensor
    edges: Tensor

    def __init__(
        self, n_out: int, patch: int, n_cond: int, threshold: float, width: int = 16,
        hidden: tuple[int, ...] = (64, 64), bins: int = 16,
    ) -> None:  # fmt: skip
        super().__init__()
        self.patch, self.threshold, self.bins, self.width = patch, threshold, bins, width
        self.heads = 1 + bins
        n_summary = patch // 2 + 6
        self.net = mlp([n_cond + n_summary, *hidden, self.heads * width])
        self.embed = nn.Parameter(torch.randn(n_out, width) / math.sqrt(width))
        self.bias = nn.Parameter(torch.zeros(self.heads, n_out))
        self.register_buffer("summary_mean", torch.zeros(n_summary))
        self.register_buffer("summary_std", torch.ones(n_summary))
        self.register_buffer("edges", torch.linspace(0.0, 5.0, bins + 1))

    def _hits(self, outer: Tensor) -> Tensor:
        """Cells above the zero suppression (half of t: codec rounding) of energies ``outer`` [GeV]."""
        return outer > 0.5 * self.threshold

    def _v(self, outer: Tensor) -> Tensor:
        """v = ln(e/t) of cell energies ``outer`` (suppressed cells: 0), within the histogram's edges."""
        return (outer.clamp_min(self.threshold) / self.threshold).log().clamp(self.edges[0], self.edges[-1])

    @torch.no_grad()
    def fit(self, core: Tensor, outer: Tensor) -> None:
        """Standardise the core summary, start the hit biases at the training showers' per-cell hit rates and
        put the histogram's edges at quantiles of their hits' v (``core [N, patch²]``, ``outer [N, n_out]``
        [GeV])."""
        s = torch.cat([core_summary(core[i : i + 20_000], self.patch) for i in range(0, len(core), 20_000)])
        self.summary_mean.copy_(s.mean(0))
        self.summary_std.copy_(s.std(0).clamp_min(1e-3))
        hit = self._hits(outer)
        rate = hit.float().mean(0).clamp(1e-5, 1 - 1e-5)
        self.bias[0].copy_(torch.log(rate) - torch.log1p(-rate))
        v = (outer[hit] / self.threshold).log().clamp_min(0)[:10_000_000]
        if v.numel() == 0:
            return
        x = torch.linspace(0, 1, self.bins + 1, dtype=v.dtype, device=v.device)
        edges = torch.quantile(v, 1 - (1 - x) ** 3)  # finer in the steep tail: the last bin holds bins⁻³
        edges[0] = 0.0
        for i in range(1, len(edges)):  # strictly increasing (a quantile may repeat)
            edges[i] = torch.maximum(edges[i], edges[i - 1] + 1e-4)
        self.edges.copy_(edges)

    def params(self, core: Tensor, cond: Tensor) -> Tensor:
        """The heads ``[B, heads, n_out]`` (hit logit; the energy histogram's logits) for core cell
        energies ``core [B, patch²]`` [GeV] and normalised conditions ``cond [B, n_cond]``."""
        s = (core_summary(core, self.patch) - self.summary_mean) / self.summary_std
        a = self.net(torch.cat([cond, s], 1)).view(len(cond), self.heads, self.width)
        return torch.einsum("bhw,jw->bhj", a, self.embed) + self.bias

    def _bin_log_density(self, p: Tensor) -> Tensor:
        """ln of the histogram's density of v in each bin ``[B, bins, n_out]``."""
        return p[:, 1:].log_softmax(1) - (self.edges[1:] - self.edges[:-1]).log()[None, :, None]

    def log_prob(self, outer: Tensor, core: Tensor, cond: Tensor) -> Tensor:
        """ln p(outer | core, c) ``[B]`` (nats; the hits' energies as densities of v) of outer cell energies
        ``outer [B, n_out]`` [GeV] (0: suppressed)."""
        p = self.params(core, cond)
        hit = self._hits(outer)
        logit = p[:, 0]
        ll = torch.where(hit, F.logsigmoid(logit), F.logsigmoid(-logit))
        k = (torch.bucketize(self._v(outer), self.edges[1:-1].contiguous())).unsqueeze(1)  # [B, 1, n_out]
        density = self._bin_log_density(p).gather(1, k)[:, 0]
        return (ll + torch.where(hit, density, torch.zeros_like(logit))).sum(1)

    def sample(self, core: Tensor, cond: Tensor, generator: torch.Generator | None) -> Tensor:
        """Outer cell energies [GeV] ``[B, n_out]`` given the core ``[B, patch²]`` [GeV] and ``cond``: a hit with
        the cell's probability, its v from the histogram (a bin, then uniformly within it)."""
        p = self.params(core, cond)
        b, n = p.shape[0], p.shape[2]
        u = torch.rand(3, b, n, generator=generator, device=p.device, dtype=p.dtype)
        k = categorical_from_uniform(p[:, 1:].transpose(1, 2), u[1].unsqueeze(-1)).squeeze(-1)  # [B, n]
        lo, hi = self.edges[k], self.edges[k + 1]
        energy = self.threshold * torch.exp(lo + u[2] * (hi - lo))
        return torch.where(u[0] < torch.sigmoid(p[:, 0]), energy, torch.zeros_like(energy))
