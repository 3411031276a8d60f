"""``cgan-tpc``: seed 004's conditional GAN of NICA MPD TPC pad-row windows (8 pads × 16 time buckets).

Maevskiy, Ratnikov, Zinchenko, Riabov, "Simulating the time projection chamber responses at the MPD detector
using generative adversarial networks", EPJC 81 (2021) 599, arXiv:2012.04595: a fully connected generator
maps noise (latent 32) and the track segment's parameters to the window; WGAN-GP (λ = 10, 8 critic steps per
generator step, batch 32, learning rate 10⁻⁴). Here:

* generator G(z, c): an MLP (latent ⊕ 6 normalised conditions → hidden → 128 cells, ReLU output in the codec's
  f = ln(1 + ADC/s)/ln(1 + 4095/s) units), so :meth:`CGANTPC.generator` is one plain network (issue 11 exports
  it to ONNX and C); cells below the zero-suppression threshold are zeroed when sampling (the codec digitises
  the same way) and softly gated while training, so the critic never sees what decoding would remove;
* critic D(x, c): an MLP on the cells beside an embedding of the conditions and differentiable
  reconstruction-level features of the window — log charge, the charge-weighted centroid's residual to the
  segment's crossing point in pad and in time, the RMS widths, the soft number of cells above threshold —
  the quantities the evaluation judges (seed 004's "physics metric as an object feature"); the crossing point
  is recovered from the normalised conditions with the codec's statistics (``cond_mean``, ``cond_std``);
* losses from :mod:`mlfastsim.models.gan` (weighted WGAN-GP, or Cramér).

Parameter groups (:class:`~mlfastsim.models.base.Adversarial`): critic, generator. :meth:`CGANTPC.loss` is a
monitor: the Wasserstein estimate and ``physics_w1``, the mean over the reconstruction features of the
batch's 1-D W1 between generated and real windows of the same segments, in units of the real spread (a
critic-free measure that ``train.best_metric`` can select ``best.pt`` with).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from mlfastsim.models.base import Batch
from mlfastsim.models.condition_bank import ConditionBank
from mlfastsim.models.export_nn import BankSampler, MLPSampler, ZeroBelow, mlp_spec
from mlfastsim.models.gan import (
    cramer_critic_loss,
    cramer_generator_loss,
    wgan_critic_loss,
    wgan_generator_loss,
)
from mlfastsim.models.nn import LeakyReLU02, mlp

__all__ = ["CGANTPC", "CGANTPCConfig", "Scale", "WindowSampler", "grouped_energy", "grouped_w1"]

# columns of the codec's conditions (data.kinds.tpc.codec.MODEL_CONDITIONS) holding the crossing point's
# fraction of a pad and of a bucket; the window places the crossing at pad 3 + fraction, bucket 7 + fraction
_PAD_FRACTION, _TIME_FRACTION = 2, 4
_PAD_BEFORE, _TIME_BEFORE = 3.0, 7.0
N_SUMMARY = 6
#: the unit of the physics term's groups: the batch's real spread or each group's own (:func:`_grouped`)
Scale = Literal["batch", "group"]


def _grouped(
    real: Tensor,
    fake: Tensor,
    keys: list[Tensor],
    groups: int,
    distance: Callable[[Tensor, Tensor], Tensor],
    scale: Scale = "batch",
) -> Tensor:
    """The mean of ``distance(real, fake)`` (``[G, m, F]`` each → ``[G, F]``) over the columns of features
    ``real``, ``fake [B, F]`` in units of each column's real spread: over the whole batch and, for each key
    ``[B]`` in ``keys``, within each of ``groups`` equal-count groups of the batch ordered by that key. The
    groups' distances are in units of the whole batch's spread (``scale="batch"``: a group of narrow
    features weighs less) or of their own group's real spread (``"group"``: every group weighs alike)."""
    spread = real.std(0).clamp_min(1e-3).detach()
    terms = [(distance(real[None], fake[None])[0] / spread).mean()]
    size = len(real) // groups
    for key in keys if groups > 1 and size > 1 else []:
        order = key.argsort()[: groups * size]
        r, f = (x[order].reshape(groups, size, -1) for x in (real, fake))
        unit = spread if scale == "batch" else r.std(1).clamp_min(1e-3).detach()
        terms.append((distance(r, f) / unit).mean())
    return torch.stack(terms).mean()


def _w1(real: Tensor, fake: Tensor) -> Tensor:
    return (fake.sort(1).values - real.sort(1).values).abs().mean(1)


def _energy(real: Tensor, fake: Tensor) -> Tensor:
    """Per group and column, the 1-D energy distance as a U-statistic (:func:`~mlfastsim.models.gan.energy_distance`
    is the multivariate, weighted V-statistic, biased towards wide samples in groups this small)."""
    m = real.shape[1]
    cross = (fake[:, :, None] - real[:, None]).abs().mean((1, 2))
    within = (fake[:, :, None] - fake[:, None]).abs().sum((1, 2)) / (m * (m - 1))
    real_within = (real[:, :, None] - real[:, None]).abs().sum((1, 2)) / (m * (m - 1))
    return 2 * cross - within - real_within


def grouped_w1(real: Tensor, fake: Tensor, keys: list[Tensor], groups: int, scale: Scale = "batch") -> Tensor:
    """Mean over the columns of features ``real``, ``fake [B, F]`` (the same B segments) of their 1-D W1 (sorted
    samples) in units of each column's real spread — over the whole batch and, for each key ``[B]`` in
    ``keys``, within each of ``groups`` equal-count groups of the batch ordered by that key (``scale``: the
    groups' unit, the batch's spread or their own, :func:`_grouped`): a scalar, the mean of those
    1 + len(keys) terms, differentiable in ``fake``. Between m draws of each, W1 is smallest in expectation
    for a ``fake`` narrower than ``real`` (the bias grows as m shrinks)."""
    return _grouped(real, fake, keys, groups, _w1, scale)


def grouped_energy(
    real: Tensor, fake: Tensor, keys: list[Tensor], groups: int, scale: Scale = "batch"
) -> Tensor:
    """As :func:`grouped_w1` with the 1-D energy distance 2 E|X − Y| − E|X − X'| − E|Y − Y'| (Székely & Rizzo;
    the pairs within a sample exclude the diagonal, so the estimate is unbiased) in place of W1: its expectation
    is smallest exactly when ``fake`` follows ``real``'s distribution, for any group size."""
    return _grouped(real, fake, keys, groups, _energy, scale)


_MEASURES = {"w1": grouped_w1, "energy": grouped_energy}


class WindowSampler(nn.Module):
    """``forward(noise [B, latent], conditions [B, n_cond]) → cells [B, 128]``: the generator with its ReLU and hard
    zero suppression, nothing random inside (static shapes: what export traces); shares the weights."""

    def __init__(self, net: nn.Sequential, threshold: float) -> None:
        super().__init__()
        self.net, self.threshold = net, threshold

    def forward(self, noise: Tensor, conditions: Tensor) -> Tensor:
        f = torch.relu(self.net(torch.cat([noise, conditions], dim=1)))
        return torch.where(f >= self.threshold, f, torch.zeros_like(f))


@dataclass(frozen=True)
class CGANTPCConfig:
    """Settings of ``cgan-tpc``; ``n_pads``, ``n_time``, ``n_cond``, ``threshold``, ``feature_scale``,
    ``adc_scale``, ``cond_mean`` and ``cond_std`` come from the data (the tpc codec).

    Attributes:
        latent: noise dimensions (MPD: 32). gen_hidden: generator MLP widths. critic_hidden: critic widths
            (the first on the cells). summary: give the critic the reconstruction features (module docstring).
        loss: ``wgan-gp`` (MPD) or ``cramer``. gp_lambda: gradient-penalty weight (MPD: 10). critic_steps:
            critic steps per generator step (MPD: 8). cramer_dim: the Cramér critic's feature dimension.
        gate_width: width (f units) of the soft zero-suppression gate while training.
        physics_weight: λ of an extra generator term λ · ``physics_w1`` (0: the paper's pure WGAN-GP), the
            batch's W1 of the reconstruction features between generated and real windows of the same
            segments, as seed 004's shower GAN adds its regressed asymmetry's W1 (unweighted: TPC windows
            carry no per-event weights).
        physics_groups: with g > 1, ``physics_w1`` also compares the features within g equal-count groups
            of the batch ordered by |φ|, by |λ| and by the drift length (the conditions that set the
            residuals' widths), so the term sees how the widths vary with them, not only their batch mixture.
        physics_distance: what the generator's physics term measures: ``w1`` (:func:`grouped_w1`, biased
            towards narrow features in small groups) or ``energy`` (:func:`grouped_energy`, unbiased). The
            validation monitor ``physics_w1`` is the W1 either way (in the units ``physics_scale`` sets).
        physics_scale: the unit of the groups' distances: ``batch`` (the batch's real spread, so groups of
            narrow features, the small angles, weigh less) or ``group`` (each group's own real spread).
        bank_size: training conditions kept for sampling without conditions.
    """

    n_pads: int = 8
    n_time: int = 16
    n_max: int = 128
    n_features: int = 1
    n_cond: int = 6
    threshold: float = 0.141
    feature_scale: float = 4.92
    adc_scale: float = 30.0
    cond_mean: tuple[float, ...] = ()
    cond_std: tuple[float, ...] = ()
    latent: int = 32
    gen_hidden: tuple[int, ...] = (256, 256, 256)
    critic_hidden: tuple[int, ...] = (256, 256)
    summary: bool = True
    loss: Literal["wgan-gp", "cramer"] = "wgan-gp"
    gp_lambda: float = 10.0
    critic_steps: int = 8
    cramer_dim: int = 32
    gate_width: float = 0.01
    physics_weight: float = 0.0
    physics_groups: int = 1
    physics_distance: Literal["w1", "energy"] = "w1"
    physics_scale: Scale = "batch"
    bank_size: int = 100_000

    def batch_keys(self) -> frozenset[str]:
        """Cells, mask and conditions."""
        return frozenset({"features", "mask", "cond"})


class CGANTPC(ConditionBank):
    """The conditional TPC-window GAN (module docstring). Batches: ``features [B, 128, 1]`` (codec units),
    ``cond [B, n_cond]`` (6, or 8 with the codec's spans), optional ``weight [B]``."""

    def __init__(self, config: CGANTPCConfig) -> None:
        super().__init__()
        c = self.config = config
        cells = c.n_pads * c.n_time
        self.gen = mlp([c.latent + c.n_cond, *c.gen_hidden, cells], activation=LeakyReLU02)
        self.cells = nn.Sequential(nn.Linear(cells, c.critic_hidden[0]), LeakyReLU02())
        self.cond_net = nn.Sequential(nn.Linear(c.n_cond, 64), LeakyReLU02())
        n_extra = N_SUMMARY if c.summary else 0
        out = c.cramer_dim if c.loss == "cramer" else 1
        self.head = mlp(
            [c.critic_hidden[0] + 64 + n_extra, *c.critic_hidden[1:], out], activation=LeakyReLU02
        )
        pads = torch.arange(c.n_pads, dtype=torch.float32).repeat_interleave(c.n_time)  # cell = pad · T + t
        self.register_buffer("pads", pads, persistent=False)
        self.register_buffer(
            "times", torch.arange(c.n_time, dtype=torch.float32).repeat(c.n_pads), persistent=False
        )
        mean = list(c.cond_mean) or [0.0] * c.n_cond
        std = list(c.cond_std) or [1.0] * c.n_cond
        self.register_buffer("cond_mean", torch.tensor(mean, dtype=torch.float32), persistent=False)
        self.register_buffer("cond_std", torch.tensor(std, dtype=torch.float32), persistent=False)
        self.pads: Tensor
        self.times: Tensor
        self.cond_mean: Tensor
        self.cond_std: Tensor
        self._init_condition_bank(c.n_cond)

    # ---- the plain generator path -------------------------------------------------------------------
    def generator(self, noise: Tensor, conditions: Tensor) -> Tensor:
        """Cells ``[B, 128]`` (codec units, ≥ 0; cell = pad · 16 + bucket) for ``noise [B, latent]`` and
        normalised ``conditions [B, n_cond]``: one MLP, no randomness inside (what export traces)."""
        return torch.relu(self.gen(torch.cat([noise, conditions], dim=1)))

    def sampler(self) -> WindowSampler:
        """The generator with hard zero suppression as one module of (noise, conditions) (what ``sample`` runs)."""
        return WindowSampler(self.gen, self.config.threshold)

    def pure_sampler(self, mode: Literal["conditioned", "prior"]) -> nn.Module:
        """:meth:`sampler` for export (:class:`~mlfastsim.models.base.Exportable`): a plain MLP (ReLU, hard zero
        suppression) of (noise, conditions), so C export applies; ``prior`` draws the conditions from the bank."""
        c = self.config
        cells = c.n_pads * c.n_time
        net = nn.Sequential(*self.gen, nn.ReLU(), ZeroBelow(c.threshold))
        spec = mlp_spec(c.latent, c.n_cond, cells, "window cells (codec units)", (cells, 1), (cells,))
        sampler = MLPSampler(net, spec)
        return sampler if mode == "conditioned" else BankSampler(sampler, self.condition_bank)

    def _gate(self, f: Tensor) -> Tensor:
        """Soft zero suppression: f · σ((f − f_thr)/width) (sampling and decoding apply the hard cut)."""
        return f * torch.sigmoid((f - self.config.threshold) / self.config.gate_width)

    def _fake(self, cond: Tensor, generator: torch.Generator | None = None) -> Tensor:
        z = torch.randn(
            len(cond), self.config.latent, generator=generator, device=cond.device, dtype=cond.dtype
        )
        return self._gate(self.generator(z, cond))

    # ---- critic and its reconstruction features ----------------------------------------------------------
    def summary_features(self, x: Tensor, cond: Tensor) -> Tensor:
        """``[B, 6]`` differentiable reconstruction features of windows ``x [B, 128]``: ln(1 + charge/1000 ADC),
        centroid − crossing point in pads and in buckets, RMS width in pads and in buckets, ln(1 + soft count
        of cells above threshold). An empty window has centroid residuals 0 and widths 0."""
        c = self.config
        adc = c.adc_scale * torch.expm1(x.clamp(0.0, 1.5) * c.feature_scale)
        total = adc.sum(1)
        norm = total.clamp_min(1.0)
        p, t = (adc * self.pads).sum(1) / norm, (adc * self.times).sum(1) / norm
        wp = ((adc * self.pads**2).sum(1) / norm - p**2).clamp_min(1e-6).sqrt()
        wt = ((adc * self.times**2).sum(1) / norm - t**2).clamp_min(1e-6).sqrt()
        phys = self._physical(cond)
        has = (total > 1.0).to(x.dtype)
        dp = (p - _PAD_BEFORE - phys[:, _PAD_FRACTION]) * has
        dt = (t - _TIME_BEFORE - phys[:, _TIME_FRACTION]) * has
        count = torch.sigmoid((x - c.threshold) / c.gate_width).sum(1)
        return torch.stack(
            [torch.log1p(total / 1000.0), dp, dt, wp * has, wt * has, torch.log1p(count)], dim=1
        )

    def _physical(self, cond: Tensor) -> Tensor:
        """The codec's conditions before standardisation, from normalised ``cond [B, n_cond]``."""
        return cond * self.cond_std + self.cond_mean

    def critic(self, x: Tensor, cond: Tensor) -> Tensor:
        """The critic: scores ``[B]`` (WGAN-GP) or features ``[B, cramer_dim]`` (Cramér) of windows ``[B, 128]``."""
        parts = [self.cells(x), self.cond_net(cond)]
        if self.config.summary:
            parts.append(self.summary_features(x, cond))
        out = self.head(torch.cat(parts, dim=1))
        return out[:, 0] if self.config.loss == "wgan-gp" else out

    # ---- Adversarial -------------------------------------------------------------------------------------
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """critic, then generator."""
        critic = [*self.cells.parameters(), *self.cond_net.parameters(), *self.head.parameters()]
        return {"critic": critic, "generator": list(self.gen.parameters())}

    def group_steps(self) -> dict[str, int]:
        return {"critic": self.config.critic_steps, "generator": 1}

    def group_loss(self, group: str, batch: Batch) -> dict[str, Tensor]:
        """The loss of ``group`` on ``batch`` (honours ``batch["weight"]``)."""
        real, cond = batch["features"].flatten(1), batch["cond"]
        weight = batch.get("weight")
        c = self.config
        fake = self._fake(cond)
        if group == "critic":
            if c.loss == "cramer":
                return cramer_critic_loss(
                    self.critic, real, fake, self._fake(cond), cond, weight, c.gp_lambda
                )
            return wgan_critic_loss(self.critic, real, fake, cond, weight, c.gp_lambda)
        if group == "generator":
            if c.loss == "cramer":
                adv = cramer_generator_loss(self.critic, real, fake, self._fake(cond), cond, weight)
            else:
                adv = wgan_generator_loss(self.critic, fake, cond, weight)
            if c.physics_weight == 0:
                return {"loss": adv, "adversarial": adv.detach()}
            physics = self.physics_term(real, fake, cond, c.physics_distance)
            loss = adv + c.physics_weight * physics
            return {
                "loss": loss,
                "adversarial": adv.detach(),
                f"physics_{c.physics_distance}": physics.detach(),
            }
        raise KeyError(f"cgan-tpc has no parameter group {group!r}")

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """A monitor for validation: ``loss``, the generator's loss through the current critic (it reaches
        every parameter), the critic's Wasserstein estimate ``wasserstein`` = E D(x) − E D(x̃) (or the Cramér
        energy term) and ``physics_w1`` (module docstring, critic-free: what ``best_metric`` follows).
        Training minimises :meth:`group_loss` instead."""
        real, cond = batch["features"].flatten(1), batch["cond"]
        fake = self._fake(cond)
        if self.config.loss == "cramer":
            fake2 = self._fake(cond)
            w_est = cramer_generator_loss(self.critic, real, fake, fake2, cond)
            gen = w_est
        else:
            d_fake = self.critic(fake, cond).mean()
            w_est, gen = self.critic(real, cond).mean() - d_fake, -d_fake
        physics = self.physics_term(real, fake.detach(), cond, "w1")
        return {"loss": gen, "wasserstein": w_est.detach(), "physics_w1": physics.detach()}

    def physics_term(
        self, real: Tensor, fake: Tensor, cond: Tensor, distance: Literal["w1", "energy"]
    ) -> Tensor:
        """Mean over the :meth:`summary_features` of the 1-D W1 (sorted samples; ``distance="energy"``: the
        energy distance) between ``fake`` and ``real`` windows ``[B, 128]`` of the same segments ``cond``, each
        in units of the real batch's spread: a scalar, differentiable in ``fake``. With ``physics_groups``
        g > 1, the mean of that over the whole batch and over its g groups by |φ|, |λ| and drift length
        (each group in the unit ``physics_scale`` says)."""
        s_real, s_fake = self.summary_features(real, cond), self.summary_features(fake, cond)
        keys: list[Tensor] = []
        if self.config.physics_groups > 1:
            phys = self._physical(cond).detach()
            keys = [phys[:, 0].abs(), phys[:, 1].abs(), phys[:, 3]]  # |φ|, |λ|, drift length
        c = self.config
        return _MEASURES[distance](s_real, s_fake, keys, c.physics_groups, c.physics_scale)

    # ---- GenerativeModel / Prepared ------------------------------------------------------------------
    def prepare(self, data: Batch) -> None:
        """Store (at most ``bank_size`` of) the training segments' normalised conditions ``data["cond"]``, drawn
        by ``sample`` without conditions."""
        self.store_conditions(data["cond"][: self.config.bank_size])

    def sample(self, n: int, cond: Batch | None = None, generator: torch.Generator | None = None) -> Batch:
        """``n`` windows ``{"features": [n, 128, 1], "mask": [n, 128]}`` (hard zero suppression) for
        ``cond["cond"]`` or, without, for conditions drawn from the bank (returned as ``matched_cond``)."""
        dev = self.condition_bank.device
        missing = "cgan-tpc needs conditions: it has no training conditions stored"
        c, out = self.given_or_drawn(n, cond, generator, missing)
        z = torch.randn(n, self.config.latent, generator=generator, device=dev)
        f = self.sampler()(z, c)
        out.update(features=f.unsqueeze(-1), mask=torch.ones(f.shape, dtype=torch.bool, device=dev))
        return out

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        return self.loss(batch)
