"""Coverage and MMD from a distance matrix and with the EMD, on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from mlfastsim.metrics.coverage import coverage_mmd, coverage_mmd_emd
from mlfastsim.metrics.emd import emd_matrix


def test_coverage_and_mmd_from_a_distance_matrix() -> None:
    d = np.array([[0.0, 5.0, 9.0], [4.0, 1.0, 9.0], [6.0, 2.0, 9.0]])  # [gen, real]
    cov, mmd = coverage_mmd(d)
    assert cov == pytest.approx(2 / 3)  # real 0 and 1 are nearest to some generated sample, real 2 never
    assert mmd == pytest.approx((0.0 + 1.0 + 9.0) / 3)


def test_coverage_mmd_emd_matches_batches_of_emd_matrices() -> None:
    rng = np.random.default_rng(4)
    real = rng.normal(0, 0.2, (30, 6, 3))
    real[..., 2] = rng.exponential(5.0, (30, 6))
    gen = real[::-1] * np.array([1.0, 1.0, 1.2])
    mask = np.ones((30, 6), dtype=bool)
    cov, mmd = coverage_mmd_emd(real, mask, gen, mask, num_eval_samples=10, num_batches=3, n_jobs=1, seed=9)
    draw = np.random.default_rng(9)
    picks_r, picks_g = draw.integers(0, 30, (3, 10)), draw.integers(0, 30, (3, 10))
    per_batch = [
        coverage_mmd(emd_matrix(gen[g], mask[g], real[r], mask[r], n_jobs=1))
        for r, g in zip(picks_r, picks_g, strict=True)
    ]
    assert cov.value == pytest.approx(np.mean([c for c, _ in per_batch]))
    assert mmd.value == pytest.approx(np.mean([m for _, m in per_batch]))
    assert cov.n == 10 and mmd.uncertainty > 0
    _, mmd_same = coverage_mmd_emd(real, mask, real, mask, num_eval_samples=30, num_batches=2, n_jobs=1)
    assert 0 < mmd_same.value < mmd.value
