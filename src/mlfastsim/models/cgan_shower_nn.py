"""The networks of ``cgan-shower`` (:mod:`mlfastsim.models.cgan_shower`, which re-exports
:class:`ShowerGenerator`): the generator of cell energies, its pure sampler for export (issue 11) and the map
network of its critic and regressor."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from mlfastsim.models.base import SamplerSpec
from mlfastsim.models.nn import LeakyReLU02, mlp

if TYPE_CHECKING:
    from mlfastsim.models.cgan_shower import CGANShowerConfig

__all__ = ["MapNet", "ShowerGenerator", "ShowerSampler"]


class ShowerGenerator(nn.Module):
    """``forward(noise [B, noise_dim], conditions [B, n_cond]) → cells [B, G²]`` in the codec's units, nothing
    random inside (what export traces).

    An MLP on (global noise ⊕ conditions) gives per-cell logits ℓ, per-cell width factors w and the log
    deposited fraction φ; the mean cell energies are ē_i = E · e^φ · softmax(ℓ)_i with E = exp(ln E) of the
    particle (condition column 4, un-standardised), so the energy scale is exact by construction, and the cell
    energies e_i = ē_i · exp(σ_i ε_i − σ_i²/2) (ε: the per-cell noise; the factor has mean 1) with
    σ_i = softplus(w_i) (``width_law = "free"``, started at 0.3) or σ_i = softplus(w_i) · (ē_i / 1 GeV)^κ (≤ 2.5,
    ``"sampling"``): a learned exponent κ, started at −½ with softplus(w) ≈ 0.1, i.e. at the a/√E of sampling
    fluctuations — a starting point, which training moves. Output
    f_i = ln(1 + e_i/ε)/f_max = softplus(ln e_i − ln ε)/f_max (the codec's transform).
    """

    def __init__(self, c: CGANShowerConfig) -> None:
        super().__init__()
        g2, width = c.grid * c.grid, c.gen_hidden[-1]
        self.latent, self.cell_noise, self.conserve = c.latent, c.cell_noise, c.conserve_energy
        self.body = mlp([c.latent + c.n_cond, *c.gen_hidden], activation=LeakyReLU02, last_activation=True)
        self.logits = nn.Linear(width, g2)
        self.widths = nn.Linear(width, g2) if c.cell_noise else None
        self.fraction = nn.Linear(width, 1)
        law = c.cell_noise and c.width_law == "sampling"
        self.exponent = nn.Parameter(torch.tensor(-0.5)) if law else None
        self.log_e = (c.log_energy_mean, c.log_energy_std)
        self.log_floor, self.scale = math.log(c.energy_floor), c.feature_scale
        with torch.no_grad():  # e^φ ≈ 1 (refined by `prepare`), σ as above
            self.fraction.bias.fill_(0.0)
            if self.widths is not None:
                self.widths.bias.fill_(math.log(math.expm1(0.1 if law else 0.3)))

    def log_shares(self, noise: Tensor, conditions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(ln E + φ [B, 1], ln softmax(ℓ) [B, G²], hidden [B, H])``: the log deposited energy [ln GeV], the
        log mean shape (before the per-cell noise) and the MLP's last hidden state."""
        h = self.body(torch.cat([noise[:, : self.latent], conditions], dim=1))
        log_e = conditions[:, 4:5] * self.log_e[1] + self.log_e[0]
        return log_e + self.fraction(h), torch.log_softmax(self.logits(h), dim=1), h

    def forward(self, noise: Tensor, conditions: Tensor) -> Tensor:
        log_total, log_share, h = self.log_shares(noise, conditions)
        log_cell = log_total + log_share
        if self.widths is not None:
            sigma = nn.functional.softplus(self.widths(h))
            if self.exponent is not None:
                sigma = (sigma * torch.exp(self.exponent * log_cell.detach())).clamp_max(2.5)
            log_cell = log_cell + sigma * noise[:, self.latent :] - 0.5 * sigma**2
            if self.conserve:  # the cell noise moves energy between cells; the total stays E · e^φ
                log_cell = log_total + torch.log_softmax(log_cell, dim=1)
        return nn.functional.softplus(log_cell - self.log_floor) / self.scale


class ShowerSampler(nn.Module):
    """``forward(noise [B, noise_dim], cond [B, n_cond]) → (features [B, G², 1], mask [B, G²])``: what
    :meth:`~mlfastsim.models.cgan_shower.CGANShower.sample` returns for given conditions — the generator's
    cells (codec units f = ln(1 + E/ε)/f_max) with the hard zero suppression (f < ``threshold`` → 0) and an
    all-True mask — with the standard normal noise an input (``spec``, drawn outside in the order and shape
    ``sample`` draws it). Not a plain MLP (softmax over the cells, per-cell widths): ONNX and TorchScript
    only, no C export."""

    def __init__(self, gen: ShowerGenerator, threshold: float, spec: SamplerSpec) -> None:
        super().__init__()
        self.gen, self.threshold, self.spec = gen, float(threshold), spec

    def forward(self, noise: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        f = self.gen(noise, cond)
        f = torch.where(f >= self.threshold, f, torch.zeros_like(f))
        return f.unsqueeze(-1), torch.ones_like(f, dtype=torch.bool)


class MapNet(nn.Module):
    """Map ``[B, G²]`` ⊕ condition embedding ⊕ extra per-row features → ``[B, out]``: an MLP on the cells
    (``arch = "mlp"``: what a cell-level classifier sees) or a strided CNN (``"cnn"``). ``bias``: of the last
    layer (a WGAN critic's cancels in E D(x) − E D(x̃): none)."""

    def __init__(self, c: CGANShowerConfig, n_extra: int, out: int, bias: bool = True) -> None:
        super().__init__()
        self.grid, self.conv = c.grid, c.critic_arch == "cnn"
        if self.conv:
            ch = c.critic_channels
            self.body: nn.Module = nn.Sequential(
                nn.Conv2d(1, ch[0], 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                nn.Conv2d(ch[0], ch[1], 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                nn.Conv2d(ch[1], ch[2], 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Flatten(),
            )  # fmt: skip
            side = c.grid
            for k in (4, 4, 3):
                side = (side + 2 - k) // 2 + 1
            width = ch[2] * side * side
        else:
            self.body = nn.Sequential(nn.Linear(c.grid * c.grid, c.critic_hidden[0]), nn.LeakyReLU(0.2))
            width = c.critic_hidden[0]
        self.cond = nn.Sequential(nn.Linear(c.n_cond, 64), nn.LeakyReLU(0.2))
        self.head = mlp(
            [width + 64 + n_extra, *c.critic_hidden[1:]], activation=LeakyReLU02, last_activation=True
        )
        self.out = nn.Linear(
            c.critic_hidden[-1] if len(c.critic_hidden) > 1 else width + 64 + n_extra, out, bias=bias
        )

    def forward(self, x: Tensor, cond: Tensor, extra: Tensor) -> Tensor:
        h = self.body(x.view(-1, 1, self.grid, self.grid) if self.conv else x)
        return self.out(self.head(torch.cat([h, self.cond(cond), extra], dim=1)))
