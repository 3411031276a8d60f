"""Wall time of the whole evaluation suite for N jets against N reference jets."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from typing import Any

import numpy as np

from mlfastsim.bench.timing import machine_facts
from mlfastsim.data.io import read_jet_images
from mlfastsim.data.schemas import JetImages

__all__ = ["bench_metrics"]


def _resample(jets: JetImages, n: int, seed: int) -> JetImages:
    idx = np.random.default_rng(seed).integers(0, len(jets), n) if n > len(jets) else np.arange(n)
    return jets.subset(idx)


def bench_metrics(
    reference_path: str, candidate_path: str | None, n: int = 10_000, n_jobs: int = 2, seed: int = 0
) -> dict[str, Any]:
    """Time :func:`~mlfastsim.evaluation.driver.evaluate` (jet images, no plots) on ``n`` vs ``n`` jets.

    Files with fewer jets are resampled with replacement up to ``n`` (timing depends on the number and
    size of jets, not on their values; the metric values of this run are not meant to be read). The
    candidate is also passed, event by event, as the "resimulated" sample so that the per-event EMD of
    ``n`` pairs is included in the time.
    """
    from mlfastsim.evaluation.driver import evaluate

    reference = _resample(read_jet_images(reference_path), n, seed)
    candidate = _resample(read_jet_images(candidate_path or reference_path), n, seed + 1)
    paired = dataclasses.replace(candidate, event_id=reference.event_id.copy())
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        evaluate(
            "jet-images",
            reference,
            {"candidate": candidate},
            tmp,
            resim=paired,
            seed=seed,
            n_jobs=n_jobs,
            plots=False,
        )
    seconds = time.perf_counter() - start
    return {
        "n_reference": n,
        "n_candidate": n,
        "evaluate_wall_s": seconds,
        "n_jobs": n_jobs,
        "mean_ecal_hits": float((reference.images[:, 1] > 0).sum(axis=(1, 2)).mean()),
        "machine": machine_facts(),
    }
