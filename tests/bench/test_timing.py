"""The shared timing helpers: every call counted, warm-up calls not timed, the machine described."""

from __future__ import annotations

import time

import pytest

from mlfastsim.bench.timing import machine_facts, time_call


def test_time_call_runs_warmup_then_times_each_repeat() -> None:
    calls: list[float] = []

    def fn() -> None:
        calls.append(time.perf_counter())
        time.sleep(0.002 if len(calls) > 2 else 0.05)  # slow warm-up calls must not be timed

    out = time_call(fn, repeats=5, warmup=2)
    assert len(calls) == 7 and out["repeats"] == 5
    assert out["q16_s"] <= out["median_s"] <= out["q84_s"]
    assert 0.002 <= out["median_s"] < 0.04


def test_machine_facts_name_the_threads_and_versions() -> None:
    facts = machine_facts()
    assert set(facts) == {"cpu", "cores", "torch", "torch_threads", "cuda"}
    assert facts["torch_threads"] >= 1


@pytest.mark.parametrize("module", ["detector", "metrics", "models"])
def test_bench_modules_do_not_import_each_other(module: str) -> None:
    import importlib
    import inspect

    source = inspect.getsource(importlib.import_module(f"mlfastsim.bench.{module}"))
    others = {"detector", "metrics", "models"} - {module}
    assert not any(f"mlfastsim.bench.{o}" in source for o in others)
