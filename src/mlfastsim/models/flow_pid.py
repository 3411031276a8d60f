"""``flow-pid``: a conditional normalising flow of the RICH DLLs, trained by maximum likelihood — the alternative
to seed 004's GAN (``cgan-pid``) on the same tracks, codec and conditions.

p(x | c) = N(u; 0, 1) |det ∂u/∂x|, u = f(x; c): x the five outputs in the ``pid`` codec's quantile-normal units
(after its momentum scales), c its conditions (transformed P, η, nTracks, the species one-hot, the threshold
flags); f a neural spline flow (Durkan et al., "Neural Spline Flows", arXiv:1906.04032) from
`zuko <https://github.com/probabilists/zuko>`_: ``transforms`` rational-quadratic spline transforms of
``bins`` bins, each conditioned on c by an MLP of ``hidden`` widths; ``passes = 2`` makes them coupling
transforms (one network call per half of x when sampling), 0 fully autoregressive.

Entries the codec fixes — exactly 0: the Cherenkov-threshold ties, which decoding restores as exact ties
whatever the model gives there — would be point masses of infinite density; in training they are replaced by
fresh standard-normal draws, so the flow learns them as independent noise and the likelihood stays finite.
The loss is the (s)weighted mean negative log-likelihood, Σ w nll / Σ w (nats per track), so negative
sWeights enter as LHCb's calibration samples need.

Sampling draws the noise outside the flow: ``features = f⁻¹(z; c)``, z ~ N(0, 1) from the caller's generator.
Without conditions the model draws them from its bank of training conditions (``matched_cond``).

**Distilled student** (``distill = true``, the default; the :class:`~mlfastsim.models.base.SecondStage` of the
run layer, fitted when ``mlfastsim train`` finishes, on the weights of ``best.pt`` and of ``last.pt``): a plain
MLP S(z, c) regressed onto the trained flow's own map z ↦ f⁻¹(z; c) — ``distill_pairs`` fresh (z, c) pairs, c
drawn from the training conditions, L1 loss, ``distill_steps`` Adam steps with a cosine decay — in the spirit
of probability-density distillation (van den Oord et al., "Parallel WaveNet", arXiv:1711.10433), here by plain
regression since the teacher's map is known. Once fitted, ``sample`` uses the student: the flow's fidelity at
a GAN's cost (one MLP call, no spline inversion), and the student is what export ships (ONNX, TorchScript and
Lamarr-style C, as for ``cgan-pid``). A run without a fitted student (``distill = false``, or stopped before
the end) samples from the flow and does not export.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import zuko
from torch import Tensor, nn

from mlfastsim.models.base import Batch
from mlfastsim.models.condition_bank import ConditionBank
from mlfastsim.models.distill import DistilledFlow
from mlfastsim.models.export_nn import BankSampler, MLPSampler, mlp_spec
from mlfastsim.models.gan import weighted_mean

__all__ = ["FlowPID", "FlowPIDConfig"]


@dataclass(frozen=True)
class FlowPIDConfig:
    """Settings of ``flow-pid``; ``n_features`` and ``n_cond`` come from the data (the PID codec).

    Attributes:
        transforms: spline transforms. bins: spline bins per transform. hidden: widths of each transform's
            conditioner MLP. passes: 2 coupling, 0 autoregressive (one network call per output to sample).
        bank_size: training conditions kept to sample without given conditions (0: conditions required).
        distill: fit the student MLP after training and sample with it (module docstring).
        student_hidden: its widths (LeakyReLU 0.2). distill_pairs, distill_steps, distill_batch, distill_lr:
            (z, c) pairs drawn, Adam steps, pairs per step, initial learning rate of its fit.
    """

    n_features: int = 5
    n_cond: int = 15
    transforms: int = 5
    bins: int = 8
    hidden: tuple[int, ...] = (128, 128)
    passes: int = 2
    bank_size: int = 100_000
    distill: bool = True
    student_hidden: tuple[int, ...] = (256, 256, 256, 256)
    distill_pairs: int = 1_000_000
    distill_steps: int = 8000
    distill_batch: int = 2048
    distill_lr: float = 1e-3

    def batch_keys(self) -> frozenset[str]:
        """The tracks' outputs, mask, conditions and weights."""
        return frozenset({"features", "mask", "cond", "weight"})


class FlowPID(ConditionBank, DistilledFlow):
    """The conditional flow of RICH DLLs (module docstring)."""

    def __init__(self, config: FlowPIDConfig) -> None:
        super().__init__()
        self.config = c = config
        passes = c.passes if c.passes > 0 else None
        self.flow = zuko.flows.NSF(
            c.n_features, c.n_cond, transforms=c.transforms, bins=c.bins,
            hidden_features=list(c.hidden), passes=passes,
        )  # fmt: skip
        self._init_condition_bank(c.n_cond)
        self.noise_width, self.family = c.n_features, "flow-pid"
        self._init_student(c.n_cond)

    def log_prob(self, features: Tensor, cond: Tensor) -> Tensor:
        """log p(x | c) ``[B]`` (nats) of ``features [B, n_features]`` given ``cond [B, n_cond]``."""
        return self.flow(cond).log_prob(features)

    def pure_sampler(self, mode: Literal["conditioned", "prior"]) -> nn.Module:
        """The student for export (:class:`~mlfastsim.models.base.Exportable`): a plain MLP of (noise,
        conditions) (C export applies); ``prior`` draws the conditions from the bank inside. A run without a
        fitted student has nothing plain to export (ValueError)."""
        if not (self.config.distill and bool(self.student_fitted)):
            raise ValueError(
                "this flow-pid run has no distilled student (distill=false or training stopped early); "
                "train it to the end with model.distill=true to export"
            )
        c = self.config
        spec = mlp_spec(c.n_features, c.n_cond, c.n_features, "the DLLs in the codec's quantile-normal units")
        sampler = MLPSampler(self.student, spec)
        return sampler if mode == "conditioned" else BankSampler(sampler, self.condition_bank)

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """``loss``: the weighted mean negative log-likelihood per track (module docstring)."""
        x, cond = batch["features"], batch["cond"]
        x = torch.where(x == 0, torch.randn_like(x), x)  # codec-fixed entries → noise
        return {"loss": weighted_mean(-self.log_prob(x, cond), batch.get("weight"))}

    def prepare(self, data: Batch) -> None:
        """Keep up to ``bank_size`` training conditions (evenly spaced rows) for sampling without conditions."""
        self.store_evenly_spaced(data["cond"], self.config.bank_size)

    def sample(self, n: int, cond: Batch | None = None, generator: torch.Generator | None = None) -> Batch:
        """``{"features": [n, n_features], "mask": [n]}`` for ``cond["cond"] [n, n_cond]``, or for conditions
        drawn from the bank (then also ``matched_cond``)."""
        missing = "flow-pid needs conditions: it has no training conditions stored"
        return self.sample_rows(n, cond, generator, self.config.n_features, self.generator, missing)
