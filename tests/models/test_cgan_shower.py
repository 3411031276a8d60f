"""``cgan-shower``: the Adversarial protocol (groups, steps, weighted group losses), the pure generator path,
zero suppression, the condition bank, the ablation, and a small training loop through the protocol in which
the regressor learns the asymmetry and the generator moves towards the data."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch

from mlfastsim.data.kinds import KINDS
from mlfastsim.data.kinds.showers import ShowerData
from mlfastsim.models import Adversarial, GenerativeModel, Prepared
from mlfastsim.models.cgan_shower import CGANShower, CGANShowerConfig

SMALL: dict[str, Any] = {"latent": 8, "gen_hidden": (64, 64), "critic_hidden": (64, 32)}


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    kind = KINDS["showers"]
    events = kind.example(400, seed=11)
    codec = kind.fit_codec(events, ShowerData())
    names = {f.name for f in dataclasses.fields(CGANShowerConfig)}
    fields: dict[str, Any] = {k: v for k, v in codec.model_fields().items() if k in names}
    cfg = CGANShowerConfig(**fields, **SMALL)
    return {"events": events, "codec": codec, "cfg": cfg, "batch": codec.encode(events, cfg.batch_keys())}


def _model(cfg: CGANShowerConfig, seed: int = 0, **changes: Any) -> CGANShower:
    torch.manual_seed(seed)
    return CGANShower(dataclasses.replace(cfg, **changes))


def test_declares_the_protocols(data: dict[str, Any]) -> None:
    m = _model(data["cfg"])
    assert isinstance(m, Adversarial) and isinstance(m, GenerativeModel) and isinstance(m, Prepared)
    groups = m.parameter_groups()
    assert list(groups) == ["critic", "generator", "regressor"]
    ids = [id(p) for ps in groups.values() for p in ps]
    assert len(ids) == len(set(ids)) == len(list(m.parameters()))  # disjoint, and every parameter trains
    assert m.group_steps() == {"critic": 5, "generator": 1, "regressor": 1}
    assert data["cfg"].batch_keys() == {"features", "mask", "cond", "asymmetry"}


def test_each_group_loss_moves_its_own_group(data: dict[str, Any]) -> None:
    m = _model(data["cfg"])
    batch = {k: v[:32] for k, v in data["batch"].items()}
    for group, params in m.parameter_groups().items():
        m.zero_grad(set_to_none=True)
        out = m.group_loss(group, batch)
        assert torch.isfinite(out["loss"]), group
        out["loss"].backward()
        assert all(p.grad is not None and p.grad.any() for p in params), (
            f"{group}: a parameter gets no gradient"
        )
    with pytest.raises(KeyError, match="no parameter group"):
        m.group_loss("discriminator", batch)


def test_group_losses_honour_event_weights(data: dict[str, Any]) -> None:
    m = _model(data["cfg"])
    batch = {k: v[:32] for k, v in data["batch"].items()}
    half = {k: v[:16] for k, v in batch.items()}
    weighted = {**batch, "weight": torch.cat([torch.ones(16), torch.zeros(16)])}
    assert torch.allclose(
        m.group_loss("regressor", weighted)["loss"], m.group_loss("regressor", half)["loss"]
    )
    torch.manual_seed(1)
    a = m.loss(weighted)["wasserstein"]
    torch.manual_seed(1)
    b = m.loss(half)["wasserstein"]  # the same noise for the first 16 rows
    assert torch.allclose(a, b, atol=1e-5)


def test_the_generator_is_one_plain_network(data: dict[str, Any]) -> None:
    m = _model(data["cfg"]).eval()
    z, c = torch.randn(7, m.config.noise_dim), data["batch"]["cond"][:7]
    a, b = m.generator(z, c), m.generator(z, c)
    assert a.shape == (7, 900) and torch.equal(a, b) and (a >= 0).all()
    traced = torch.jit.trace(m.sampler(), (z, c))  # what export traces: no randomness, static shapes
    assert torch.equal(traced(z, c), a)


def test_sampling_suppresses_and_draws_conditions(data: dict[str, Any]) -> None:
    m = _model(data["cfg"]).eval()
    assert m.needs_conditions()
    with pytest.raises(RuntimeError, match="needs conditions"):
        m.sample(3)
    m.prepare(data["batch"])
    assert not m.needs_conditions()
    out = m.sample(50, generator=torch.Generator().manual_seed(0))
    f = out["features"]
    assert f.shape == (50, 900, 1) and out["mask"].all() and out["matched_cond"].shape == (50, 5)
    assert ((f == 0) | (f >= m.f_threshold)).all()  # decoded cells are 0 or above the threshold
    again = m.sample(50, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again["features"], f)
    events = data["codec"].decode(out, None)
    assert len(events) == 50 and (events.event_id == -1).all() and np.isfinite(events.conditions).all()


def test_the_ablation_has_no_regressor(data: dict[str, Any]) -> None:
    m = _model(data["cfg"], regressor=False)
    assert list(m.parameter_groups()) == ["critic", "generator"] and m.reg is None
    assert "asymmetry" not in m.config.batch_keys()
    batch = {k: v[:16] for k, v in data["batch"].items() if k != "asymmetry"}
    out = m.group_loss("generator", batch)
    assert "asymmetry_w1" not in out and torch.isfinite(out["loss"])


def test_cramer_loss_runs(data: dict[str, Any]) -> None:
    m = _model(data["cfg"], loss="cramer", cramer_dim=8)
    batch = {k: v[:16] for k, v in data["batch"].items()}
    for group in m.parameter_groups():
        assert torch.isfinite(m.group_loss(group, batch)["loss"])


def _train(m: CGANShower, batch: dict[str, torch.Tensor], cycles: int, seed: int = 0) -> None:
    """The trainer's cycle through the protocol alone: one batch and one group step at a time."""
    groups = m.parameter_groups()
    cycle = [g for g in groups for _ in range(m.group_steps()[g])]
    opts = {
        g: torch.optim.Adam(ps, lr=3e-3 if g == "regressor" else 1e-4, betas=(0.5, 0.9))
        for g, ps in groups.items()
    }
    gen = torch.Generator().manual_seed(seed)
    n = len(batch["cond"])
    for step in range(cycles * len(cycle)):
        group = cycle[step % len(cycle)]
        rows = torch.randint(n, (64,), generator=gen)
        for name, ps in groups.items():
            for p in ps:
                p.requires_grad_(name == group)
                p.grad = None
        m.group_loss(group, {k: v[rows] for k, v in batch.items()})["loss"].backward()
        opts[group].step()
    for p in m.parameters():
        p.requires_grad_(True)


def _energy_distance(m: CGANShower, batch: dict[str, torch.Tensor]) -> float:
    torch.manual_seed(0)
    with torch.no_grad():
        return float(m.loss(batch)["energy_distance"])


def test_prepare_starts_the_generator_at_the_average_shower(data: dict[str, Any]) -> None:
    m = _model(data["cfg"], seed=3)
    before = _energy_distance(m, data["batch"])  # a random network spreads energy over the whole window
    m.prepare(data["batch"])
    assert len(m.condition_bank) == len(data["batch"]["cond"])
    after = _energy_distance(m, data["batch"])
    assert after < 0.02 * before, (before, after)
    with torch.no_grad():  # the energy scale is the particle's: deposited / requested ≈ the data's mean
        fake = m.summary_features(m._fake(data["batch"]["cond"], torch.Generator().manual_seed(0)))[:, 0]
        real = m.summary_features(data["batch"]["features"].flatten(1))[:, 0]
    assert float((fake - real).mean()) == pytest.approx(0.0, abs=0.2)  # random init: −2.2


def test_training_through_the_protocol_learns(data: dict[str, Any]) -> None:
    batch, cfg = data["batch"], dataclasses.replace(data["cfg"], critic_steps=2)
    m = _model(cfg, seed=3)
    m.prepare(batch)
    target = batch["asymmetry"]

    def regressor_mse() -> float:
        with torch.no_grad():
            return float(((m.regress(batch["features"].flatten(1), batch["cond"]) - target) ** 2).mean())

    before_mse, before_ed = regressor_mse(), _energy_distance(m, batch)
    _train(m, batch, cycles=40)
    assert regressor_mse() < 0.5 * min(before_mse, float(target.var()))
    assert (
        _energy_distance(m, batch) < 3 * before_ed
    )  # the generator stays near the data while the critic learns


def test_the_shape_term_pulls_the_mean_shape_to_the_data(data: dict[str, Any]) -> None:
    m = _model(data["cfg"], seed=5, lambda_shape=1.0)
    batch = {k: v[:64] for k, v in data["batch"].items()}
    assert "shape_kl" in m.group_loss("generator", batch)
    assert "shape_kl" not in _model(data["cfg"]).group_loss("generator", batch)  # off by default
    real, cond = batch["features"].flatten(1), batch["cond"]
    torch.manual_seed(0)
    before = float(m.shape_divergence(real, cond).detach())
    opt = torch.optim.Adam(m.gen.parameters(), lr=1e-3)
    for _ in range(30):
        opt.zero_grad()
        m.shape_divergence(real, cond).backward()
        opt.step()
    torch.manual_seed(0)
    after = float(m.shape_divergence(real, cond).detach())
    assert 0 <= after < 0.8 * before


def test_energy_conservation_leaves_the_total_to_the_fraction(data: dict[str, Any]) -> None:
    cond = data["batch"]["cond"][:16]
    for conserve in (True, False):
        m = _model(data["cfg"], seed=2, conserve_energy=conserve).eval()
        with torch.no_grad():
            noise = m._noise(16, cond, torch.Generator().manual_seed(0))
            c = m.config
            e = c.energy_floor * torch.expm1(m.generator(noise, cond) * c.feature_scale)
            log_total = m.gen.log_shares(noise, cond)[0][:, 0]
        ratio = e.sum(1) / log_total.exp()  # softplus(ln e − ln ε) is ln(1 + e/ε): exact before the threshold
        if conserve:
            assert torch.allclose(ratio, torch.ones(16), atol=1e-4)
        else:  # the cell noise moves the total too
            assert (ratio - 1).abs().max() > 1e-3
