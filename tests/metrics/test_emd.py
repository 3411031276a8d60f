"""Energy mover's distance against a brute-force linear programme and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from mlfastsim.metrics.emd import emd, emd_matrix, emd_pair, emd_pairs, emd_pairwise


def _emd_linprog(a: np.ndarray, b: np.ndarray, R: float) -> float:
    """Seed 002 eq. 5–6 solved as written: partial transport of min(ΣE, ΣE') plus |ΔE|."""
    na, nb = len(a), len(b)
    deta = a[:, 0, None] - b[None, :, 0]
    dphi = np.angle(np.exp(1j * (a[:, 1, None] - b[None, :, 1])))
    theta = np.hypot(deta, dphi) / R
    rows = np.zeros((na, na * nb))
    cols = np.zeros((nb, na * nb))
    for i in range(na):
        rows[i, i * nb : (i + 1) * nb] = 1.0
    for j in range(nb):
        cols[j, j::nb] = 1.0
    res = linprog(
        theta.ravel(),
        A_ub=np.vstack([rows, cols]),
        b_ub=np.concatenate([a[:, 2], b[:, 2]]),
        A_eq=np.ones((1, na * nb)),
        b_eq=[min(a[:, 2].sum(), b[:, 2].sum())],
        bounds=(0, None),
        method="highs",
    )
    assert res.success
    return float(res.fun) + abs(a[:, 2].sum() - b[:, 2].sum())


def _random_event(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.column_stack([rng.normal(0, 0.2, n), rng.normal(0, 0.2, n), rng.exponential(10.0, n)])


def test_one_particle_each_closed_form() -> None:
    a = np.array([[0.1, 0.2, 30.0]])
    b = np.array([[-0.1, 0.25, 12.0]])
    dr = np.hypot(0.2, 0.05)
    assert emd_pair(a, b, R=0.4) == pytest.approx(12.0 * dr / 0.4 + 18.0, rel=1e-12)
    assert emd_pair(b, a, R=0.4) == pytest.approx(12.0 * dr / 0.4 + 18.0, rel=1e-12)
    assert emd_pair(a, a) == pytest.approx(0.0, abs=1e-12)


def test_phi_wraps_around() -> None:
    a = np.array([[0.0, np.pi - 0.05, 5.0]])
    b = np.array([[0.0, -np.pi + 0.05, 5.0]])
    assert emd_pair(a, b, R=0.4) == pytest.approx(5.0 * 0.1 / 0.4, rel=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_matches_linear_programme(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = _random_event(rng, 3), _random_event(rng, 3 if seed % 2 else 2)
    if seed == 5:
        a[:, 1] += 3.0  # across the φ = π seam
        b[:, 1] -= 3.0
    assert emd_pair(a, b, R=0.4) == pytest.approx(_emd_linprog(a, b, 0.4), rel=1e-7, abs=1e-9)


def test_pairwise_masks_and_empty_events() -> None:
    rng = np.random.default_rng(7)
    n, n_max = 5, 4
    feat_a = rng.normal(0, 0.2, (n, n_max, 3))
    feat_a[..., 2] = rng.exponential(5.0, (n, n_max))
    feat_b = rng.normal(0, 0.2, (n, n_max + 2, 3))
    feat_b[..., 2] = rng.exponential(5.0, (n, n_max + 2))
    mask_a = rng.random((n, n_max)) < 0.7
    mask_b = rng.random((n, n_max + 2)) < 0.7
    mask_a[0] = False  # an empty event: EMD is the other event's energy
    feat_a[~mask_a] = 99.0  # padding must never be read
    feat_b[~mask_b] = -99.0
    got = emd_pairwise(feat_a, mask_a, feat_b, mask_b, R=0.4, n_jobs=1)
    assert got.shape == (n,)
    assert got[0] == pytest.approx(feat_b[0, mask_b[0], 2].sum())
    for i in range(1, n):
        want = (
            _emd_linprog(feat_a[i][mask_a[i]], feat_b[i][mask_b[i]], 0.4)
            if mask_b[i].any()
            else (feat_a[i, mask_a[i], 2].sum())
        )
        assert got[i] == pytest.approx(want, rel=1e-7, abs=1e-9)
    mat = emd_matrix(feat_a, mask_a, feat_b, mask_b, R=0.4, n_jobs=1)
    assert mat.shape == (n, n)
    np.testing.assert_allclose(np.diag(mat), got, rtol=1e-12)


def test_pairs_of_any_events_with_a_radius_and_columns() -> None:
    rng = np.random.default_rng(8)
    a = rng.normal(0, 0.3, (6, 5, 4))
    b = rng.normal(0, 0.3, (4, 7, 4))
    a[..., 0], b[..., 0] = rng.exponential(5.0, (6, 5)), rng.exponential(5.0, (4, 7))  # E first
    cols = (1, 2, 0)
    mask_a, mask_b = rng.random((6, 5)) < 0.8, rng.random((4, 7)) < 0.8
    ia, ib = np.array([5, 0, 5, 2]), np.array([3, 3, 0, 1])
    got = emd_pairs(a, mask_a, b, mask_b, ia, ib, R=1.0, n_jobs=1, cols=cols)
    want = [
        emd_pair(a[i][mask_a[i]][:, cols], b[j][mask_b[j]][:, cols], R=1.0)
        for i, j in zip(ia, ib, strict=True)
    ]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    mat = emd_matrix(a, mask_a, b, mask_b, R=1.0, n_jobs=1, cols=cols)
    np.testing.assert_allclose(got, mat[ia, ib], rtol=1e-12)
    assert emd_pairs(a, mask_a, b, mask_b, ia[:0], ib[:0], n_jobs=1).shape == (0,)
    with pytest.raises(ValueError, match="one length"):
        emd_pairs(a, mask_a, b, mask_b, ia, ib[:2])
    with pytest.raises(ValueError, match="ib must index the 4 events"):
        emd_pairs(a, mask_a, b, mask_b, ia, ib + 1)
    with pytest.raises(ValueError, match=r"\[N, n_max, F\]"):
        emd_pairs(a[0], None, b, mask_b, ia, ib)


def test_process_pool_matches_inline() -> None:
    rng = np.random.default_rng(3)
    n, n_max = 300, 12
    feat_a = rng.normal(0, 0.2, (n, n_max, 3))
    feat_b = rng.normal(0, 0.2, (n, n_max, 3))
    feat_a[..., 2] = rng.exponential(5.0, (n, n_max))
    feat_b[..., 2] = rng.exponential(5.0, (n, n_max))
    mask_a = rng.random((n, n_max)) < 0.8
    mask_b = rng.random((n, n_max)) < 0.8
    inline = emd_pairwise(feat_a, mask_a, feat_b, mask_b, n_jobs=1)
    pooled = emd_pairwise(feat_a, mask_a, feat_b, mask_b, n_jobs=2)
    np.testing.assert_allclose(pooled, inline, rtol=1e-12)
    res = emd(feat_a, mask_a, feat_b, mask_b, n_jobs=1, n_boot=50)
    assert res.value == pytest.approx(np.median(inline))
    assert 0 < res.uncertainty < res.value and res.n == n
