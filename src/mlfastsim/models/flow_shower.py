"""``flow-shower``: a conditional normalising flow of LHCb ECAL showers, trained by maximum likelihood — the
alternative to seed 004's GAN (``cgan-shower``) on the same files, codec and conditions.

A shower is split where its physics splits it:

* the **core**, the central ``patch × patch`` cells of the window (12 × 12 = 240 mm square: 3.4 Molière radii
  each side of the entry cell; 99.5 % of the deposit of the training showers), as one vector
  x = (ln(E_dep / E), ln(e_i + κt)), E_dep the zero-suppressed deposit in the core, e_i [GeV] its cells, t the
  zero-suppression threshold. Cells the detector suppressed (e_i = 0) would be point masses; in training they
  are dequantised — e_i drawn uniformly in (0, κt), κ = ``dequantise`` (the small uniform noise of CaloFlow,
  Krause & Shih, arXiv:2106.05285) — so in x they fill a band of width ln 2 a gap of ln(1/2κ) below every real
  cell (≥ t): the flow learns two separated modes, not a hard edge, and what it puts in the gap is suppressed
  again when decoding. x is standardised per entry (statistics of
  the training showers, fitted in ``prepare``) and modelled by a flow p(x | c) conditioned on the codec's five
  conditions, from `zuko <https://github.com/probabilists/zuko>`_: ``transforms`` coupling transforms, each
  conditioned by an MLP of ``hidden`` widths — rational-quadratic splines (Durkan et al., "Neural Spline
  Flows", arXiv:1906.04032; zuko's NSF with two passes), whose monotone maps can open the gap between the two
  modes, or affine ones (RealNVP, Dinh et al., arXiv:1605.08803: cheaper, but an affine map of a Gaussian
  leaks mass into the gap — measured: 20–25 spurious cells per shower). Decoding: e_i = exp(x_i) − κt, cells below t
  suppressed, the rest rescaled to sum to E_dep (twice: the generated cells need not sum to it) —
  the core's deposit is exactly the flow's first entry.
* the **outer cells** (the rest of the window): isolated electronics-noise hits and the far tails of the
  highest-energy showers, which a likelihood over 644 mostly empty cells would spend itself on. A table fitted
  in ``prepare`` (no gradients): per cell and decile of ln E, the fraction of training showers where that cell
  is above threshold, and per decile and ring (the cells at one Chebyshev distance from the window's centre)
  the quantiles of those cells' energies — tails near the core are hotter than lone noise hits far out, and
  the energy-weighted widths are dominated by these distant cells; sampling draws each outer cell
  independently from it (two uniforms per cell). With ``outer = "conditional"`` they are drawn instead from
  p(outer | core, c) (:mod:`mlfastsim.models.shower_outer`), trained jointly with the flow: in the reference
  showers the outer cells follow the core's own tail and the incidence direction, which the table cannot.

**Distilled student** (``distill = true``; off by default): a plain MLP regressed onto the trained flow's map
z ↦ f⁻¹(z; c) (:mod:`mlfastsim.models.distill`, as for ``flow-pid``), fitted by the run layer after training;
once fitted, ``sample`` maps the core's noise through it — one MLP call instead of the spline inversions.
Measured (README, "LHCb ECAL showers"): 12× faster, but a smooth regressor cannot follow the flow's steep
map between the two modes of a cell — 14.5 spurious cells per shower, classifier AUC 0.99 — so sampling
inverts the flow itself unless asked.

The loss is the (s)weighted mean negative log-likelihood of x per shower (nats; the dequantisation draws
from the global generator the trainer seeds). Sampling draws all its noise from the caller's generator;
without conditions the model draws them from its bank of training conditions (``matched_cond``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import zuko
from torch import Tensor

from mlfastsim.models.base import Batch
from mlfastsim.models.condition_bank import ConditionBank
from mlfastsim.models.distill import DistilledFlow
from mlfastsim.models.gan import weighted_mean
from mlfastsim.models.shower_fields import ShowerFields
from mlfastsim.models.shower_outer import OuterCells

__all__ = ["FlowShower", "FlowShowerConfig"]

_QUANTILE_MAX = 10_000_000  # torch.quantile takes at most 2**24 values


@dataclass(frozen=True)
class FlowShowerConfig(ShowerFields):
    """Settings of ``flow-shower``; ``grid``, ``n_cond``, ``feature_scale``, ``energy_floor``, ``threshold`` and
    ``log_energy_mean`` / ``log_energy_std`` come from the data (the showers codec).

    Attributes:
        patch: side of the core modelled by the flow [cells]; same parity as ``grid`` (centred), ≤ ``grid``.
        dequantise: κ, the band (0, κt) suppressed cells are drawn in, in training (module docstring).
        coupling: ``spline`` (rational-quadratic spline couplings, zuko's NSF with two passes) or ``affine``
            (RealNVP); transforms: coupling transforms; bins: spline bins; hidden: widths of each
            transform's conditioner MLP. randperm: a random split of the entries into the two coupling halves
            for each transform (zuko's ``randperm``, RealNVP's ``randmask``; drawn from the run's seed and
            saved with the weights), so that neighbouring cells are transformed given each other; off: zuko's
            fixed split of the entries in raster order (ln E_dep and the window's upper rows, then its lower
            rows), reversed every other transform.
        distill: fit the student MLP after training and sample with it (module docstring; off: measured to
            make spurious cells).
        student_hidden: its widths (LeakyReLU 0.2). distill_pairs, distill_steps, distill_batch, distill_lr:
            (z, c) pairs drawn, Adam steps, pairs per step, initial learning rate of its fit.
        outer_bins: ln E bins (quantiles of the training showers) of the outer-cell table.
        outer_quantiles: energy quantiles stored per bin and ring for the outer cells' above-threshold
            energies.
        outer: ``table`` (the fitted table above: each outer cell independent of the shower) or
            ``conditional`` (:mod:`mlfastsim.models.shower_outer`: each outer cell given the conditions and
            the core, trained jointly with the flow); outer_width, outer_hidden, outer_energy_bins: its cell
            embeddings' size, context MLP widths and hit-energy histogram bins.
        bank_size: training conditions kept to sample without given conditions.
    """

    patch: int = 12
    dequantise: float = 0.01
    coupling: Literal["affine", "spline"] = "spline"
    transforms: int = 4
    bins: int = 8
    hidden: tuple[int, ...] = (128, 128)
    randperm: bool = False
    distill: bool = False
    student_hidden: tuple[int, ...] = (512, 512, 512)
    distill_pairs: int = 200_000
    distill_steps: int = 3000
    distill_batch: int = 1024
    distill_lr: float = 1e-3
    outer_bins: int = 10
    outer_quantiles: int = 65
    outer: Literal["table", "conditional"] = "table"
    outer_width: int = 16
    outer_hidden: tuple[int, ...] = (64, 64)
    outer_energy_bins: int = 16
    bank_size: int = 100_000

    def __post_init__(self) -> None:
        if not (0 < self.patch <= self.grid and (self.grid - self.patch) % 2 == 0):
            raise ValueError(
                f"model.patch={self.patch} must be at most the grid ({self.grid}) and of its parity "
                "(the core is centred on the entry cell)"
            )
        if self.outer not in ("table", "conditional"):
            raise ValueError(f"model.outer={self.outer!r}: choose table or conditional")

    @property
    def dims(self) -> int:
        """Entries of the flow's vector: the core's cells and its deposit."""
        return self.patch * self.patch + 1

    def batch_keys(self) -> frozenset[str]:
        """Cells, mask and conditions (weights, where a batch carries them, are honoured)."""
        return frozenset({"features", "mask", "cond"})


class FlowShower(ConditionBank, DistilledFlow):
    """The conditional shower flow (module docstring). Batches: ``features [B, G², 1]`` (codec units
    f = ln(1 + e/ε)/f_max), ``cond [B, 5]``, optional ``weight [B]``."""

    x_mean: Tensor
    x_std: Tensor
    outer_edges: Tensor
    outer_rate: Tensor
    outer_energy: Tensor

    def __init__(self, config: FlowShowerConfig) -> None:
        super().__init__()
        self.config = c = config
        if c.coupling == "spline":
            self.flow: zuko.flows.Flow = zuko.flows.NSF(
                c.dims,
                c.n_cond,
                transforms=c.transforms,
                bins=c.bins,
                hidden_features=list(c.hidden),
                passes=2,
                randperm=c.randperm,
            )
        else:
            self.flow = zuko.flows.RealNVP(
                c.dims, c.n_cond, transforms=c.transforms, hidden_features=list(c.hidden), randmask=c.randperm
            )
        self._init_condition_bank(c.n_cond)
        self.noise_width, self.family = c.dims, "flow-shower"
        self._init_student(c.n_cond)
        a = (c.grid - c.patch) // 2
        inside = torch.zeros(c.grid, c.grid, dtype=torch.bool)
        inside[a : a + c.patch, a : a + c.patch] = True
        self.core_idx: Tensor
        self.outer_idx: Tensor
        self.register_buffer("core_idx", inside.flatten().nonzero()[:, 0], persistent=False)
        self.register_buffer("outer_idx", (~inside).flatten().nonzero()[:, 0], persistent=False)
        half = (torch.arange(c.grid, dtype=torch.float32) - (c.grid - 1) / 2).abs()
        ring = (torch.maximum(half[:, None], half[None, :]) - c.patch / 2 - 0.5).round().long().flatten()
        self.outer_ring: Tensor  # [G² − patch²]: 0 next to the core, (grid − patch)/2 − 1 at the edge
        self.register_buffer("outer_ring", ring[self.outer_idx], persistent=False)
        self.n_rings = (c.grid - c.patch) // 2
        n_out = c.grid * c.grid - c.patch * c.patch
        self.register_buffer("x_mean", torch.zeros(c.dims))
        self.register_buffer("x_std", torch.ones(c.dims))
        self.register_buffer("outer_edges", torch.zeros(c.outer_bins - 1))
        self.register_buffer("outer_rate", torch.zeros(c.outer_bins, n_out))
        shape = (c.outer_bins, max(self.n_rings, 1), c.outer_quantiles)
        self.register_buffer("outer_energy", torch.full(shape, c.threshold))
        self.outer_model = (
            OuterCells(n_out, c.patch, c.n_cond, c.threshold, c.outer_width, tuple(c.outer_hidden),
                       c.outer_energy_bins)
            if c.outer == "conditional" else None
        )  # fmt: skip

    # ---- representation ------------------------------------------------------------------------------
    def encode_core(self, features: Tensor, cond: Tensor, dequantise: bool = True) -> Tensor:
        """The flow's vector ``[B, dims]`` (standardised; module docstring) of ``features [B, G², 1]``;
        ``dequantise``: suppressed cells drawn uniformly in (0, κt) (the global generator) rather than at κt/2."""
        c = self.config
        e = self.config.energies(features.flatten(1)[:, self.core_idx].float())
        dep = e.sum(1).clamp_min(c.threshold)  # an empty core: the threshold (never empty in practice)
        fill = torch.rand_like(e) if dequantise else torch.full_like(e, 0.5)
        floor = c.dequantise * c.threshold
        e = torch.where(e > 0, e, fill * floor)
        x = torch.cat([(dep.log() - self.config.log_energy(cond))[:, None], torch.log(e + floor)], 1)
        return (x - self.x_mean) / self.x_std

    def decode_core(self, x: Tensor, cond: Tensor) -> Tensor:
        """Core cell energies [GeV] ``[B, patch²]`` of the flow's standardised vectors ``x [B, dims]``:
        exp(x_i) − κt, suppressed below t, the rest rescaled to the deposit (twice, module docstring)."""
        c = self.config
        x = x * self.x_std + self.x_mean
        dep = torch.exp(x[:, 0] + self.config.log_energy(cond))
        e = torch.exp(x[:, 1:]) - c.dequantise * c.threshold
        for _ in range(2):  # the second rescaling only scales up: no cell falls below t again
            e = torch.where(e >= c.threshold, e, torch.zeros_like(e))
            e = e * (dep / e.sum(1).clamp_min(1e-12))[:, None]
        return e

    def _outer_bin(self, cond: Tensor) -> Tensor:
        return torch.bucketize(cond[:, 4].contiguous(), self.outer_edges)

    def sample_outer(self, cond: Tensor, generator: torch.Generator | None) -> Tensor:
        """Outer cell energies [GeV] ``[B, G² − patch²]`` drawn from the fitted table (module docstring)."""
        b = self._outer_bin(cond)
        u = torch.rand(2, len(cond), self.outer_idx.numel(), generator=generator, device=cond.device)
        hit = u[0] < self.outer_rate[b]
        n_q = self.outer_energy.shape[-1]  # inverse CDF at evenly spaced probabilities, per (bin, ring)
        pos = u[1] * (n_q - 1)
        lo = pos.floor().long().clamp_max(n_q - 2)
        w = pos - lo
        flat = self.outer_energy.flatten()
        at = (b[:, None] * self.outer_energy.shape[1] + self.outer_ring[None, :]) * n_q + lo
        energy = flat[at] * (1 - w) + flat[at + 1] * w
        return torch.where(hit, energy, torch.zeros_like(energy))

    # ---- GenerativeModel / Prepared ------------------------------------------------------------------
    def log_prob(self, x: Tensor, cond: Tensor) -> Tensor:
        """log p(x | c) ``[B]`` (nats) of standardised core vectors ``x [B, dims]``."""
        return self.flow(cond).log_prob(x)

    def _split(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """Core and outer cell energies [GeV] ``[B, patch²]``, ``[B, G² − patch²]`` of ``features [B, G², 1]``."""
        e = self.config.energies(features.flatten(1).float())
        return e[:, self.core_idx], e[:, self.outer_idx]

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """``loss``: the weighted mean negative log-likelihood per shower of the core and, with the conditional
        outer model, of the outer cells given the core (``nll_core``, ``nll_outer``; module docstring)."""
        cond, weight = batch["cond"], batch.get("weight")
        x = self.encode_core(batch["features"], cond)
        nll = weighted_mean(-self.log_prob(x, cond), weight)
        if self.outer_model is None:
            return {"loss": nll}
        core, outer = self._split(batch["features"])
        nll_outer = weighted_mean(-self.outer_model.log_prob(outer, core, cond), weight)
        return {"loss": nll + nll_outer, "nll_core": nll, "nll_outer": nll_outer}

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        return self.loss(batch)

    def prepare(self, data: Batch) -> None:
        """Fit the standardisation of the core vectors (without dequantisation noise: suppressed cells at κt/2)
        and the outer-cell table (or the conditional outer model's summary statistics, hit-rate biases and
        energy bins) on the training showers ``data``; keep up to ``bank_size`` conditions."""
        c = self.config
        self.store_evenly_spaced(data["cond"], c.bank_size)
        cond = data["cond"].to(self.x_mean.device, torch.float32)
        features = data["features"].to(cond.device)
        with torch.no_grad():
            self.x_mean.zero_()
            self.x_std.fill_(1.0)
            x = torch.cat([self.encode_core(features[i : i + 20_000], cond[i : i + 20_000], False)
                           for i in range(0, len(cond), 20_000)])  # fmt: skip
            self.x_mean.copy_(x.mean(0))
            self.x_std.copy_(x.std(0).clamp_min(1e-3))
            if self.outer_model is not None:
                core, outer = self._split(features)
                self.outer_model.fit(core, outer)
                return
            probs = torch.linspace(0, 1, c.outer_bins + 1, device=cond.device)[1:-1]
            self.outer_edges.copy_(torch.quantile(cond[:, 4], probs))
            outer = self.config.energies(features.flatten(1)[:, self.outer_idx].float())
            b = self._outer_bin(cond)
            levels = torch.linspace(0, 1, c.outer_quantiles, device=cond.device)
            for k in range(c.outer_bins):
                cells = outer[b == k]
                if len(cells) == 0:
                    continue
                self.outer_rate[k] = (cells > 0).float().mean(0)
                for r in range(self.n_rings):
                    ring = cells[:, self.outer_ring == r]
                    hits = ring[ring > 0]
                    if hits.numel() > 0:
                        self.outer_energy[k, r] = torch.quantile(hits[:_QUANTILE_MAX], levels)

    def cells(self, noise: Tensor, cond: Tensor, generator: torch.Generator | None) -> Tensor:
        """Codec units ``[B, G²]`` of showers from the core's ``noise [B, dims]`` (through :meth:`generator`)
        and the outer table."""
        c = self.config
        core = self.decode_core(self.generator(noise, cond), cond)
        e = torch.zeros(len(cond), c.grid * c.grid, device=cond.device)
        e[:, self.core_idx] = core
        e[:, self.outer_idx] = (
            self.sample_outer(cond, generator)
            if self.outer_model is None
            else self.outer_model.sample(core, cond, generator)
        )
        return torch.log1p(e / c.energy_floor) / c.feature_scale

    def sample(self, n: int, cond: Batch | None = None, generator: torch.Generator | None = None) -> Batch:
        """``{"features": [n, G², 1], "mask": [n, G²]}`` for ``cond["cond"] [n, 5]``, or for conditions drawn
        from the bank (then also ``matched_cond``)."""
        missing = "flow-shower needs conditions: it has no training conditions stored"
        c, out = self.given_or_drawn(n, cond, generator, missing)
        z = torch.randn(n, self.config.dims, generator=generator, device=c.device)
        f = self.cells(z, c, generator)
        out.update(features=f.unsqueeze(-1), mask=torch.ones(f.shape, dtype=torch.bool, device=c.device))
        return out
