"""The ``particle-vae`` pure sampler for export (issue 11): :meth:`ParticleVAE.sample` with its noise as inputs —
the prior's base draws (``z``; with the mixture prior also ``u_prior``), the multiplicity's uniform ``u_count``
and, in detector mode, the jet response's component uniform ``u_response`` and its normal ``eps_response`` —
drawn outside as the spec declares, in the order ``sample`` draws them (so the same seeded generator gives
the same jets through either). Detector mode takes the generator-level jets (``gen_features [B, P, 3 (+5
types)]``, ``gen_mask [B, P]``, P = the generator-level slots, static) as conditions and has no prior mode (it
simulates given jets).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor, nn

from mlfastsim.models.base import SamplerSpec, TensorSpec
from mlfastsim.models.export_nn import categorical_from_uniform
from mlfastsim.models.flow_prior import FlowPrior
from mlfastsim.models.particle_vae_nn import MixturePrior

if TYPE_CHECKING:
    from mlfastsim.models.particle_vae import ParticleVAE

__all__ = ["ParticleVAESampler"]


class ParticleVAESampler(nn.Module):
    """``forward(*inputs) → (features [B, P, F], mask [B, P][, response [B, n_response] (detector mode)]
    [, matched_cond [B, C] (prior mode of a conditional generator)])``, in the codec's standardised units."""

    def __init__(self, model: ParticleVAE, mode: Literal["conditioned", "prior"]) -> None:
        super().__init__()
        c = model.config
        if model.detector and mode == "prior":
            raise ValueError(
                "a detector-mode particle-vae simulates given generator-level jets: export --mode conditioned"
            )
        self.model = model
        self.bank = mode == "prior" and c.n_cond > 0
        if self.bank and len(model.condition_bank) == 0:
            raise ValueError(
                "this conditional particle-vae stores no training conditions; export --mode conditioned"
            )
        b = "batch"
        inputs: list[TensorSpec] = []
        if mode == "conditioned" and c.n_cond:
            inputs.append(TensorSpec("cond", (b, "cond_columns"), source="batch:cond", doc="jet conditions"))
        if model.detector:
            p, f = c.gen_slots, c.n_features + c.n_gen_types
            inputs += [
                TensorSpec("gen_features", (b, p, f), source="batch:gen_features", doc="gen-level particles"),
                TensorSpec("gen_mask", (b, p), "bool", source="batch:gen_mask", doc="their real slots"),
            ]
        if isinstance(model.prior, MixturePrior):
            inputs.append(TensorSpec("u_prior", (b,), source="uniform", doc="the prior's mixture component"))
        inputs += [
            TensorSpec("z", (b, c.latent), source="normal", doc="the prior's base draw"),
            TensorSpec("u_count", (b,), source="uniform", doc="multiplicity (inverse CDF)"),
        ]
        if model.detector:
            inputs += [
                TensorSpec("u_response", (b,), source="uniform", doc="the jet response's mixture component"),
                TensorSpec("eps_response", (b, c.n_response), source="normal", doc="the response's draw"),
            ]
        if self.bank:
            inputs.append(TensorSpec("bank_u", (b,), source="uniform", doc="picks stored jet conditions"))
        outputs = [
            TensorSpec("features", (b, c.n_particles, c.n_features), doc="particles (standardised)"),
            TensorSpec("mask", (b, c.n_particles), "bool", doc="the first n slots"),
        ]
        if model.detector:
            outputs.append(TensorSpec("response", (b, c.n_response), doc="jet response (standardised)"))
        if self.bank:
            outputs.append(TensorSpec("matched_cond", (b, c.n_cond), doc="the drawn jet conditions"))
        self.spec = SamplerSpec(tuple(inputs), tuple(outputs), mode)

    def forward(self, *args: Tensor) -> tuple[Tensor, ...]:
        x = {t.name: a for t, a in zip(self.spec.inputs, args, strict=True)}
        model = self.model
        batch: dict[str, Tensor] = {k: x[k] for k in ("cond", "gen_features", "gen_mask") if k in x}
        if self.bank:
            n = model.condition_bank.shape[0]
            pick = torch.floor(x["bank_u"] * n).to(torch.int64).clamp(0, n - 1)
            batch["cond"] = model.condition_bank.index_select(0, pick)
        ctx = model._context(batch)
        z = x["z"]
        if isinstance(model.prior, FlowPrior):
            z = model.prior.inverse(z, ctx)
        elif isinstance(model.prior, MixturePrior):
            k = categorical_from_uniform(
                model.prior.logits.log_softmax(0), x["u_prior"].unsqueeze(1)
            ).squeeze(1)
            z = model.prior.means.index_select(0, k) + model.prior.log_std.exp().index_select(0, k) * z
        out = model.decode(model.in_latent_range(z), ctx, batch)
        res = model.from_noise(out, x["u_count"], x.get("u_response"), x.get("eps_response"), ctx)
        extra = (batch["cond"],) if self.bank else ()
        if model.detector:
            extra = (res["response"],)
        return (res["features"], res["mask"], *extra)
