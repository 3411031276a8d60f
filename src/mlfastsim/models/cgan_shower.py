"""``cgan-shower``: seed 004's conditional GAN of LHCb ECAL showers, with its auxiliary asymmetry regressor.

Rogachev & Ratnikov, "GAN with an auxiliary regressor for the fast simulation of the electromagnetic
calorimeter response", ACAT 2021, arXiv:2207.06329 (and EPJ Web Conf. 251, 03043): a generator maps noise and
the particle's conditions to the 30 × 30 energy map; a *regressor* learns, on the real maps, a physics metric
that is awkward for the discriminator to pick up — the shower asymmetry along the incidence direction — and
steers the generator, trained jointly. Here:

* generator G(z, ε, c) (:class:`ShowerGenerator`): an MLP on (global noise ⊕ 5 conditions) giving the shower's
  shape (a softmax over the cells), its deposited fraction and per-cell fluctuation widths that scale one
  noise value per cell (StyleGAN's noise inputs); the particle's energy sets the scale exactly. Its output
  is in the codec's units f = ln(1 + E/ε)/f_max; it is one plain network of (noise, conditions), so that
  issue 11 can export it (Lamarr ships such MLPs as C); cells below the zero-suppression threshold are
  zeroed when sampling and softly gated while training (the critic never sees what decoding would remove);
* critic D(x, c): an MLP on the cells (or a small strided CNN), beside an embedding of the conditions and differentiable
  summary features of the map in GeV (log total energy, centroid, widths, soft count of cells above
  threshold) and, with the regressor, the regressor's asymmetry estimate R(x, c) (seed 004's "surrogate
  metric as an object feature"); WGAN-GP (Gulrajani et al. 2017) or Cramér (Bellemare et al. 2017) losses
  from :mod:`mlfastsim.models.gan`;
* regressor R(x, c): a network of the critic's shape trained on real maps to predict their asymmetry (MSE,
  batch key ``asymmetry``);
  the generator's loss adds λ_aux · W1(R(G(z, c)), asymmetry of the real batch) (the 1-D Wasserstein
  distance of the two sets over the batch's conditions), and the critic sees R: both vanish with
  ``regressor = false`` (the ablation).

Parameter groups (:class:`~mlfastsim.models.base.Adversarial`): critic, generator, regressor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from mlfastsim.models.base import Batch
from mlfastsim.models.cgan_shower_nn import MapNet, ShowerGenerator, ShowerSampler
from mlfastsim.models.condition_bank import ConditionBank
from mlfastsim.models.export_nn import BankSampler, mlp_spec
from mlfastsim.models.gan import (
    cramer_critic_loss,
    cramer_generator_loss,
    energy_distance,
    weighted_mean,
    wgan_critic_loss,
    wgan_generator_loss,
)
from mlfastsim.models.shower_fields import ShowerFields

__all__ = ["CGANShower", "CGANShowerConfig", "ShowerGenerator"]

_CELL_MM = 20.0  # the window's cell pitch (physics.detector.lhcb_ecal_constants.CELL_MM)


@dataclass(frozen=True)
class CGANShowerConfig(ShowerFields):
    """Settings of ``cgan-shower``; ``grid``, ``n_cond``, ``feature_scale``, ``energy_floor``, ``threshold`` and
    ``log_energy_mean`` / ``log_energy_std`` (the standardisation of the ln E condition, column 4) come from the
    data (the showers codec).

    Attributes:
        latent: global noise dimensions. cell_noise: one more noise value per cell (StyleGAN's per-pixel noise
        inputs, Karras et al. 2019, §3.2), scaled by a learned per-cell width: the sampling fluctuations of
        each cell, which a few global noise dimensions cannot carry. width_law: how the per-cell widths are
        made (:class:`ShowerGenerator`): ``free`` (σ_i = softplus(w_i), started at 0.3) or ``sampling``
        (σ_i = softplus(w_i) · (ē_i/GeV)^κ, started at the a/√E of sampling fluctuations).
        conserve_energy: renormalise the noisy cells to the total E · e^φ, so that the per-cell noise moves
        energy between cells but leaves the shower's total to φ (whose fluctuations the global noise carries).
        gen_hidden: generator MLP widths.
        critic_arch: the critic's (and the regressor's) body, an MLP on the cells or a CNN; critic_hidden: its
        widths (the first on the cells); critic_channels: the CNN's three strided convolutions.
        regressor: train the asymmetry regressor and steer with it (False: the ablation). lambda_aux: weight
        of the generator's W1 term on the regressed asymmetry.
        lambda_shape: weight of a pix2pix-style direct term (Isola et al. 2017, "L1 + GAN"): the KL divergence
        of the generated mean shape softmax(ℓ) from the real map's energy shares, per shower (0: off). It
        pulls the mean shape towards the conditional mean quickly; the per-cell noise keeps the fluctuations.
        loss: ``wgan-gp`` or ``cramer``. gp_lambda: gradient-penalty weight. critic_steps: critic steps per
        generator step. cramer_dim: the Cramér critic's feature dimension.
        gate_width: width (in f units) of the soft zero-suppression gate while training.
    """

    latent: int = 32
    cell_noise: bool = True
    width_law: Literal["free", "sampling"] = "sampling"
    conserve_energy: bool = False
    gen_hidden: tuple[int, ...] = (512, 512)
    critic_arch: Literal["mlp", "cnn"] = "mlp"
    critic_hidden: tuple[int, ...] = (512, 256)
    critic_channels: tuple[int, int, int] = (16, 32, 32)
    regressor: bool = True
    lambda_aux: float = 1.0
    lambda_shape: float = 0.0
    loss: Literal["wgan-gp", "cramer"] = "wgan-gp"
    gp_lambda: float = 10.0
    critic_steps: int = 5
    cramer_dim: int = 64
    gate_width: float = 0.01

    @property
    def noise_dim(self) -> int:
        """Width of the generator's noise input: ``latent`` (+ G² with ``cell_noise``)."""
        return self.latent + (self.grid * self.grid if self.cell_noise else 0)

    def batch_keys(self) -> frozenset[str]:
        """Cells, mask, conditions and, with the regressor, the real maps' asymmetry."""
        return frozenset({"features", "mask", "cond", *(("asymmetry",) if self.regressor else ())})


class CGANShower(ConditionBank):
    """The conditional shower GAN (module docstring). Batches: ``features [B, G², 1]`` (codec units),
    ``cond [B, 5]``, ``asymmetry [B]`` (with the regressor), optional ``weight [B]``."""

    def __init__(self, config: CGANShowerConfig) -> None:
        super().__init__()
        c = self.config = config
        self.gen = ShowerGenerator(c)
        n_extra = 6 + (1 if c.regressor else 0)
        self.critic = MapNet(c, n_extra, c.cramer_dim if c.loss == "cramer" else 1, bias=c.loss == "cramer")
        self.reg = MapNet(c, 0, 1) if c.regressor else None
        pos = (torch.arange(c.grid, dtype=torch.float32) - (c.grid - 1) / 2) * (_CELL_MM / 10.0)  # [cm]
        self.xs: Tensor
        self.ys: Tensor
        self.register_buffer("xs", pos.repeat(c.grid), persistent=False)  # cell (i, j) → x = pos[j]
        self.register_buffer("ys", pos.repeat_interleave(c.grid), persistent=False)
        self.f_threshold = math.log1p(c.threshold / c.energy_floor) / c.feature_scale
        # training conditions (normalised), drawn for sampling without conditions: p(shower) = Σ p(c) p(x | c)
        self._init_condition_bank(c.n_cond)

    # ---- the plain generator path -------------------------------------------------------------------
    def generator(self, noise: Tensor, conditions: Tensor) -> Tensor:
        """Cells ``[B, G²]`` (codec units, ≥ 0) for ``noise [B, noise_dim]`` and normalised ``conditions
        [B, n_cond]`` (:class:`ShowerGenerator`)."""
        return self.gen(noise, conditions)

    def sampler(self) -> ShowerGenerator:
        """The generator as a module of (noise, conditions) (what export traces; shares the weights)."""
        return self.gen

    def _noise(self, n: int, like: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(
            n, self.config.noise_dim, generator=generator, device=like.device, dtype=like.dtype
        )

    def _gate(self, f: Tensor) -> Tensor:
        """Soft zero suppression: f · σ((f − f_thr)/width) (decoding applies the hard cut)."""
        return f * torch.sigmoid((f - self.f_threshold) / self.config.gate_width)

    def _fake(self, cond: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self._gate(self.generator(self._noise(len(cond), cond, generator), cond))

    # ---- critic, regressor and their features ---------------------------------------------------------
    def summary_features(self, x: Tensor) -> Tensor:
        """``[B, 6]`` differentiable features of maps ``x [B, G²]``: ln total energy [GeV], centroid (x, y) and
        widths (x, y) [cm], ln(1 + soft count of cells above threshold)."""
        c = self.config
        e = c.energies(x)
        total = e.sum(1).clamp_min(1e-6)
        cx, cy = (e * self.xs).sum(1) / total, (e * self.ys).sum(1) / total
        wx = ((e * self.xs**2).sum(1) / total - cx**2).clamp_min(1e-6).sqrt()
        wy = ((e * self.ys**2).sum(1) / total - cy**2).clamp_min(1e-6).sqrt()
        count = torch.sigmoid((x - self.f_threshold) / c.gate_width).sum(1)
        return torch.stack([total.log(), cx, cy, wx, wy, torch.log1p(count)], dim=1)

    def shape_divergence(self, real: Tensor, cond: Tensor, weight: Tensor | None = None) -> Tensor:
        """KL(p ‖ q) per shower, weighted mean: p the energy shares of the real maps ``real [B, G²]``, q the
        generator's mean shape for their conditions (fresh noise)."""
        c = self.config
        e = c.energies(real)
        p = e / e.sum(1, keepdim=True).clamp_min(1e-9)
        log_q = self.gen.log_shares(self._noise(len(cond), cond), cond)[1]
        kl = (p * (p.clamp_min(1e-12).log() - log_q)).sum(1)
        return weighted_mean(kl, weight)

    def regress(self, x: Tensor, cond: Tensor) -> Tensor:
        """The regressor's asymmetry estimate ``[B]`` ∈ (−1, 1) of maps ``x [B, G²]``."""
        assert self.reg is not None
        return torch.tanh(self.reg(x, cond, x.new_zeros(len(x), 0))[:, 0])

    def judge(self, x: Tensor, cond: Tensor) -> Tensor:
        """The critic: scores ``[B]`` (WGAN-GP) or features ``[B, cramer_dim]`` (Cramér) of maps ``x [B, G²]``."""
        extra = self.summary_features(x)
        if self.reg is not None:
            extra = torch.cat([extra, self.regress(x, cond)[:, None]], dim=1)
        out = self.critic(x, cond, extra)
        return out[:, 0] if self.config.loss == "wgan-gp" else out

    # ---- Adversarial -------------------------------------------------------------------------------------
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """critic, generator and (with the regressor) regressor, in training order."""
        groups = {"critic": list(self.critic.parameters()), "generator": list(self.gen.parameters())}
        if self.reg is not None:
            groups["regressor"] = list(self.reg.parameters())
        return groups

    def group_steps(self) -> dict[str, int]:
        return {"critic": self.config.critic_steps, "generator": 1, **({"regressor": 1} if self.reg else {})}

    def group_loss(self, group: str, batch: Batch) -> dict[str, Tensor]:
        """The loss of ``group`` on ``batch`` (honours ``batch["weight"]``)."""
        real, cond = batch["features"].flatten(1), batch["cond"]
        weight = batch.get("weight")
        c = self.config
        if group == "critic":
            fake = self._fake(cond)
            if c.loss == "cramer":
                return cramer_critic_loss(self.judge, real, fake, self._fake(cond), cond, weight, c.gp_lambda)
            return wgan_critic_loss(self.judge, real, fake, cond, weight, c.gp_lambda)
        if group == "generator":
            fake = self._fake(cond)
            if c.loss == "cramer":
                adv = cramer_generator_loss(self.judge, real, fake, self._fake(cond), cond, weight)
            else:
                adv = wgan_generator_loss(self.judge, fake, cond, weight)
            out = {"adversarial": adv.detach()}
            loss = adv
            if c.lambda_shape > 0:
                kl = self.shape_divergence(real, cond, weight)
                loss, out["shape_kl"] = loss + c.lambda_shape * kl, kl.detach()
            if self.reg is not None:
                aux = _sorted_w1(self.regress(fake, cond), batch["asymmetry"], weight)
                loss, out["asymmetry_w1"] = loss + c.lambda_aux * aux, aux.detach()
            return {"loss": loss, **out}
        if group == "regressor" and self.reg is not None:
            mse = weighted_mean((self.regress(real, cond) - batch["asymmetry"]) ** 2, weight)
            return {"loss": mse, "mse": mse.detach()}
        raise KeyError(f"cgan-shower has no parameter group {group!r}")

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """A monitor (validation, and gradients for every parameter): the critic's Wasserstein estimate
        E D(x) − E D(x̃) (WGAN-GP; the Cramér surrogate otherwise) plus the regressor's MSE and the generator's
        asymmetry W1 (``loss``), and ``energy_distance``, critic-free, between the real and generated
        (summary features ⊕ conditions): what ``best_metric`` should follow. Training minimises
        :meth:`group_loss` instead."""
        real, cond = batch["features"].flatten(1), batch["cond"]
        weight = batch.get("weight")
        fake = self._fake(cond)
        if self.config.loss == "cramer":
            h_r, h_g, h_g2 = (
                self.judge(real, cond),
                self.judge(fake, cond),
                self.judge(self._fake(cond), cond),
            )
            per_row = (h_r - h_g).norm(dim=1) + (h_r - h_g2).norm(dim=1) - (h_g - h_g2).norm(dim=1)
            w_est = weighted_mean(per_row, weight)
        else:
            w_est = weighted_mean(self.judge(real, cond), weight) - weighted_mean(
                self.judge(fake, cond), weight
            )
        out = {"wasserstein": w_est}
        total = w_est
        if self.reg is not None:
            mse = weighted_mean((self.regress(real, cond) - batch["asymmetry"]) ** 2, weight)
            aux = _sorted_w1(self.regress(fake, cond), batch["asymmetry"], weight)
            out.update(regressor_mse=mse, asymmetry_w1=aux)
            total = total + mse + aux
        with torch.no_grad():
            s_r = torch.cat([self.summary_features(real), cond], dim=1)
            s_g = torch.cat([self.summary_features(fake), cond], dim=1)
            out["energy_distance"] = energy_distance(s_r, s_g, weight, weight)
        return {"loss": total, **{k: v.detach() for k, v in out.items()}}

    # ---- GenerativeModel / Prepared ------------------------------------------------------------------
    def prepare(self, data: Batch) -> None:
        """Store the training showers' normalised conditions ``data["cond"]`` (drawn by ``sample`` without
        conditions) and start the generator at their average shower: the cell logits' biases at the log of
        the mean energy share of each cell, the deposited-fraction bias at the mean ln(E_dep / E) (an output
        layer initialised at the data's mean, as is common; training refines both)."""
        self.store_conditions(data["cond"])
        cond = self.condition_bank
        c = self.config
        with torch.no_grad():
            f = data["features"].detach().flatten(1).to(torch.float64)
            e = c.energies(f)
            total = e.sum(1)
            ok = total > 0
            if not ok.any():
                return
            share = (e[ok] / total[ok, None]).mean(0)
            log_e = c.log_energy(cond[ok].to(torch.float64))
            self.gen.logits.bias.copy_(share.clamp_min(1e-7).log().to(self.gen.logits.bias))
            self.gen.fraction.bias.fill_(float((total[ok].log() - log_e).mean()))

    def sample(self, n: int, cond: Batch | None = None, generator: torch.Generator | None = None) -> Batch:
        """``n`` maps ``{"features": [n, G², 1], "mask": [n, G²]}`` (hard zero suppression) for ``cond["cond"]``
        or, without, for conditions drawn from the bank (returned as ``matched_cond``)."""
        dev = self.condition_bank.device
        missing = "cgan-shower needs conditions: it has no training conditions stored"
        c, out = self.given_or_drawn(n, cond, generator, missing)
        f = self.generator(self._noise(n, c, generator), c)
        f = torch.where(f >= self.f_threshold, f, torch.zeros_like(f))
        out.update(features=f.unsqueeze(-1), mask=torch.ones(f.shape, dtype=torch.bool, device=dev))
        return out

    def pure_sampler(self, mode: Literal["conditioned", "prior"]) -> nn.Module:
        """:meth:`sample` for export (:class:`~mlfastsim.models.base.Exportable`): :class:`ShowerSampler`,
        noise ``[B, noise_dim]`` and conditions ``[B, n_cond]`` in; ``prior``: the conditions drawn inside from
        the training bank (``bank_u``, :class:`~mlfastsim.models.export_nn.BankSampler`), ValueError without one."""
        c = self.config
        g2 = c.grid * c.grid
        spec = mlp_spec(c.noise_dim, c.n_cond, g2, "cells, ln(1 + E/ε)/f_max", features=(g2, 1), mask=(g2,))
        sampler = ShowerSampler(self.gen, self.f_threshold, spec)
        return sampler if mode == "conditioned" else BankSampler(sampler, self.condition_bank)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        return self.loss(batch)


def _sorted_w1(a: Tensor, b: Tensor, weight: Tensor | None = None) -> Tensor:
    """1-D W1 of two equal-size sets ``[B]`` (mean |sorted a − sorted b|; weighted rows: weights of b's order)."""
    diff = (a.sort().values - b.sort().values).abs()
    if weight is None:
        return diff.mean()
    return weighted_mean(diff, weight[b.argsort()])
