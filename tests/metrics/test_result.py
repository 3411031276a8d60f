"""MetricResult and the resampling helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlfastsim.metrics.result import MetricResult, batch_means, bootstrap


def test_metric_result_is_frozen_and_serialises() -> None:
    r = MetricResult(np.float32(1.5), np.float64(0.25), np.int64(10))
    assert r.to_dict() == {"value": 1.5, "uncertainty": 0.25, "n": 10}
    json.dumps(r.to_dict())
    with pytest.raises(AttributeError):
        r.value = 2.0  # type: ignore[misc]
    assert "±" in str(r)


def test_bootstrap_std_of_mean_matches_standard_error() -> None:
    x = np.random.default_rng(1).normal(size=2000)
    r = bootstrap(np.mean, x, n_boot=400, seed=3)
    assert r.value == pytest.approx(x.mean())
    assert r.n == 2000
    assert r.uncertainty == pytest.approx(x.std() / np.sqrt(len(x)), rel=0.15)
    assert bootstrap(np.mean, x, n_boot=50, seed=3) == bootstrap(np.mean, x, n_boot=50, seed=3)


def test_bootstrap_paired_and_unpaired() -> None:
    x = np.arange(10.0)
    with pytest.raises(ValueError):
        bootstrap(lambda a, b: a.mean() - b.mean(), x, np.arange(5.0))
    r = bootstrap(lambda a, b: a.mean() - b.mean(), x, x, n_boot=20, paired=True)
    assert r.value == 0.0 and r.uncertainty == 0.0  # same indices for both: the difference never moves
    r = bootstrap(lambda a, b: a.mean() - b.mean(), x, np.arange(5.0), n_boot=20, paired=False)
    assert r.uncertainty > 0 and r.n == 5


def test_batch_means() -> None:
    x = np.random.default_rng(2).normal(size=10_000)
    r = batch_means(x, n_batches=20)
    assert r.value == pytest.approx(x.mean())
    assert r.uncertainty == pytest.approx(1 / np.sqrt(len(x)), rel=0.5)
    assert batch_means(np.array([np.nan, 1.0, 3.0])).value == 2.0
    assert batch_means(np.array([])).n == 0
