"""The ``gvae`` pure sampler for export (issue 11): :meth:`GVAE.sample` with its noise as inputs and static sizes.

``GVAE.sample`` draws a data-dependent number of mixture draws (``oversample`` × the largest hit count of the
batch) and takes every random number from a ``torch.Generator``. Here the draws per jet are fixed at
M = ⌈oversample · n_max⌉ (the most the model can ask for: the same distribution of kept hits, never fewer
draws than ``sample`` makes), and every random number is an input, drawn outside as the spec declares:
``z`` (latent normals), ``u_count`` (the hit count's inverse CDF), the mixture's ``u_comp``, ``eps``,
``u_trunc``, ``u_cell``, ``u_ch`` (:func:`~mlfastsim.models.gvae_sampler.mixture_noise`) and, with
generator-level particles, the cores' ``u_core``, ``u_core_energy``. The rest is
:mod:`mlfastsim.models.gvae_sampler`'s own deterministic code, shared with ``sample``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor, nn

from mlfastsim.models.base import SamplerSpec, TensorSpec
from mlfastsim.models.export_nn import categorical_from_uniform
from mlfastsim.models.gvae_likelihood import channels, uniform_noise
from mlfastsim.models.gvae_sampler import core_hits, mixture_from_noise, select_hits

if TYPE_CHECKING:
    from mlfastsim.models.gvae import GVAE

__all__ = ["GVAESampler"]


class GVAESampler(nn.Module):
    """``forward(*inputs) → (features [B, n_max, F], mask [B, n_max][, matched_cond [B, C]])`` for the spec's
    inputs; ``conditioned``: the jet conditions and/or generator-level particles as inputs; ``prior``: jet
    conditions drawn from the training bank inside (``bank_u``), or the null condition without a bank."""

    def __init__(self, model: GVAE, mode: Literal["conditioned", "prior"]) -> None:
        super().__init__()
        self.model = model
        c = model.config
        self.mode = mode
        self.draws = max(math.ceil(c.oversample * c.n_max), c.n_max, 1)
        m, b = self.draws, "batch"
        inputs: list[TensorSpec] = []
        self.bank = mode == "prior" and c.n_cond > 0 and len(model.condition_bank) > 0
        if mode == "conditioned" and c.n_cond:
            inputs.append(
                TensorSpec("cond", (b, c.n_cond), source="batch:cond", doc="normalised jet pT, η, m")
            )
        if mode == "conditioned" and c.use_gen:
            p = "particles"
            inputs += [
                TensorSpec(
                    "gen_features", (b, p, c.gen_features), source="batch:gen_features", doc="particles"
                ),
                TensorSpec("gen_mask", (b, p), "bool", source="batch:gen_mask", doc="real particles"),
            ]
            if model.core_slots:
                k = len(model.core_slots)  # cores per particle: one per channel slot
                shape = (b, p) if k == 1 else (b, k, p)
                inputs += [
                    TensorSpec("u_core", shape, source="uniform", doc="core presence coins"),
                    TensorSpec("u_core_energy", shape, source="uniform", doc="core energies (inverse CDF)"),
                ]
        inputs += [
            TensorSpec("z", (b, c.latent), source="normal", doc="the prior's standard normal noise"),
            TensorSpec("u_count", (b,), source="uniform", doc="number of hits (inverse CDF)"),
            TensorSpec("u_comp", (b, m), source="uniform", doc="mixture component of each draw"),
            TensorSpec("eps", (b, m, 3), source="normal", doc="(η, φ, log E) standard normals"),
            TensorSpec("u_trunc", (b, m), source="uniform", doc="log E above threshold (inverse CDF)"),
        ]
        if uniform_noise(c):
            inputs.append(
                TensorSpec("u_cell", (b, m, 2), source="uniform", doc="cell of a noise-component draw")
            )
        if channels(c) > 1:
            inputs.append(TensorSpec("u_ch", (b, m), source="uniform", doc="channel of each draw"))
        if self.bank:
            inputs.append(TensorSpec("bank_u", (b,), source="uniform", doc="picks a stored jet condition"))
        outputs = [
            TensorSpec("features", (b, c.n_max, c.n_features), doc="hits (normalised units), by energy"),
            TensorSpec("mask", (b, c.n_max), "bool", doc="real hits"),
        ]
        if self.bank:
            outputs.append(TensorSpec("matched_cond", (b, c.n_cond), doc="the drawn jet conditions"))
        self.spec = SamplerSpec(tuple(inputs), tuple(outputs), mode)

    def forward(self, *args: Tensor) -> tuple[Tensor, ...]:
        x = {t.name: a for t, a in zip(self.spec.inputs, args, strict=True)}
        model, c = self.model, self.model.config
        z = x["z"]
        batch: dict[str, Tensor] = {k: x[k] for k in ("cond", "gen_features", "gen_mask") if k in x}
        if self.bank:
            n = model.condition_bank.shape[0]
            pick = torch.floor(x["bank_u"] * n).to(torch.int64).clamp(0, n - 1)
            batch["cond"] = model.condition_bank.index_select(0, pick)
        ctx, anchors = model._context(batch, z.shape[0], z.device, drop=False)
        z = model.latent(z, ctx)  # the flow prior's transform of the noise (identity under the normal prior)
        params = model.decode(z, ctx, batch.get("gen_features"), anchors)
        n_hits = categorical_from_uniform(params["count_logits"], x["u_count"].unsqueeze(1)).squeeze(1)
        core_feats = core_cell = None
        if "core_logit" in params:
            core_feats, core_cell = core_hits(
                params, c, x["u_core"].flatten(1), x["u_core_energy"].flatten(1)
            )
        noise: dict[str, Tensor] = {k: x[k] for k in ("u_comp", "eps", "u_trunc", "u_cell", "u_ch") if k in x}
        hits, comp, ch = mixture_from_noise(params, c, noise)
        out = select_hits(params, c, hits, comp, ch, n_hits, core_feats, core_cell)
        extra = (batch["cond"],) if self.bank else ()
        return (out["features"], out["mask"], *extra)
