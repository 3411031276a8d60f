"""Speed of the reference detector alone (stored generator-level particles → jet images)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from mlfastsim.bench.timing import machine_facts
from mlfastsim.data.schemas import JetImages
from mlfastsim.physics.detector import simulate_jet

__all__ = ["bench_detector"]


def bench_detector(jets: JetImages, repeats: int = 1, seed: int = 0) -> dict[str, Any]:
    """Re-run the detector on every jet's stored particles ``repeats`` times on one core; jets/s.

    The Pythia generation time per event recorded in the file (``wall_time_per_event_s``) is reported
    beside it, so the two stages are compared in one table.
    """
    if jets.gen is None:
        raise ValueError("the file has no generator-level particles; make it with 'mlfastsim generate'")
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(repeats):
        for i in range(len(jets)):
            simulate_jet(jets.gen[i], float(jets.eta[i]), float(jets.phi[i]), rng)
    seconds = time.perf_counter() - start
    n = len(jets) * repeats
    recorded = jets.attrs.get("wall_time_per_event_s", {})
    return {
        "jets": n,
        "detector_s_per_jet": seconds / n,
        "detector_jets_per_s_one_core": n / seconds,
        "file_recorded_s_per_event": recorded,
        "machine": machine_facts(),
    }
