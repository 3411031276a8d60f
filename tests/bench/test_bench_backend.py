"""bench --backend: an exportable run is timed in ONNX Runtime / compiled C (whole path and sampler alone), and
the backend is recorded; a family that is not exportable stays in PyTorch and says so."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from mlfastsim.bench.suite import bench_suite
from mlfastsim.data.kinds import KINDS
from mlfastsim.training.runs import train_run


def _train(family: str, kind_name: str, tmp: Path, make_run_config: Any) -> str:
    kind = KINDS[kind_name]
    data = tmp / f"{family}{kind.default_suffix}"
    kind.write(data, kind.example(40, seed=1))
    train_run(make_run_config(family, kind_name, max_steps=2, seed=0), data, tmp / family)
    return str(tmp / family)


@pytest.mark.parametrize("backend", ["onnx", "c"])
def test_bench_records_the_backend_and_the_sampler_alone(
    backend: str, tmp_path: Path, make_run_config: Any
) -> None:
    if backend == "c" and shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler")
    pid, library = (
        _train("cgan-pid", "pid", tmp_path, make_run_config),
        _train("library", "pid", tmp_path, make_run_config),
    )
    result = bench_suite([pid, library], batches=(1, 8), repeats=1, reference_events=8, backend=backend)
    assert result["runs"][pid]["backend"] == backend
    assert result["runs"][library]["backend"] == "torch"  # not exportable: timed in PyTorch
    for path in (pid, library):
        sampler = result["runs"][path]["sampler"]
        assert set(sampler) == {"1", "8"} and all(v["us_per_call"] > 0 for v in sampler.values())
    native = result["runs"][pid]["sampler"]["1"]["native"]  # the exported artifact alone
    assert native["cpu_us_per_call"] > 0 and native["wall_us_per_call"] > 0
    assert "native" not in result["runs"][library]["sampler"]["1"]
