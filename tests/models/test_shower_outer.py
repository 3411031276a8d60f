"""The conditional outer cells of ``flow-shower``: sampling follows the model's own probabilities, a short fit
learns outer cells that depend on the core (which a per-cell table cannot), and ``flow-shower`` with
``outer = "conditional"`` trains them jointly, samples them from the generated core, and reproduces."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from scipy.stats import ks_2samp

from mlfastsim.data.kinds import KINDS
from mlfastsim.data.kinds.showers import ShowerData
from mlfastsim.models.flow_shower import FlowShower, FlowShowerConfig
from mlfastsim.models.shower_outer import OuterCells, core_summary

PATCH, N_OUT, T = 6, 40, 0.015


def _showers(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cores ``[n, 36]`` whose outer ring holds 20 % of the deposit in a "wide" half and 1 % in the other;
    outer cells hit at rate 0.4 with energies ≈ 4t in the wide half, 0.05 and ≈ 1.5t in the narrow one."""
    g = torch.Generator().manual_seed(seed)
    wide = torch.rand(n, generator=g) < 0.5
    h = torch.arange(PATCH) - (PATCH - 1) / 2
    edge = (torch.maximum(h.abs()[:, None], h.abs()[None, :]) > 2).flatten()
    core = torch.rand(n, PATCH * PATCH, generator=g) + 1.0
    share = torch.where(wide, 0.2, 0.01)[:, None]
    core = torch.where(edge, share * core / edge.sum(), (1 - share) * core / (~edge).sum())
    rate = torch.where(wide, 0.4, 0.05)[:, None].expand(n, N_OUT)
    scale = torch.where(wide, 4.0, 1.5)[:, None]
    energy = T * (1 + (scale - 1) * torch.rand(n, N_OUT, generator=g) * 2)
    outer = torch.where(torch.rand(n, N_OUT, generator=g) < rate, energy.clamp_min(T * 1.001), 0.0)
    return core * 10.0, outer, wide


def test_samples_follow_the_models_own_probabilities() -> None:
    torch.manual_seed(0)
    m = OuterCells(N_OUT, PATCH, 5, T, width=4, hidden=(16,), bins=8)
    core, outer, _ = _showers(2000, 1)
    m.fit(core, outer)
    cond = torch.randn(2000, 5, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        p = m.params(core, cond)
        drawn = m.sample(core, cond, torch.Generator().manual_seed(3))
        again = m.sample(core, cond, torch.Generator().manual_seed(3))
    assert torch.equal(drawn, again)
    hit = drawn > 0
    assert abs(float(hit.float().mean()) - float(torch.sigmoid(p[:, 0]).mean())) < 0.01
    assert float(drawn[hit].min()) > T
    # the hits' v = ln(e/t) against draws of the same histograms by torch.distributions
    v = torch.log(drawn[hit] / T)
    k = torch.distributions.Categorical(logits=p[:, 1:].transpose(1, 2)).sample()
    lo, hi = m.edges[k], m.edges[k + 1]
    ref = (lo + torch.rand(lo.shape) * (hi - lo))[hit]
    assert ks_2samp(v.numpy(), ref.numpy()).pvalue > 1e-3


def test_a_short_fit_learns_outer_cells_that_follow_the_core() -> None:
    torch.manual_seed(0)
    m = OuterCells(N_OUT, PATCH, 5, T, width=4, hidden=(32, 32), bins=8)
    core, outer, wide = _showers(4000, 4)
    cond = torch.zeros(4000, 5)  # the conditions say nothing: only the core tells the halves apart
    m.fit(core, outer)
    first = float(-m.log_prob(outer, core, cond).mean().detach())
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(5)
    for _ in range(300):
        idx = torch.randint(len(core), (256,), generator=g)
        loss = -m.log_prob(outer[idx], core[idx], cond[idx]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(-m.log_prob(outer, core, cond).mean().detach()) < first - 3
    with torch.no_grad():
        drawn = m.sample(core, cond, torch.Generator().manual_seed(6))
    for sel, rate, mean in ((wide, 0.4, 4.0), (~wide, 0.05, 1.5)):
        hits = drawn[sel][drawn[sel] > 0]
        assert abs(float((drawn[sel] > 0).float().mean()) / rate - 1) < 0.15, sel.float().mean()
        assert abs(float(hits.mean()) / (T * mean) - 1) < 0.15


def test_the_core_summary_reads_rings_centroid_and_deposit() -> None:
    core = torch.zeros(2, PATCH * PATCH)
    core[0, (PATCH // 2) * PATCH + PATCH // 2] = 2.0  # one cell right of and below the centre
    core[1, 0] = 1.0  # the corner: the outer ring
    s = core_summary(core, PATCH)
    assert s.shape == (2, PATCH // 2 + 6)
    torch.testing.assert_close(s[0, 0], torch.tensor(0.0))  # all in ring 0
    torch.testing.assert_close(s[1, PATCH // 2 - 1], torch.tensor(0.0))  # all in the last ring
    torch.testing.assert_close(s[0, PATCH // 2 : PATCH // 2 + 2], torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(s[1, PATCH // 2 : PATCH // 2 + 2], torch.tensor([-2.5, -2.5]))
    torch.testing.assert_close(s[:, -1], torch.log(torch.tensor([2.0, 1.0])))


def test_flow_shower_trains_and_samples_the_conditional_outer_cells() -> None:
    kind = KINDS["showers"]
    events = kind.example(300, seed=11)
    codec = kind.fit_codec(events, ShowerData())
    names = {f.name for f in dataclasses.fields(FlowShowerConfig)}
    fields: dict[str, Any] = {k: v for k, v in codec.model_fields().items() if k in names}
    cfg = FlowShowerConfig(**fields, transforms=1, hidden=(32,), patch=10, outer="conditional", outer_width=4)
    batch = codec.encode(events, cfg.batch_keys())
    torch.manual_seed(0)
    m = FlowShower(cfg)
    m.prepare(batch)
    out = m.loss(batch)
    torch.testing.assert_close(out["loss"], out["nll_core"] + out["nll_outer"])
    out["loss"].backward()
    assert m.outer_model is not None and m.outer_model.embed.grad is not None
    m.eval()
    with torch.no_grad():
        _check_samples(m, cfg, batch)


def _check_samples(m: FlowShower, cfg: FlowShowerConfig, batch: dict[str, torch.Tensor]) -> None:
    """Reproducible samples, zero-suppressed outer cells at the outer model's rate; the weights reload."""
    g = torch.Generator().manual_seed(1)
    s = m.sample(100, {"cond": batch["cond"][:100]}, g)
    again = m.sample(100, {"cond": batch["cond"][:100]}, torch.Generator().manual_seed(1))
    assert torch.equal(s["features"], again["features"])
    e = cfg.energy_floor * torch.expm1(s["features"].flatten(1).clamp_min(0) * cfg.feature_scale)
    outer = e[:, m.outer_idx]
    assert ((outer == 0) | (outer >= cfg.threshold * (1 - 1e-4))).all()
    # the outer cells come from the model: its hit rate, not the (unfitted) table's
    assert m.outer_model is not None
    core = e[:, m.core_idx]
    rate = torch.sigmoid(m.outer_model.params(core, batch["cond"][:100])[:, 0]).mean()
    assert float(rate) * outer.numel() > 100  # enough expected hits to tell
    assert abs(float((outer > 0).float().mean()) / float(rate) - 1) < 0.2, (
        float((outer > 0).float().mean()),
        rate,
    )
    assert np.isfinite(float(outer.sum()))
    fresh = FlowShower(cfg)
    fresh.load_state_dict(m.state_dict())  # the outer model travels with the weights
    fresh.eval()
    assert torch.equal(fresh.sample(100, {"cond": batch["cond"][:100]}, torch.Generator().manual_seed(1))["features"],
                       s["features"])  # fmt: skip
