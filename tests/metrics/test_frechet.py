"""FPD, KPD and the Fréchet distance on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import sqrtm

from mlfastsim.metrics.frechet import _mmd_poly_unbiased, fpd, frechet_distance, frechet_distance_torch, kpd


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


def test_torch_frechet_distance_has_finite_gradients_where_the_loss_needs_them() -> None:
    """The loss form (eps > 0) passes gradcheck at a random pair, and stays finite where the eigenvalues of
    Σ₁^½ Σ₂ Σ₁^½ are degenerate (two equal covariances: every batch that matches) or zero (a constant feature);
    at a match the distance and its gradient vanish."""
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    s1 = torch.tensor(a @ a.T + np.eye(4))
    mu1, mu2 = torch.tensor(rng.normal(size=4)), torch.tensor(rng.normal(size=4), requires_grad=True)
    s2 = torch.tensor(b @ b.T + 0.5 * np.eye(4), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda m, s: frechet_distance_torch(mu1, s1, m, s @ s.T, eps=1e-8), (mu2, s2)
    )
    for cov in (
        torch.eye(3, dtype=torch.float64),
        torch.diag(torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)),
    ):
        s = cov.clone().requires_grad_(True)
        m = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        fd = frechet_distance_torch(torch.zeros(3, dtype=torch.float64), cov, m, s, eps=1e-8)
        fd.backward()
        assert s.grad is not None and m.grad is not None
        assert torch.isfinite(s.grad).all() and fd.item() == pytest.approx(0.0, abs=1e-3)
        assert float(s.grad[:2, :2].abs().max()) < 1e-6


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
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(9, 3))
    k = lambda a, b: (a @ b.T / 3 + 1) ** 3  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    want = (kxx.sum() - np.trace(kxx)) / 42 + (kyy.sum() - np.trace(kyy)) / 72 - 2 * kxy.mean()
    assert _mmd_poly_unbiased(x, y, 3, block=2) == pytest.approx(want, rel=1e-12)
