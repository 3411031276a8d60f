"""``cgan-pid``: seed 004's conditional GAN of the RICH particle identification — track kinematics in, the five
RICH DLLs out (Maevskiy et al., "Fast Data-Driven Simulation of Cherenkov Detectors Using Generative
Adversarial Networks", arXiv:1905.11825; LHCb's pidgan; Lamarr ships such generators as plain C).

* generator G(z, c): a plain MLP (noise ⊕ conditions → hidden → 5 outputs in the codec's quantile-normal
  units), :meth:`CGANPID.generator`; the noise is drawn outside it, so that issue 11 can export it to C/ONNX as
  one network with static shapes (:meth:`CGANPID.sampler`);
* conditions c: the codec's quantile-normal (P, η, nTracks), optionally the charge, and the species one-hot —
  one model for all five species (they share the detector; one network to ship); ``data.species`` trains one
  model per species instead, as LHCb does;
* critic: an MLP on (outputs ⊕ conditions); the Cramér GAN loss by default (what 1905.11825 uses; its
  k-dimensional critic map h, here ``critic_features`` wide) or WGAN-GP (critic output 1), both weighted by
  the tracks' (s)weights (:mod:`mlfastsim.models.gan`).

Parameter groups (:class:`~mlfastsim.models.base.Adversarial`): ``critic`` (``critic_steps`` steps per cycle)
then ``generator`` (one). ``loss()`` is a monitor for validation: the generator's loss through the current
critic (``loss``; it reaches every parameter) and the energy distance between real and generated (outputs,
conditions) in the normalised space (``energy_distance``: critic-free, what ``best_metric`` should follow).

Without conditions the model samples them from a bank of training conditions (``Prepared``), returned as
``matched_cond`` so that the codec can report which tracks were generated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from mlfastsim.models.base import Batch
from mlfastsim.models.condition_bank import ConditionBank
from mlfastsim.models.export_nn import BankSampler, MLPSampler, mlp_spec
from mlfastsim.models.gan import (
    cramer_critic_loss,
    cramer_generator_loss,
    energy_distance,
    wgan_critic_loss,
    wgan_generator_loss,
)
from mlfastsim.models.nn import LeakyReLU02, mlp

__all__ = ["CGANPID", "CGANPIDConfig", "GeneratorSampler"]


@dataclass(frozen=True)
class CGANPIDConfig:
    """Settings of ``cgan-pid``; ``n_features`` and ``n_cond`` come from the data (the PID codec).

    Attributes:
        noise: noise dimensions. generator_hidden, critic_hidden: MLP widths (LeakyReLU 0.2 between layers).
        critic_features: width k of the Cramér critic map h (WGAN-GP: 1, set automatically).
        loss: ``cramer`` (Bellemare et al. 2017) or ``wgan-gp`` (Gulrajani et al. 2017).
        gp_lambda: gradient-penalty weight λ; one_sided: the one-sided penalty (Petzka et al. 2018).
        critic_steps: critic steps per generator step.
        bank_size: training conditions kept to sample without given conditions (0: conditions required).
    """

    n_features: int = 5
    n_cond: int = 15
    noise: int = 16
    generator_hidden: tuple[int, ...] = (128, 128, 128, 128)
    critic_hidden: tuple[int, ...] = (256, 256, 256, 256)
    critic_features: int = 64
    loss: Literal["cramer", "wgan-gp"] = "cramer"
    gp_lambda: float = 10.0
    one_sided: bool = False
    critic_steps: int = 3
    bank_size: int = 100_000

    def batch_keys(self) -> frozenset[str]:
        """The tracks' outputs, mask, conditions and weights."""
        return frozenset({"features", "mask", "cond", "weight"})


class GeneratorSampler(nn.Module):
    """``forward(noise [B, noise], conditions [B, n_cond]) → outputs [B, n_features]``: the generator alone,
    nothing random inside (what export traces)."""

    def __init__(self, net: nn.Sequential) -> None:
        super().__init__()
        self.net = net

    def forward(self, noise: Tensor, conditions: Tensor) -> Tensor:
        return self.net(torch.cat([noise, conditions], dim=1))


class CGANPID(ConditionBank):
    """The conditional GAN of RICH DLLs (module docstring)."""

    def __init__(self, config: CGANPIDConfig) -> None:
        super().__init__()
        self.config = c = config
        self.gen = mlp([c.noise + c.n_cond, *c.generator_hidden, c.n_features], activation=LeakyReLU02)
        width = c.critic_features if c.loss == "cramer" else 1
        self.critic_net = mlp([c.n_features + c.n_cond, *c.critic_hidden, width], activation=LeakyReLU02)
        self._init_condition_bank(c.n_cond)

    # ------------------------------------------------------------------ networks
    def generator(self, noise: Tensor, conditions: Tensor) -> Tensor:
        """Outputs ``[B, n_features]`` (quantile-normal units) for ``noise [B, noise]`` and ``conditions
        [B, n_cond]``."""
        return self.gen(torch.cat([noise, conditions], dim=1))

    def sampler(self) -> GeneratorSampler:
        """The generator as a module of (noise, conditions) (shares the weights)."""
        return GeneratorSampler(self.gen)

    def pure_sampler(self, mode: Literal["conditioned", "prior"]) -> nn.Module:
        """The generator for export (:class:`~mlfastsim.models.base.Exportable`): a plain MLP of (noise,
        conditions) (C export applies); ``prior`` draws the conditions from the bank inside."""
        c = self.config
        spec = mlp_spec(c.noise, c.n_cond, c.n_features, "the DLLs in the codec's quantile-normal units")
        sampler = MLPSampler(self.gen, spec)
        return sampler if mode == "conditioned" else BankSampler(sampler, self.condition_bank)

    def critic(self, x: Tensor, cond: Tensor) -> Tensor:
        """Critic scores ``[B]`` (WGAN-GP) or the Cramér map h ``[B, critic_features]``."""
        out = self.critic_net(torch.cat([x, cond], dim=1))
        return out[:, 0] if self.config.loss == "wgan-gp" else out

    def _fake(self, cond: Tensor, generator: torch.Generator | None = None) -> Tensor:
        z = torch.randn(
            len(cond), self.config.noise, generator=generator, device=cond.device, dtype=cond.dtype
        )
        return self.generator(z, cond)

    # ----------------------------------------------------------- Adversarial
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"critic": list(self.critic_net.parameters()), "generator": list(self.gen.parameters())}

    def group_steps(self) -> dict[str, int]:
        return {"critic": self.config.critic_steps, "generator": 1}

    def group_loss(self, group: str, batch: Batch) -> dict[str, Tensor]:
        """The loss of ``group`` on ``batch`` (weighted by ``batch["weight"]`` when present)."""
        real, cond, weight = batch["features"], batch["cond"], batch.get("weight")
        c = self.config
        fake = self._fake(cond)
        if c.loss == "cramer":
            fake2 = self._fake(cond)
            if group == "critic":
                return cramer_critic_loss(
                    self.critic, real, fake, fake2, cond, weight, c.gp_lambda, c.one_sided
                )
            return {"loss": cramer_generator_loss(self.critic, real, fake, fake2, cond, weight)}
        if group == "critic":
            return wgan_critic_loss(self.critic, real, fake, cond, weight, c.gp_lambda, c.one_sided)
        return {"loss": wgan_generator_loss(self.critic, fake, cond, weight)}

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """Monitor (module docstring): ``loss`` (the generator's, through the critic) and ``energy_distance``."""
        real, cond, weight = batch["features"], batch["cond"], batch.get("weight")
        fake = self._fake(cond)
        ed = energy_distance(torch.cat([real, cond], 1), torch.cat([fake.detach(), cond], 1), weight, weight)
        return {"loss": self.group_loss("generator", batch)["loss"], "energy_distance": ed}

    # ------------------------------------------------------------ generation
    def prepare(self, data: Batch) -> None:
        """Keep up to ``bank_size`` training conditions (evenly spaced rows) for sampling without conditions."""
        self.store_evenly_spaced(data["cond"], self.config.bank_size)

    def sample(self, n: int, cond: Batch | None = None, generator: torch.Generator | None = None) -> Batch:
        """``{"features": [n, n_features], "mask": [n]}`` for ``cond["cond"] [n, n_cond]``, or for conditions
        drawn from the bank (then also ``matched_cond``)."""
        missing = "cgan-pid needs conditions: it has no training conditions stored"
        return self.sample_rows(n, cond, generator, self.config.noise, self.generator, missing)
