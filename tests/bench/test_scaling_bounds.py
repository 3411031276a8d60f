"""The two bounds beside seed 002's weak-scaling table: runs at once without communication, and the straggler
bound of synchronous steps; plus one real ``bench scaling`` of a tiny cgan-pid on 1 and 2 processes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlfastsim.bench.scaling import bench_scaling, scaling_markdown, step_seconds, straggler_bound
from mlfastsim.data.kinds import KINDS

TINY_PID = [
    "model.generator_hidden=[16,16]",
    "model.critic_hidden=[16,16]",
    "model.bank_size=50",
    "train.batch_size=16",
]


def test_straggler_bound_is_mean_over_expected_slowest() -> None:
    assert straggler_bound(np.full(50, 0.3), 2) == pytest.approx(1.0)  # constant steps lose nothing
    two = np.array([1.0, 2.0])  # max of two draws: 1 with prob 1/4, else 2 → E = 1.75; mean 1.5
    assert straggler_bound(two, 2) == pytest.approx(1.5 / 1.75, abs=0.005)
    assert straggler_bound(two, 1) == pytest.approx(1.0, abs=0.005)
    assert straggler_bound(two, 4) < straggler_bound(two, 2)


def test_step_seconds_are_the_durations_after_the_warmup(tmp_path: Path) -> None:
    lines = [{"step": s, "epoch": 0, "split": "train", "seconds": float(s * s)} for s in range(1, 7)]
    lines.insert(3, {"step": 3, "epoch": 0, "split": "val", "seconds": 100.0})
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    np.testing.assert_array_equal(step_seconds(tmp_path, 3), [16 - 9, 25 - 16, 36 - 25])


@pytest.mark.slow  # over 20 s: make test-all runs it
def test_bench_scaling_runs_both_bounds_for_real(tmp_path: Path) -> None:
    data = tmp_path / "pid.h5"
    KINDS["pid"].write(data, KINDS["pid"].example(400, seed=1))
    r = bench_scaling("cgan-pid", str(data), steps=8, repeats=1, overrides=TINY_PID, work=str(tmp_path / "w"))
    one, two = r["rows"]
    assert one["efficiency_without_communication"] == 1.0 and one["straggler_bound"] == pytest.approx(
        1, abs=0.01
    )
    assert len(two["independent_s"]) == 1 and two["independent_s"][0] > 0
    assert two["independent_s"][0] != two["times_s"][0]  # its own runs, not the distributed one's time
    assert two["efficiency_without_communication"] == pytest.approx(one["mean_s"] / two["independent_s"][0])
    assert 0.3 < two["straggler_bound"] < 1.0  # measured step times vary
    page = scaling_markdown(r)
    assert "without communication" in page and "Straggler bound" in page
