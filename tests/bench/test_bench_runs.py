"""``mlfastsim bench runs``: generation timed for trained runs of any family and kind, at each batch size,
beside the reference simulation's recorded cost per event."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlfastsim._utils import apply_overrides
from mlfastsim.cli.main import main
from mlfastsim.data.kinds import KINDS
from mlfastsim.training.runs import train_run

COST = {"generation": 0.05, "detector": 0.02}  # s per event, as generated files record it


def _train(tmp: Path, family: str, kind: str, make_run_config: Callable[..., Any], *sets: str) -> Path:
    data = tmp / f"{family}-{kind}{KINDS[kind].default_suffix}"
    events = KINDS[kind].example(30, seed=3)
    events.attrs["wall_time_per_event_s"] = COST
    KINDS[kind].write(data, events)
    cfg = apply_overrides(make_run_config(family, kind, max_steps=2, seed=0), list(sets))
    out = tmp / f"run-{family}-{kind}{len(sets)}"
    train_run(cfg, data, out)
    return out


def test_bench_runs_times_every_batch_beside_the_reference(
    tmp_path: Path, make_run_config: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    prior = _train(tmp_path, "library", "jet-images", make_run_config)
    detector = _train(tmp_path, "particle-vae", "particle-jets", make_run_config, "model.mode=detector")
    conditions = tmp_path / "library-particle-jets.h5"  # any file of the detector run's kind
    KINDS["particle-jets"].write(conditions, KINDS["particle-jets"].example(20, seed=4))
    out = tmp_path / "bench.json"
    args = ["bench", "runs", "--run", str(prior), "--run", str(detector), "--conditions", str(conditions)]
    assert main([*args, "--batches", "1,16", "--repeats", "4", "--threads", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["batches"] == [1, 16] and result["threads"] == 1
    lib, vae = result["runs"][str(prior)], result["runs"][str(detector)]
    assert lib["mode"] == "from the prior" and vae["mode"] == "conditioned on events"
    for r in (lib, vae):
        assert set(r["timings"]) == {"1", "16"}
        assert all(t["us_per_event"] > 0 and t["repeats"] >= 1 for t in r["timings"].values())
        assert r["reference_s_per_event"] == COST
        largest = r["timings"]["16"]["us_per_event"] * 1e-6
        assert r["speedup_vs_reference"] == pytest.approx(sum(COST.values()) / largest)
    assert "µs/event" in capsys.readouterr().out


def test_a_conditional_run_without_conditions_is_one_line(
    tmp_path: Path, make_run_config: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    detector = _train(tmp_path, "particle-vae", "particle-jets", make_run_config, "model.mode=detector")
    assert main(["bench", "runs", "--run", str(detector), "--batches", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "conditional" in err and "\n" not in err
