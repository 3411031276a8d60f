"""Timing helpers shared by the benchmarks: the wall time of a call, and the machine it ran on."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = ["machine_facts", "time_call"]


def machine_facts() -> dict[str, Any]:
    """CPU, threads and library versions, recorded beside every timing."""
    return {
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def time_call(fn: Callable[[], Any], repeats: int, warmup: int = 2) -> dict[str, float]:
    """Median and spread of the wall time of ``fn()`` (s) over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    arr = np.asarray(times)
    return {
        "median_s": float(np.median(arr)),
        "q16_s": float(np.quantile(arr, 0.16)),
        "q84_s": float(np.quantile(arr, 0.84)),
        "repeats": repeats,
    }
