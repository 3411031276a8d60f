"""Timing helpers shared by the benchmarks: the wall time of a call, and the machine it ran on."""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = ["machine_facts", "peak_memory", "time_call"]


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts() -> dict[str, Any]:
    """CPU, threads and library versions, recorded beside every timing."""
    return {
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def peak_memory() -> dict[str, float]:
    """The process's peak resident memory so far (MB; a high-water mark, so it never falls between calls)
    and, with CUDA, the peak GPU memory allocated since the last call (MB; its counter is reset)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
    out = {"peak_rss_mb": rss / (1024**2 if sys.platform == "darwin" else 1024)}
    if torch.cuda.is_available():
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 1024**2
        torch.cuda.reset_peak_memory_stats()
    return out


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
