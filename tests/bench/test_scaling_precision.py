"""Weak scaling (seed 002's table) and bf16 measured side by side with fp32."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlfastsim._utils import InputError
from mlfastsim.bench.precision import bench_precision, precision_markdown, training_verdict
from mlfastsim.bench.scaling import scaling_rows, timed_seconds
from mlfastsim.cli.main import main
from mlfastsim.data.kinds import KINDS

SMALL_PID = [
    "model.generator_hidden=[16,16]",
    "model.critic_hidden=[16,16]",
    "model.bank_size=50",
    "train.batch_size=16",
]


def test_scaling_rows_reproduce_seed_002s_table() -> None:
    rows = scaling_rows({1: [69.34], 2: [85.48], 3: [94.96], 4: [101.54]})  # seed 002's mean times (s)
    assert [round(r["speedup"], 2) for r in rows] == [1.0, 1.62, 2.19, 2.73]
    assert [round(r["efficiency"], 2) for r in rows] == [1.0, 0.81, 0.73, 0.68]
    two = scaling_rows({1: [10.0, 12.0], 2: [11.0, 13.0]})[1]
    assert two["mean_s"] == 12.0 and two["std_s"] == pytest.approx(2**0.5) and two["efficiency"] == 11 / 12
    slowed = scaling_rows({1: [10.0, 10.2, 9.8], 2: [11.0, 30.0, 10.8]})[1]  # one run slowed by another job
    assert slowed["median_s"] == 11.0 and slowed["efficiency_median"] == pytest.approx(10 / 11)
    assert slowed["efficiency"] < 0.6
    with pytest.raises(InputError, match="start with 1"):
        scaling_rows({2: [1.0], 4: [1.0]})


def test_timed_seconds_skip_the_warmup_and_see_epoch_ends(tmp_path: Path) -> None:
    lines = [
        {"step": s, "epoch": 0 if s <= 4 else 1, "split": "train", "seconds": 1.0 + 0.5 * s}
        for s in range(1, 9)
    ]
    lines.insert(4, {"step": 4, "epoch": 0, "split": "val", "seconds": 3.5})
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert timed_seconds(tmp_path, warmup=2) == (3.0, 6, True)
    assert timed_seconds(tmp_path, warmup=5) == (1.5, 3, False)
    with pytest.raises(InputError, match="raise --steps"):
        timed_seconds(tmp_path, warmup=8)


def test_bf16_training_and_sampling_are_measured_beside_fp32(tmp_path: Path) -> None:
    data = tmp_path / "pid.h5"
    KINDS["pid"].write(data, KINDS["pid"].example(140, seed=1))
    r = bench_precision("cgan-pid", str(data), steps=8, overrides=SMALL_PID, n_eval=40, work=str(tmp_path))
    fp32, bf16, other = (r["training"][t] for t in ("fp32", "bf16", "fp32, seed+1"))
    assert set(fp32["train_losses_last_fifth"]) == {"critic/loss", "generator/loss"}
    assert fp32["s_per_step"] > 0 and bf16["s_per_step"] > 0 and other["s_per_step"] > 0
    # autocast really ran: the same seed and batches give other losses and other samples in bf16
    assert fp32["train_losses_last_fifth"] != bf16["train_losses_last_fifth"]
    same = r["sampling"]["trained fp32, sampled fp32"]["W1 feature 0"]["value"]
    assert r["sampling"]["trained fp32, sampled bf16"]["W1 feature 0"]["value"] != same
    assert set(r["sampling"]) == {
        f"trained {p}, sampled {q}" for p in ("fp32", "bf16") for q in ("fp32", "bf16")
    } | {"trained fp32, seed+1, sampled fp32"}
    assert all(v["us_per_event"] > 0 and v["W1 feature 4"]["uncertainty"] > 0 for v in r["sampling"].values())
    assert r["floor"]["W1 feature 0"]["n"] == 20
    # the seed spread comes from a real second fp32 training with another seed, judged per metric
    assert other["train_losses_last_fifth"] != fp32["train_losses_last_fifth"]
    effect = r["training_effect"]
    assert set(effect) == {f"W1 feature {j}" for j in range(5)} | {"occupancy difference"}
    s1 = r["sampling"]["trained fp32, seed+1, sampled fp32"]["W1 feature 0"]["value"]
    assert effect["W1 feature 0"]["seed_spread"] == pytest.approx(abs(s1 - same)) and s1 != same
    b = r["sampling"]["trained bf16, sampled fp32"]["W1 feature 0"]["value"]
    assert effect["W1 feature 0"]["bf16_change"] == pytest.approx(abs(b - same))
    page = precision_markdown(r)
    assert "truth vs truth" in page and "training bf16: generator/loss" in page
    assert "training fp32, seed+1: critic/loss" in page and "fp32(seed+1)" in page
    assert f"| {effect['W1 feature 0']['verdict']} |" in page
    header, rule = page.splitlines()[2:4]
    assert header.count("|") == rule.count("|") == 8  # label, 5 sampled runs, truth vs truth


def test_more_seed_runs_train_more_fp32_runs_for_the_spread(tmp_path: Path) -> None:
    data = tmp_path / "pid.h5"
    KINDS["pid"].write(data, KINDS["pid"].example(140, seed=1))
    r = bench_precision(
        "cgan-pid", str(data), steps=6, overrides=SMALL_PID, n_eval=40, work=str(tmp_path), seed_runs=2
    )
    assert list(r["training"]) == ["fp32", "bf16", "fp32, seed+1", "fp32, seed+2"]
    w = [
        r["sampling"][f"trained {t}, sampled fp32"]["W1 feature 1"]["value"]
        for t in r["training"]
        if t != "bf16"
    ]
    assert len(set(w)) == 3  # three different trainings
    assert r["training_effect"]["W1 feature 1"]["seed_spread"] == pytest.approx(2**0.5 * np.std(w, ddof=1))
    assert "std over 3 fp32 seeds" in precision_markdown(r)


def test_the_training_verdict_counts_the_seed_spread() -> None:
    def m(value: float, err: float = 0.01) -> dict[str, dict[str, float]]:
        return {"W1 feature 0": {"value": value, "uncertainty": err, "n": 100}}

    # bf16 moved W1 by 0.05: five bootstrap errors, but less than two fp32 seeds differ (0.06) -> within
    v = training_verdict(m(0.10), m(0.15), [m(0.16)])["W1 feature 0"]
    assert v["bf16_change"] == pytest.approx(0.05) and v["seed_spread"] == pytest.approx(0.06)
    assert v["uncertainty"] == pytest.approx((0.01**2 + 0.01**2 + 0.06**2) ** 0.5)
    assert v["verdict"] == "within"
    # the same change where the seeds agree closely is not within (the bootstrap terms alone: 0.014)
    quiet = training_verdict(m(0.10), m(0.15), [m(0.101)])["W1 feature 0"]
    assert quiet["verdict"] == "not within" and quiet["uncertainty"] < 0.05
    # the spread is a distance (either sign), and the bootstrap errors still count on their own
    assert training_verdict(m(0.10), m(0.12), [m(0.04)])["W1 feature 0"]["seed_spread"] == pytest.approx(0.06)
    assert training_verdict(m(0.10), m(0.13, 0.03), [m(0.10)])["W1 feature 0"]["verdict"] == "within"
    # more seeds: sqrt(2) x the standard deviation of all the fp32 runs (0.10, 0.16, 0.13 -> 0.03 x sqrt(2))
    three = training_verdict(m(0.10), m(0.15), [m(0.16), m(0.13)])["W1 feature 0"]
    assert three["seed_spread"] == pytest.approx(0.03 * 2**0.5)
    with pytest.raises(InputError, match="another seed"):
        training_verdict(m(0.10), m(0.15), [])


def test_bench_scaling_and_precision_refuse_bad_input_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "scaling", "--data", "x.h5"]) == 2
    assert main(["bench", "precision", "--family", "cgan-pid", "--data", "x.h5", "--steps", "3"]) == 2
    assert main(["bench", "precision", "--family", "cgan-pid", "--data", "x.h5", "--seed-runs", "0"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert "--family" in errors[0] and "--steps" in errors[1] and "--seed-runs" in errors[2]
