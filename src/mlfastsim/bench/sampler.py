"""The sampler's own cost: a run's model (PyTorch, or an exported backend: ONNX Runtime, compiled C) called on
conditions already encoded by the codec, noise drawing included, decoding excluded — the number a C++
framework that ships the exported file pays per call, beside ``bench_run``'s whole path."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from mlfastsim.bench.timing import time_call
from mlfastsim.inference import LoadedRun
from mlfastsim.inference.backends import NativeTimed
from mlfastsim.models import GenerativeModel

__all__ = ["bench_sampler"]

#: Events per timed sample at least (small batches are called in a loop, for microsecond resolution).
MIN_EVENTS_PER_SAMPLE = 2000


@torch.no_grad()
def bench_sampler(run: LoadedRun, batches: Sequence[int], events: Any, repeats: int = 5) -> dict[str, Any]:
    """Per batch: median µs per event (and per call) of ``run.model.sample(batch, conditions)``, conditioned
    on ``events`` (cycled to the batch size) when the codec gives conditions, after a warm-up; and the process
    CPU time per call of one more timed sample (``cpu_us_per_call``: what the call costs when it has a core to
    itself; with more threads than one it adds up their CPU time)."""
    model = run.model
    if not isinstance(model, GenerativeModel):
        raise ValueError(f"the {run.family} family does not generate; nothing to time")
    cycled = events.subset(np.arange(max(batches)) % len(events))
    cond = run.codec.conditions(cycled, run.keys) or None
    out: dict[str, Any] = {}
    generator = torch.Generator().manual_seed(0)
    for batch in batches:
        given = {k: v[:batch] for k, v in cond.items()} if cond else None
        calls = max(1, MIN_EVENTS_PER_SAMPLE // batch)

        def call(given: Any = given, batch: int = batch, calls: int = calls) -> None:
            for _ in range(calls):
                model.sample(batch, given, generator)

        t = time_call(call, repeats=repeats, warmup=1)
        cpu = time.process_time()
        call()
        cpu = time.process_time() - cpu  # CPU time: without the waits of a shared, loaded machine
        out[str(batch)] = {
            "cpu_us_per_call": 1e6 * cpu / calls,
            "us_per_call": 1e6 * t["median_s"] / calls,
            "us_per_event": 1e6 * t["median_s"] / (calls * batch),
            "q16_us_per_call": 1e6 * t["q16_s"] / calls,
            "q84_us_per_call": 1e6 * t["q84_s"] / calls,
            "calls_per_sample": calls,
            "repeats": repeats,
        }
        if isinstance(model, NativeTimed):  # the exported artifact alone: ONNX Runtime's run, the C function
            out[str(batch)]["native"] = model.time_native(batch, max(calls, 10))
    return out
