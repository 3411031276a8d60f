"""Chamfer, masked MSE and W1 against direct calculations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from mlfastsim.metrics.distances import chamfer, masked_mse, w1


def _chamfer_loops(a: np.ndarray, b: np.ndarray, reduction: str) -> float:
    da = [min(((p - q) ** 2).sum() for q in b) for p in a]
    db = [min(((p - q) ** 2).sum() for p in a) for q in b]
    red = np.mean if reduction == "mean" else np.sum
    return float(red(da) + red(db))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_chamfer_matches_loops(reduction: str) -> None:
    rng = np.random.default_rng(0)
    n_ev = 6
    a, b = rng.normal(size=(n_ev, 5, 3)), rng.normal(size=(n_ev, 7, 3))
    ma, mb = rng.random((n_ev, 5)) < 0.7, rng.random((n_ev, 7)) < 0.7
    ma[:, 0] = mb[:, 0] = True
    a[~ma], b[~mb] = 50.0, -50.0  # padding must never be read
    got = chamfer(a, ma, b, mb, reduction=reduction, chunk_elements=40)
    want = [_chamfer_loops(a[i][ma[i]], b[i][mb[i]], reduction) for i in range(n_ev)]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    np.testing.assert_allclose(chamfer(a, ma, a, ma), 0.0, atol=1e-12)


def test_chamfer_empty_sets() -> None:
    a = np.zeros((2, 2, 2))
    ma = np.array([[False, False], [False, False]])
    mb = np.array([[False, False], [True, False]])
    np.testing.assert_array_equal(chamfer(a, ma, a, mb), [0.0, np.inf])


def test_masked_mse_ignores_padding() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 6, 3)), rng.normal(size=(4, 6, 3))
    mask = rng.random((4, 6)) < 0.5
    want = np.array([np.mean((a[..., f][mask] - b[..., f][mask]) ** 2) for f in range(3)])
    np.testing.assert_allclose(masked_mse(a, b, mask), want, rtol=1e-12)
    np.testing.assert_allclose(masked_mse(a, b), ((a - b) ** 2).reshape(-1, 3).mean(0), rtol=1e-12)
    assert np.isnan(masked_mse(a, b, np.zeros((4, 6), bool))).all()


def test_w1_matches_scipy_and_shift() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=3000), rng.normal(0.3, 1.0, size=2000)
    res = w1(x, y, n_boot=30, seed=0)
    assert res.value == pytest.approx(wasserstein_distance(x, y), rel=1e-12)
    assert res.n == 2000 and 0 < res.uncertainty < 0.05
    assert w1(x, x + 2.0, n_boot=0).value == pytest.approx(2.0, rel=1e-12)
    weighted = w1(np.array([0.0, 1.0]), np.array([0.0]), n_boot=0, x_weights=np.array([3.0, 1.0]))
    assert weighted.value == pytest.approx(0.25)
    assert np.isnan(w1(np.array([np.nan]), y).value)
