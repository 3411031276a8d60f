"""FPD, KPD, coverage/MMD, separation power, efficiency ratios and ROC AUC on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import sqrtm
from sklearn.metrics import roc_auc_score

from mlfastsim.metrics.distribution import (
    coverage_mmd,
    coverage_mmd_emd,
    efficiency_ratio,
    fpd,
    frechet_distance,
    kpd,
    roc_auc,
    separation_power,
)
from mlfastsim.metrics.emd import emd_matrix


def test_frechet_distance_matches_closed_forms() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = a @ a.T + np.eye(5), b @ b.T + 0.5 * np.eye(5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    want = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * np.real(sqrtm(s1 @ s2)))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-8)
    # 1-D: (μ1 − μ2)² + (σ1 − σ2)²
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([0.0]), np.array([[1.0]])) == (
        pytest.approx(2.0)
    )
    singular = np.diag([1.0, 0.0])  # a constant feature (e.g. the d = 0 EFP) must not break it
    assert frechet_distance(np.zeros(2), singular, np.zeros(2), singular) == pytest.approx(0.0, abs=1e-12)


def test_fpd_zero_for_one_distribution_and_grows_with_shift() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 4))
    y = rng.normal(size=(4000, 4))
    same = fpd(x, y, num_batches=5, num_points=5, seed=0)
    assert same.n == 4000
    assert same.value < 3 * same.uncertainty + 1e-3
    shifts = [fpd(x, y + s, num_batches=5, num_points=5, seed=0).value for s in (0.2, 0.5)]
    assert same.value < shifts[0] < shifts[1]
    x4, y4 = x / np.abs(x).max(0), (y + 0.5) / np.abs(x).max(0)
    assert shifts[1] == pytest.approx(np.sum((x4.mean(0) - y4.mean(0)) ** 2), rel=0.2)


def test_kpd_zero_for_one_distribution_and_grows_with_shift() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3000, 5))
    y = rng.normal(size=(3000, 5))
    same = kpd(x, y, num_batches=6, batch_size=1000)
    assert abs(same.value) < 3 * same.uncertainty + 1e-4
    small = kpd(x, y + 0.2, num_batches=6, batch_size=1000)
    large = kpd(x, y + 0.5, num_batches=6, batch_size=1000)
    assert same.value < small.value < large.value
    assert small.value > 3 * small.uncertainty


def test_kpd_estimator_is_the_unbiased_mmd() -> None:
    from mlfastsim.metrics.distribution import _mmd_poly_unbiased

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(9, 3))
    k = lambda a, b: (a @ b.T / 3 + 1) ** 3  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    want = (kxx.sum() - np.trace(kxx)) / 42 + (kyy.sum() - np.trace(kyy)) / 72 - 2 * kxy.mean()
    assert _mmd_poly_unbiased(x, y, 3, block=2) == pytest.approx(want, rel=1e-12)


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


def test_separation_power_limits() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=5000)
    assert separation_power(x, x, bins=30, n_boot=0).value == pytest.approx(0.0, abs=1e-15)
    assert separation_power(x, x + 100.0, bins=30, n_boot=0).value == pytest.approx(1.0)
    mid = separation_power(x, x + 1.0, bins=30, n_boot=10)
    assert 0.05 < mid.value < 0.95 and mid.uncertainty > 0
    edges = np.array([0.0, 1.0, 2.0])
    # h1 = (1, 0), h2 = (0.5, 0.5): ½ [(0.5)² / 1.5 + (0.5)² / 0.5] = 1/3
    assert separation_power(np.array([0.5]), np.array([0.5, 1.5]), bins=edges, n_boot=0).value == (
        pytest.approx(1 / 3)
    )


def test_efficiency_ratio_by_hand() -> None:
    bins_of = np.array([0.5, 0.5, 0.5, 0.5, 1.5, 1.5])
    x_ref = np.array([1.0, 1.0, -1.0, -1.0, 1.0, -1.0])
    x_gen = np.array([1.0, 1.0, 1.0, -1.0, -1.0, -1.0])
    out = efficiency_ratio(x_ref, x_gen, cut=0.0, bins_of=bins_of, bin_edges=np.array([0.0, 1.0, 2.0]))
    np.testing.assert_allclose(out["eff_ref"], [0.5, 0.5])
    np.testing.assert_allclose(out["eff_gen"], [0.75, 0.0])
    np.testing.assert_allclose(out["ratio"], [1.5, 0.0])
    np.testing.assert_allclose(out["n_ref"], [4, 2])
    assert out["ratio_err"][0] == pytest.approx(1.5 * np.sqrt(0.75 * 0.25 / 4 / 0.75**2 + 0.25 / 4 / 0.25))
    with pytest.raises(ValueError):
        efficiency_ratio(x_ref, x_gen[:3], 0.0, bins_of, np.array([0.0, 2.0]))


def test_roc_auc_and_its_error() -> None:
    rng = np.random.default_rng(6)
    b, s = rng.normal(size=3000), rng.normal(1.0, 1.0, size=2000)
    res = roc_auc(b, s)
    labels = np.r_[np.zeros(3000), np.ones(2000)]
    assert res.value == pytest.approx(roc_auc_score(labels, np.r_[b, s]))
    boot = []
    for _ in range(100):
        bi, si = rng.integers(0, 3000, 3000), rng.integers(0, 2000, 2000)
        boot.append(roc_auc_score(labels, np.r_[b[bi], s[si]]))
    assert res.uncertainty == pytest.approx(np.std(boot), rel=0.3)
    assert roc_auc(np.zeros(3), np.ones(3)).value == 1.0
