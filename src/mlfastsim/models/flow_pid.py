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
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import zuko
from torch import Tensor

from mlfastsim.models.base import Batch
from mlfastsim.models.condition_bank import ConditionBank

__all__ = ["FlowPID", "FlowPIDConfig"]


@dataclass(frozen=True)
class FlowPIDConfig:
    """Settings of ``flow-pid``; ``n_features`` and ``n_cond`` come from the data (the PID codec).

    Attributes:
        transforms: spline transforms. bins: spline bins per transform. hidden: widths of each transform's
            conditioner MLP. passes: 2 coupling, 0 autoregressive (one network call per output to sample).
        bank_size: training conditions kept to sample without given conditions (0: conditions required).
    """

    n_features: int = 5
    n_cond: int = 15
    transforms: int = 5
    bins: int = 8
    hidden: tuple[int, ...] = (128, 128)
    passes: int = 2
    bank_size: int = 100_000

    def batch_keys(self) -> frozenset[str]:
        """The tracks' outputs, mask, conditions and weights."""
        return frozenset({"features", "mask", "cond", "weight"})


class FlowPID(ConditionBank):
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

    def log_prob(self, features: Tensor, cond: Tensor) -> Tensor:
        """log p(x | c) ``[B]`` (nats) of ``features [B, n_features]`` given ``cond [B, n_cond]``."""
        return self.flow(cond).log_prob(features)

    def from_noise(self, noise: Tensor, cond: Tensor) -> Tensor:
        """Outputs ``[B, n_features]`` = f⁻¹(``noise [B, n_features]``; ``cond [B, n_cond]``)."""
        return self.flow(cond).transform.inv(noise)

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """``loss``: the weighted mean negative log-likelihood per track (module docstring)."""
        x, cond = batch["features"], batch["cond"]
        x = torch.where(x == 0, torch.randn_like(x), x)  # codec-fixed entries → noise
        nll = -self.log_prob(x, cond)
        w = batch.get("weight")
        if w is None:
            return {"loss": nll.mean()}
        w = w.to(nll.dtype)
        return {"loss": (w * nll).sum() / w.sum().clamp_min(1e-12) if w.sum() > 0 else (w * nll).mean()}

    def prepare(self, data: Batch) -> None:
        """Keep up to ``bank_size`` training conditions (evenly spaced rows) for sampling without conditions."""
        cond = data["cond"]
        step = max(1, len(cond) // max(self.config.bank_size, 1))
        self.store_conditions(cond[::step][: self.config.bank_size])

    def sample(self, n: int, cond: Batch | None = None, generator: torch.Generator | None = None) -> Batch:
        """``{"features": [n, n_features], "mask": [n]}`` for ``cond["cond"] [n, n_cond]``, or for conditions
        drawn from the bank (then also ``matched_cond``)."""
        missing = "flow-pid needs conditions: it has no training conditions stored"
        c, out = self.given_or_drawn(n, cond, generator, missing)
        z = torch.randn(n, self.config.n_features, generator=generator, device=c.device)
        out["features"] = self.from_noise(z, c)
        out["mask"] = torch.ones(n, dtype=torch.bool, device=c.device)
        return out
