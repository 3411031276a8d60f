"""``cgan-tpc``: the plain generator, hard and soft zero suppression, the critic's reconstruction features
(checked against the cluster finder on real windows), parameter groups and weighted losses, the condition
bank, a short real training that moves the windows towards the reference, and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mlfastsim.cli.main import main
from mlfastsim.data.kinds import KINDS
from mlfastsim.data.kinds.tpc import TPCCodec, TPCData, TPCWindows
from mlfastsim.evaluation.tpc_clusters import find_clusters
from mlfastsim.models import Adversarial, GenerativeModel, Prepared, ScoringModel, build_model
from mlfastsim.models.cgan_tpc import CGANTPC, CGANTPCConfig, Scale, grouped_energy, grouped_w1

KIND = KINDS["tpc"]
SMALL = {"gen_hidden": [32, 32], "critic_hidden": [32, 32], "bank_size": 50, "critic_steps": 2}


@pytest.fixture(scope="module")
def data() -> tuple[TPCWindows, TPCCodec, dict[str, torch.Tensor]]:
    windows = KIND.example(200, seed=1)
    codec = KIND.fit_codec(windows, TPCData())
    assert isinstance(windows, TPCWindows) and isinstance(codec, TPCCodec)
    return windows, codec, codec.encode(windows, frozenset())


def _model(codec: TPCCodec, **kw: object) -> CGANTPC:
    torch.manual_seed(0)
    fields = {k: v for k, v in codec.model_fields().items() if k != "outputs"}
    model, _ = build_model("cgan-tpc", {**fields, **SMALL, **kw})
    assert isinstance(model, CGANTPC)
    return model


def test_protocols_and_groups(data: tuple[TPCWindows, TPCCodec, dict[str, torch.Tensor]]) -> None:
    model = _model(data[1])
    assert (
        isinstance(model, Adversarial) and isinstance(model, GenerativeModel) and isinstance(model, Prepared)
    )
    assert not isinstance(model, ScoringModel), "the critic is not an anomaly score"
    groups = model.parameter_groups()
    ids = [{id(p) for p in ps} for ps in groups.values()]
    assert list(groups) == ["critic", "generator"] and not ids[0] & ids[1]
    assert ids[0] | ids[1] == {id(p) for p in model.parameters()}
    assert model.group_steps() == {"critic": 2, "generator": 1}
    assert CGANTPCConfig().batch_keys() == {"features", "mask", "cond"}
    with pytest.raises(KeyError, match="no parameter group"):
        model.group_loss("regressor", data[2])


def test_sample_is_the_plain_generator_with_hard_zero_suppression(
    data: tuple[TPCWindows, TPCCodec, dict[str, torch.Tensor]],
) -> None:
    windows, codec, batch = data
    model = _model(codec).eval()
    with torch.no_grad():  # push the untrained generator's outputs around the threshold
        last = model.gen[-1]
        assert isinstance(last, torch.nn.Linear)
        last.bias.fill_(codec.threshold_feature())
    cond = batch["cond"][:64]
    with torch.no_grad():
        out = model.sample(64, {"cond": cond}, torch.Generator().manual_seed(5))
        noise = torch.randn(64, model.config.latent, generator=torch.Generator().manual_seed(5))
        raw = model.generator(noise, cond)
        gated = model._gate(raw)
    f = out["features"][..., 0]
    thr = model.config.threshold
    assert out["features"].shape == (64, 128, 1) and out["mask"].all()
    assert ((raw < thr) & (raw > 0)).any() and (raw >= thr).any(), "the test needs cells on both sides"
    assert torch.equal(f, torch.where(raw >= thr, raw, torch.zeros_like(raw)))
    # the soft gate of training removes what decoding removes, and keeps what it keeps
    low, high = raw < thr - 0.05, raw > thr + 0.1
    assert (gated[low] < 1e-3).all() and torch.allclose(gated[high], raw[high], rtol=1e-3)
    adc = codec.decode(out, windows.subset(slice(0, 64))).adc
    assert set(np.unique(adc)) <= {0.0} | set(np.arange(31, 4096, dtype=np.float32))
    assert ((adc > 0) == (f.reshape(64, 8, 16).numpy() > 0)).mean() > 0.99
    traced = torch.jit.trace(model.sampler(), (noise, cond))  # no RNG inside: what export traces
    assert torch.equal(traced(noise, cond), f)
    with torch.no_grad():
        other = model.sample(64, {"cond": cond.flip(0)}, torch.Generator().manual_seed(5))
    assert not torch.equal(other["features"], out["features"]), "sample ignores its conditions"


def test_reconstruction_features_agree_with_the_cluster_finder(
    data: tuple[TPCWindows, TPCCodec, dict[str, torch.Tensor]],
) -> None:
    windows, codec, batch = data
    model = _model(codec)
    s = model.summary_features(batch["features"].flatten(1), batch["cond"]).double().numpy()
    clusters = find_clusters(windows.adc, windows.crossing)
    one = clusters.found & (clusters.n_clusters == 1)  # the window holds exactly the found cluster
    assert one.sum() > 100
    total = windows.adc.reshape(len(windows), -1).sum(1)
    np.testing.assert_allclose(s[one, 0], np.log1p(total[one] / 1000.0), rtol=2e-3)
    np.testing.assert_allclose(s[one, 1], clusters.pad_residual[one], atol=2e-3)
    np.testing.assert_allclose(s[one, 2], clusters.time_residual[one], atol=2e-3)
    np.testing.assert_allclose(s[one, 3], clusters.pad_width[one], atol=2e-3)
    np.testing.assert_allclose(s[one, 4], clusters.time_width[one], atol=2e-3)
    np.testing.assert_allclose(np.expm1(s[one, 5]), clusters.n_cells[one], rtol=0.1)  # soft near threshold
    empty = model.summary_features(torch.zeros(3, 128), batch["cond"][:3])
    assert torch.equal(empty[:, 1:5], torch.zeros(3, 4))


@pytest.mark.parametrize("loss", ["wgan-gp", "cramer"])
def test_group_losses_are_finite_weighted_and_monitored(
    data: tuple[TPCWindows, TPCCodec, dict[str, torch.Tensor]], loss: str
) -> None:
    batch = data[2]
    model = _model(data[1], loss=loss)
    torch.manual_seed(1)
    critic = model.group_loss("critic", batch)
    assert {"loss", "gp"} <= set(critic) and all(torch.isfinite(v) for v in critic.values())
    torch.manual_seed(1)
    gen = model.group_loss("generator", batch)["loss"]
    reweighted = {**batch, "weight": torch.where(batch["cond"][:, 5] > 0, 0.1, 2.0)}  # outer rows light
    torch.manual_seed(1)
    assert not torch.allclose(model.group_loss("generator", reweighted)["loss"], gen)
    monitor = model.loss(batch)
    assert {"loss", "wasserstein", "physics_w1"} <= set(monitor) and monitor["physics_w1"] > 0.1


def test_physics_term_pulls_the_generator_towards_the_real_reconstruction_features(
    data: tuple[TPCWindows, TPCCodec, dict[str, torch.Tensor]],
) -> None:
    batch = data[2]
    plain, physics = _model(data[1]), _model(data[1], physics_weight=2.0)
    physics.load_state_dict(plain.state_dict())
    torch.manual_seed(4)
    a = plain.group_loss("generator", batch)
    torch.manual_seed(4)
    b = physics.group_loss("generator", batch)
    assert "physics_w1" not in a and torch.allclose(b["adversarial"], a["loss"])
    torch.testing.assert_close(b["loss"], a["loss"] + 2.0 * b["physics_w1"])
    b["loss"].backward()
    assert all(p.grad is not None and p.grad.any() for p in physics.parameter_groups()["generator"])


def test_grouped_physics_term_sees_widths_that_vary_with_a_condition() -> None:
    # real residuals widen with |φ|; the fake holds the same values, shuffled across segments: the batch
    # W1 is exactly 0, the W1 within groups ordered by |φ| is not; groups = 1 is the batch term alone
    gen = torch.Generator().manual_seed(0)
    phi = torch.rand(4000, generator=gen) * 1.2 - 0.6
    real = (0.1 + phi.abs())[:, None] * torch.randn(4000, 2, generator=gen)
    fake = real[torch.randperm(4000, generator=gen)]
    assert float(grouped_w1(real, fake, [phi.abs()], 1)) == 0.0
    assert float(grouped_w1(real, fake, [phi.abs()], 8)) > 0.1
    assert float(grouped_w1(real, real.clone(), [phi.abs()], 8)) == 0.0
    key_free = grouped_w1(real, fake, [torch.rand(4000, generator=gen)], 8)  # groups that ignore |φ|
    assert float(key_free) < 0.3 * float(grouped_w1(real, fake, [phi.abs()], 8))


def test_energy_physics_term_is_smallest_at_the_real_width_in_small_groups() -> None:
    # 200 batches of 256 segments in 4 groups of 64: the mean energy distance is ≈ 0 for a fake drawn like
    # the real and grows for one 5 % narrower or wider; it sees the groups as the W1 term does
    gen = torch.Generator().manual_seed(0)

    def mean_distance(scale: float) -> float:
        total = 0.0
        for _ in range(200):
            real, fake = torch.randn(256, 3, generator=gen), scale * torch.randn(256, 3, generator=gen)
            total += float(grouped_energy(real, fake, [torch.rand(256, generator=gen)], 4))
        return total / 200

    matched, narrow, wide = mean_distance(1.0), mean_distance(0.95), mean_distance(1.05)
    assert abs(matched) < 2e-4 and narrow > matched + 2e-4 and wide > matched + 2e-4
    phi = torch.rand(4000, generator=gen) * 1.2 - 0.6
    real = (0.1 + phi.abs())[:, None] * torch.randn(4000, 2, generator=gen)
    fake = real[torch.randperm(4000, generator=gen)]
    assert float(grouped_energy(real, fake, [phi.abs()], 8)) > 10 * abs(
        float(grouped_energy(real, fake, [], 8))
    )


def test_group_scale_weighs_a_narrow_group_as_much_as_a_wide_one() -> None:
    # half the segments with residuals 10x narrower than the rest; the fake 20 % too wide in one half only.
    # In the batch's unit the narrow half's error is 10x smaller than the wide half's; in each group's own
    # unit they are alike
    gen = torch.Generator().manual_seed(0)
    key = torch.arange(4000.0)
    sigma = torch.where(key < 2000, 0.1, 1.0)[:, None]
    real = sigma * torch.randn(4000, 2, generator=gen)

    def term(widen: torch.Tensor, scale: Scale) -> float:
        fake = sigma * widen * torch.randn(4000, 2, generator=gen)
        return float(grouped_energy(real, fake, [key], 2, scale))

    narrow_off = torch.where(key < 2000, 1.2, 1.0)[:, None]
    wide_off = torch.where(key < 2000, 1.0, 1.2)[:, None]
    assert term(narrow_off, "batch") < 0.3 * term(wide_off, "batch")
    assert term(narrow_off, "group") > 0.7 * term(wide_off, "group")
    assert term(narrow_off, "group") > 3 * term(narrow_off, "batch")


def test_energy_physics_term_trains_the_generator(
    data: tuple[TPCWindows, TPCCodec, dict[str, torch.Tensor]],
) -> None:
    model = _model(data[1], physics_weight=1.0, physics_distance="energy", physics_groups=2)
    out = model.group_loss("generator", data[2])
    assert "physics_energy" in out and "physics_w1" not in out
    out["loss"].backward()
    assert all(p.grad is not None and p.grad.any() for p in model.parameter_groups()["generator"])


def test_condition_bank_samples_without_conditions(
    data: tuple[TPCWindows, TPCCodec, dict[str, torch.Tensor]],
) -> None:
    model = _model(data[1])
    assert model.needs_conditions()
    with pytest.raises(RuntimeError, match="needs conditions"):
        model.sample(3)
    model.prepare(data[2])
    assert len(model.condition_bank) == 50 and not model.needs_conditions()
    out = model.sample(7, generator=torch.Generator().manual_seed(0))
    assert out["features"].shape == (7, 128, 1) and out["matched_cond"].shape == (7, 6)
    fresh = _model(data[1])
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh.condition_bank, model.condition_bank)


def test_short_training_moves_the_windows_towards_the_reference(
    data: tuple[TPCWindows, TPCCodec, dict[str, torch.Tensor]],
) -> None:
    """300 real WGAN-GP steps (critic and generator) must lower the critic-free physics_w1 on held-out
    windows: the generator learns the charge, centroid and widths of the windows from the critic alone."""
    _, codec, _ = data
    held = KIND.example(400, seed=7)
    val = codec.encode(held, frozenset())
    train = codec.encode(KIND.example(600, seed=8), frozenset())
    model = _model(codec, gen_hidden=[64, 64], critic_hidden=[64, 64])
    groups = model.parameter_groups()
    opt = {g: torch.optim.Adam(ps, lr=1e-3, betas=(0.5, 0.9)) for g, ps in groups.items()}

    def physics() -> float:
        torch.manual_seed(3)
        return float(model.loss(val)["physics_w1"])

    before = physics()
    gen = torch.Generator().manual_seed(0)
    for step in range(300):
        group = "critic" if step % 3 else "generator"
        idx = torch.randint(len(train["cond"]), (64,), generator=gen)
        loss = model.group_loss(group, {k: v[idx] for k, v in train.items()})["loss"]
        opt[group].zero_grad()
        loss.backward()
        opt[group].step()
    after = physics()
    assert after < 0.6 * before, (before, after)


def test_train_sample_and_bench_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "train.h5"
    KIND.write(data, KIND.example(200, seed=2))
    run = tmp_path / "run"
    sets = [f"model.{k}={json.dumps(v)}" for k, v in SMALL.items()] + [
        "train.batch_size=32",
        "data.spans=true",
    ]
    args = ["train", "cgan-tpc", "--data", str(data), "--out", str(run), "--max-steps", "9"]
    assert main([*args, *(x for s in sets for x in ("--set", s))]) == 0
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"critic/loss", "generator/loss"} <= set(metrics[0])
    assert json.loads((run / "config.json").read_text())["model"]["n_cond"] == 8  # the spans reach the model
    segments = tmp_path / "segments.h5"
    example = KIND.example(30, seed=3)
    KIND.write(segments, TPCWindows(np.zeros_like(example.adc), example.conditions, example.pad_offset,
                                    example.time_offset, example.crossing, np.arange(100, 130)))  # fmt: skip
    out = tmp_path / "generated.h5"
    assert main(["sample", "--run", str(run), "--out", str(out), "--conditions", str(segments)]) == 0
    generated = KIND.read(out)
    assert np.array_equal(generated.event_id, np.arange(100, 130))
    np.testing.assert_array_equal(generated.conditions, example.conditions)
    np.testing.assert_array_equal(generated.crossing, example.crossing)
    capsys.readouterr()
    assert main(["bench", "runs", "--run", str(run), "--batches", "1,64", "--repeats", "3"]) == 0
    text = capsys.readouterr().out
    assert "cgan-tpc" in text and "reference simulation" in text
