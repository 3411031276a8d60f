"""Weak scaling (seed 002's table) and bf16 measured side by side with fp32."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlfastsim._utils import InputError
from mlfastsim.bench.precision import bench_precision, paired_verdict, precision_markdown, training_verdict
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
    assert "paired_effect" not in r and "seed pairs" not in page  # --paired-seeds 1: the one same-seed pair
    header, rule = page.splitlines()[2:4]
    assert header.count("|") == rule.count("|") == 8  # label, 5 sampled runs, truth vs truth


def test_paired_seeds_train_bf16_at_the_seed_runs_seeds_and_pair_them(tmp_path: Path) -> None:
    data = tmp_path / "pid.h5"
    KINDS["pid"].write(data, KINDS["pid"].example(140, seed=1))
    # 3 pairs need 2 fp32 seed runs: --seed-runs 1 is raised to 2, and those runs are the pairs' fp32 halves
    r = bench_precision(
        "cgan-pid", str(data), steps=6, overrides=SMALL_PID, n_eval=40, work=str(tmp_path), paired_seeds=3
    )
    fp32s, bf16s = ["fp32", "fp32, seed+1", "fp32, seed+2"], ["bf16", "bf16, seed+1", "bf16, seed+2"]
    assert list(r["training"]) == [*fp32s[:1], *bf16s[:1], *fp32s[1:], *bf16s[1:]] and r["seed_runs"] == 2

    def w(t: str) -> float:
        return float(r["sampling"][f"trained {t}, sampled fp32"]["W1 feature 1"]["value"])

    assert len({w(t) for t in fp32s + bf16s}) == 6  # six different trainings
    # the seed spread is over the three fp32 seeds, as --seed-runs 2 gives it
    spread = 2**0.5 * np.std([w(t) for t in fp32s], ddof=1)
    assert r["training_effect"]["W1 feature 1"]["seed_spread"] == pytest.approx(spread)
    # each bf16 run is compared with the fp32 run of its own seed
    paired = r["paired_effect"]["W1 feature 1"]
    assert paired["differences"] == pytest.approx([w(b) - w(f) for f, b in zip(fp32s, bf16s, strict=True)])
    assert set(r["paired_effect"]) == set(r["training_effect"])
    page = precision_markdown(r)
    assert "std over 3 fp32 seeds" in page and "3 seed pairs" in page
    assert "bf16, seed+2: generator/loss" in page
    assert f"| {paired['mean_difference']:+.4f} ± {paired['uncertainty']:.4f} |" in page


def test_the_paired_verdict_pairs_each_seed_and_counts_the_standard_error() -> None:
    def m(value: float, err: float = 0.001) -> dict[str, dict[str, float]]:
        return {"W1 feature 0": {"value": value, "uncertainty": err, "n": 100}}

    # bf16 is 0.01 above fp32 at every seed while the seeds scatter by 0.1: paired, a clear shift (SE 0)
    v = paired_verdict([m(0.10), m(0.20), m(0.30)], [m(0.11), m(0.21), m(0.31)])["W1 feature 0"]
    assert v["differences"] == pytest.approx([0.01, 0.01, 0.01])
    assert v["mean_difference"] == pytest.approx(0.01)
    assert v["standard_error"] == pytest.approx(0.0, abs=1e-12)
    assert v["bootstrap"] == pytest.approx((2 * 0.001**2 / 3) ** 0.5)
    assert v["verdict"] == "not within"  # across seeds (0.11 vs 0.20, ...) it would be lost in the scatter
    # differences of both signs: d̄ 0.02, SE std(0.05, -0.03, 0.04)/sqrt(3) = 0.0252 -> within
    s = paired_verdict([m(0.10), m(0.10), m(0.10)], [m(0.15), m(0.07), m(0.14)])["W1 feature 0"]
    se = np.std([0.05, -0.03, 0.04], ddof=1) / 3**0.5
    assert s["standard_error"] == pytest.approx(se)
    assert s["uncertainty"] == pytest.approx(np.hypot(se, v["bootstrap"]))
    assert s["mean_difference"] == pytest.approx(0.02) and s["verdict"] == "within"
    # the bootstrap errors count on their own: equal differences, SE 0, but noisy evaluations
    noisy = paired_verdict([m(0.10, 0.03), m(0.10, 0.03)], [m(0.12, 0.03), m(0.12, 0.03)])["W1 feature 0"]
    assert noisy["uncertainty"] == pytest.approx(0.03) and noisy["verdict"] == "within"
    with pytest.raises(InputError, match="K ≥ 2"):
        paired_verdict([m(0.10)], [m(0.11)])
    with pytest.raises(InputError, match="K ≥ 2"):
        paired_verdict([m(0.10), m(0.2)], [m(0.11)])


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
    assert main(["bench", "precision", "--family", "cgan-pid", "--data", "x.h5", "--paired-seeds", "0"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert "--family" in errors[0] and "--steps" in errors[1] and "--seed-runs" in errors[2]
    assert "--paired-seeds" in errors[3]
