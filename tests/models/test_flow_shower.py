"""``flow-shower``: the core's representation inverts exactly, sampled cores keep the flow's deposit, the
outer-cell table reproduces the training showers' hit rates and their energy dependence, the likelihood
honours weights, and a short fit learns the energy dependence of the showers (conditions are used)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch

from mlfastsim.data.kinds import KINDS
from mlfastsim.data.kinds.showers import ShowerData
from mlfastsim.models import Adversarial, GenerativeModel, Prepared
from mlfastsim.models.flow_shower import FlowShower, FlowShowerConfig

SMALL: dict[str, Any] = {"transforms": 2, "hidden": (64, 64), "patch": 10, "outer_bins": 2}
STUDENT: dict[str, Any] = {
    "distill": True,
    "student_hidden": (128, 128),
    "distill_pairs": 4000,
    "distill_steps": 300,
    "distill_batch": 256,
}


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    kind = KINDS["showers"]
    events = kind.example(600, seed=11)
    codec = kind.fit_codec(events, ShowerData())
    names = {f.name for f in dataclasses.fields(FlowShowerConfig)}
    fields: dict[str, Any] = {k: v for k, v in codec.model_fields().items() if k in names}
    cfg = FlowShowerConfig(**fields, **SMALL)
    return {"events": events, "cfg": cfg, "batch": codec.encode(events, cfg.batch_keys())}


def _model(data: dict[str, Any], seed: int = 0, **changes: Any) -> FlowShower:
    torch.manual_seed(seed)
    m = FlowShower(dataclasses.replace(data["cfg"], **changes))
    m.prepare(data["batch"])
    return m


def _energies(f: torch.Tensor, cfg: FlowShowerConfig) -> torch.Tensor:
    return cfg.energy_floor * torch.expm1(f.flatten(1).clamp_min(0) * cfg.feature_scale)


def test_protocols_and_the_core_inverts_exactly(data: dict[str, Any]) -> None:
    m = _model(data)
    assert isinstance(m, GenerativeModel) and isinstance(m, Prepared) and not isinstance(m, Adversarial)
    b, cfg = data["batch"], data["cfg"]
    x = m.encode_core(b["features"], b["cond"], dequantise=False)
    assert x.shape == (len(b["cond"]), cfg.patch**2 + 1)
    torch.testing.assert_close(x.mean(0), torch.zeros(x.shape[1]), atol=1e-4, rtol=0)  # standardised
    core = _energies(b["features"], cfg)[:, m.core_idx]
    torch.testing.assert_close(m.decode_core(x, b["cond"]), core, rtol=1e-3, atol=1e-5)
    noisy = m.encode_core(b["features"], b["cond"])  # dequantised: the same showers after suppression
    torch.testing.assert_close(m.decode_core(noisy, b["cond"]), core, rtol=1e-3, atol=1e-5)
    with pytest.raises(ValueError, match="parity"):
        FlowShowerConfig(patch=15)


def test_sampling_keeps_the_flows_deposit_and_is_reproducible(data: dict[str, Any]) -> None:
    m = _model(data).eval()
    cond, cfg = data["batch"]["cond"][:200], data["cfg"]
    out = m.sample(200, {"cond": cond}, torch.Generator().manual_seed(3))
    again = m.sample(200, {"cond": cond}, torch.Generator().manual_seed(3))
    assert torch.equal(out["features"], again["features"]) and out["mask"].all()
    z = torch.randn(200, cfg.patch**2 + 1, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        x = m.flow(cond).transform.inv(z) * m.x_std + m.x_mean
    e = _energies(out["features"], cfg)
    deposit = torch.exp(x[:, 0] + cfg.log_energy(cond))
    torch.testing.assert_close(e[:, m.core_idx].sum(1), deposit, rtol=1e-3, atol=1e-4)
    assert ((e == 0) | (e >= cfg.threshold * (1 - 1e-4))).all()  # zero suppression
    drawn = m.sample(50, None, torch.Generator().manual_seed(4))
    assert drawn["matched_cond"].shape == (50, cfg.n_cond)


def test_the_outer_table_reproduces_hit_rates_and_their_energy_dependence(data: dict[str, Any]) -> None:
    m = _model(data)
    b, cfg = data["batch"], data["cfg"]
    outer = _energies(b["features"], cfg)[:, m.outer_idx]
    high = b["cond"][:, 4] > m.outer_edges[0]
    rates = [float((outer[sel] > 0).float().mean()) for sel in (~high, high)]
    assert rates[1] > 1.5 * rates[0] > 0  # tails of energetic showers reach the outer cells
    reps = 20
    drawn = m.sample_outer(b["cond"].repeat(reps, 1), torch.Generator().manual_seed(0))
    sel = high.repeat(reps)
    for k, s in enumerate((~sel, sel)):
        got = float((drawn[s] > 0).float().mean())
        assert abs(got - rates[k]) < 0.1 * rates[k], (k, got, rates[k])
    hits = drawn[drawn > 0]
    assert float(hits.min()) >= cfg.threshold * (1 - 1e-6)
    real = outer[outer > 0]
    assert abs(float(hits.median()) / float(real.median()) - 1) < 0.1
    near = m.outer_ring == 0  # tails next to the core are hotter than the hits further out
    made = [float(drawn[:, ring][drawn[:, ring] > 0].mean()) for ring in (near, ~near)]
    true = [float(outer[:, ring][outer[:, ring] > 0].mean()) for ring in (near, ~near)]
    assert true[0] > 1.1 * true[1]
    assert all(abs(mk / tk - 1) < 0.15 for mk, tk in zip(made, true, strict=True)), (made, true)
    assert made[0] - made[1] > 0.5 * (true[0] - true[1]), (made, true)  # pooled over rings: no difference


def test_the_likelihood_is_weighted(data: dict[str, Any]) -> None:
    m = _model(data)
    b = {k: v[:200] for k, v in data["batch"].items()}
    half = {k: v[:100] for k, v in b.items()}
    w = torch.cat([torch.ones(100), torch.zeros(100)])
    torch.manual_seed(1)
    weighted = m.loss({**b, "weight": w})["loss"]
    torch.manual_seed(1)
    alone = m.loss(half)["loss"]
    torch.testing.assert_close(weighted, alone)  # the same dequantisation draws for the first 100 rows
    torch.manual_seed(1)
    assert not torch.allclose(m.loss(b)["loss"], alone)


@pytest.mark.slow  # over 20 s: make test-all runs it
def test_a_short_fit_learns_the_energy_dependence(data: dict[str, Any]) -> None:
    m = _model(data, transforms=4)
    b, cfg = data["batch"], data["cfg"]
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(0)
    first = float(m.loss(b)["loss"].detach())
    for _ in range(300):
        idx = torch.randint(len(b["cond"]), (128,), generator=g)
        loss = m.loss({k: v[idx] for k, v in b.items()})["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(m.loss(b)["loss"].detach()) < first - 20
    m.eval()
    low, high = b["cond"][:, 4] < 0, b["cond"][:, 4] > 0
    cells = (_energies(b["features"], cfg)[:, m.core_idx] > 0).sum(1).float()
    with torch.no_grad():
        out = _energies(m.sample(len(b["cond"]), {"cond": b["cond"]}, g)["features"], cfg)[:, m.core_idx]
    made = (out > 0).sum(1).float()
    real_gap = float(cells[high].mean() - cells[low].mean())
    made_gap = float(made[high].mean() - made[low].mean())
    assert real_gap > 5 and 0.4 * real_gap < made_gap < 1.5 * real_gap, (made_gap, real_gap)  # 0: c ignored
    assert np.isfinite(float(out.sum()))


def test_the_distilled_student_follows_the_flow_and_samples(data: dict[str, Any]) -> None:
    m = _model(data, **STUDENT)
    b, cfg = data["batch"], data["cfg"]
    cond = b["cond"][:300]
    z = torch.randn(300, cfg.patch**2 + 1, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        untrained = float((m.student(torch.cat([z, cond], 1)) - m.from_noise(z, cond)).abs().mean())
        flow_cells = m.sample(300, {"cond": cond}, torch.Generator().manual_seed(6))["features"]
    fit = m.fit_second_stage(b, seed=2)
    assert bool(m.student_fitted) and fit["student_l1_heldout"] < 0.6 * untrained, (fit, untrained)
    with torch.no_grad():
        torch.testing.assert_close(m.generator(z, cond), m.student(torch.cat([z, cond], 1)))
        student_cells = m.sample(300, {"cond": cond}, torch.Generator().manual_seed(6))["features"]
    assert not torch.equal(student_cells, flow_cells)  # sampling goes through the student now
    e = _energies(student_cells, cfg)[:, m.core_idx]
    assert ((e == 0) | (e >= cfg.threshold * (1 - 1e-4))).all()
    again = _model(data, **STUDENT)
    assert again.fit_second_stage(b, seed=2) == fit  # reproducible from the seed
    assert _model(data, distill=False).fit_second_stage(b, seed=2) == {}


@pytest.mark.parametrize("coupling", ["spline", "affine"])
def test_randperm_splits_the_cells_at_random_and_the_split_travels_with_the_weights(
    data: dict[str, Any], coupling: str
) -> None:
    plain, mixed = _model(data, coupling=coupling), _model(data, coupling=coupling, randperm=True)
    masks = _split(mixed)
    assert masks and any(not torch.equal(a, b) for a, b in zip(masks, _split(plain), strict=True))
    other = _model(data, seed=5, coupling=coupling, randperm=True)  # another seed draws another split
    assert any(not torch.equal(a, b) for a, b in zip(masks, _split(other), strict=True))
    other.load_state_dict(mixed.state_dict())  # a checkpoint restores the split with the weights
    b = data["batch"]
    x = mixed.encode_core(b["features"], b["cond"], dequantise=False)
    c = b["cond"]
    torch.testing.assert_close(other.flow(c).log_prob(x), mixed.flow(c).log_prob(x))


def _split(m: FlowShower) -> list[torch.Tensor]:
    return [v for k, v in m.state_dict().items() if k.endswith(("order", "mask"))]
