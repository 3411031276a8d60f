"""``cgan-pid``: a plain generator of (noise, conditions), its parameter groups and losses, weights, the condition
bank, and the command line: train on a PID table, sample on a file of tracks without DLLs, bench."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mlfastsim.cli.main import main
from mlfastsim.data.kinds import KINDS
from mlfastsim.data.kinds.pid import PIDData, PIDTable
from mlfastsim.models import Adversarial, GenerativeModel, Prepared, build_model
from mlfastsim.models.cgan_pid import CGANPID, CGANPIDConfig

KIND = KINDS["pid"]
SMALL = {"generator_hidden": [32, 32], "critic_hidden": [32, 32], "critic_features": 8, "bank_size": 50}


def _model(**kw: object) -> CGANPID:
    torch.manual_seed(0)
    model, _ = build_model("cgan-pid", {**SMALL, **kw})
    assert isinstance(model, CGANPID)
    return model


@pytest.fixture(scope="module")
def batch() -> dict[str, torch.Tensor]:
    table = KIND.example(200, seed=1)
    return KIND.fit_codec(table, PIDData()).encode(table, frozenset())


def test_protocols_and_groups() -> None:
    model = _model()
    assert (
        isinstance(model, Adversarial) and isinstance(model, GenerativeModel) and isinstance(model, Prepared)
    )
    groups = model.parameter_groups()
    ids = [{id(p) for p in ps} for ps in groups.values()]
    assert list(groups) == ["critic", "generator"] and not ids[0] & ids[1]
    assert ids[0] | ids[1] == {id(p) for p in model.parameters()}
    assert model.group_steps() == {"critic": 3, "generator": 1}
    assert CGANPIDConfig().batch_keys() == {"features", "mask", "cond", "weight"}


def test_generator_is_a_plain_function_of_noise_and_conditions(batch: dict[str, torch.Tensor]) -> None:
    model = _model().eval()
    cond = batch["cond"][:16]
    out = model.sample(16, {"cond": cond}, torch.Generator().manual_seed(5))
    noise = torch.randn(16, model.config.noise, generator=torch.Generator().manual_seed(5))
    sampler = model.sampler()
    assert torch.equal(sampler(noise, cond), out["features"]) and out["mask"].all()
    assert not any(isinstance(m, torch.nn.Dropout) for m in sampler.modules())
    traced = torch.jit.trace(sampler, (noise, cond))  # static shapes, no RNG inside: traceable
    assert torch.equal(traced(noise, cond), out["features"])


@pytest.mark.parametrize("loss", ["cramer", "wgan-gp"])
def test_group_losses_are_finite_and_weighted(batch: dict[str, torch.Tensor], loss: str) -> None:
    model = _model(loss=loss)
    keys = {"cramer": {"loss", "surrogate", "gp"}, "wgan-gp": {"loss", "wasserstein", "gp"}}[loss]
    torch.manual_seed(1)
    critic = model.group_loss("critic", batch)
    assert set(critic) == keys and all(torch.isfinite(v) for v in critic.values())
    torch.manual_seed(1)
    gen = model.group_loss("generator", batch)["loss"]
    reweighted = {**batch, "weight": torch.where(batch["cond"][:, 5] > 0, -1.0, 2.0)}  # pions negative
    torch.manual_seed(1)
    assert not torch.allclose(model.group_loss("generator", reweighted)["loss"], gen)
    monitor = model.loss(batch)
    assert set(monitor) == {"loss", "energy_distance"} and monitor["energy_distance"] > 0


def test_condition_bank_samples_without_conditions(batch: dict[str, torch.Tensor]) -> None:
    model = _model()
    assert model.needs_conditions()
    model.prepare(batch)
    assert len(model.condition_bank) == 50 and not model.needs_conditions()
    out = model.sample(7, generator=torch.Generator().manual_seed(0))
    assert out["features"].shape == (7, 5) and out["matched_cond"].shape == (7, 15)
    fresh = _model()
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh.condition_bank, model.condition_bank)


def test_train_sample_on_a_file_of_tracks_and_bench(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "train.h5"
    KIND.write(data, KIND.example(300, seed=2))
    run = tmp_path / "run"
    sets = [f"model.{k}={json.dumps(v)}" for k, v in SMALL.items()] + ["train.batch_size=32"]
    args = ["train", "cgan-pid", "--data", str(data), "--out", str(run), "--max-steps", "12"]
    assert main([*args, *(x for s in sets for x in ("--set", s))]) == 0
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"critic/loss", "generator/loss", "critic/lr"} <= set(metrics[0])
    # a file of tracks to simulate: inputs only, no DLLs
    example = KIND.example(40, seed=3)
    tracks = PIDTable(p=example.p, eta=example.eta, n_tracks=example.n_tracks, charge=example.charge,
                      species=example.species, event_id=np.arange(100, 140))  # fmt: skip
    KIND.write(tmp_path / "tracks.h5", tracks)
    capsys.readouterr()
    out = tmp_path / "generated.h5"
    assert (
        main(["sample", "--run", str(run), "--out", str(out), "--conditions", str(tmp_path / "tracks.h5")])
        == 0
    )
    generated = KIND.read(out)
    assert generated.has_dll and np.array_equal(generated.event_id, tracks.event_id)
    assert np.array_equal(generated.p, tracks.p) and np.array_equal(generated.species, tracks.species)
    capsys.readouterr()
    assert main(["bench", "runs", "--run", str(run), "--batches", "1,64", "--repeats", "4"]) == 0
    text = capsys.readouterr().out
    assert "cgan-pid" in text and "reference simulation" in text  # the RICH's recorded cost beside
