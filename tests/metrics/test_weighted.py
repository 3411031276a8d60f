"""Per-event weights in the metrics (seed 004: calibration samples carry sWeights, some negative)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wasserstein_distance
from sklearn.metrics import roc_auc_score

from mlfastsim.metrics import classifier_test, efficiency_ratio, roc_auc, w1
from mlfastsim.metrics.binned import weighted_quantile
from mlfastsim.metrics.distances import w1_signed


def test_weighted_efficiency_by_hand_with_a_negative_weight() -> None:
    x = np.array([1.0, 1.0, -1.0, 1.0])
    w = np.array([2.0, 1.0, 1.0, -1.0])
    out = efficiency_ratio(
        x, x, 0.0, np.full(4, 0.5), np.array([0.0, 1.0]), weights=w, weights_gen=np.ones(4)
    )
    # weighted: passed 2 + 1 − 1 = 2 of 3; unweighted generated: 3 of 4
    assert out["eff_ref"][0] == pytest.approx(2 / 3)
    assert out["eff_gen"][0] == pytest.approx(3 / 4)
    e = 2 / 3
    var = ((1 - e) ** 2 * (4 + 1 + 1) + e**2 * 1) / 9
    assert out["eff_ref_err"][0] == pytest.approx(np.sqrt(var))
    assert out["n_eff_ref"][0] == pytest.approx(9 / 7)
    unit = efficiency_ratio(x, x, 0.0, np.full(4, 0.5), np.array([0.0, 1.0]), weights=np.ones(4))
    assert unit["eff_ref_err"][0] == pytest.approx(np.sqrt(0.75 * 0.25 / 4))


def test_signed_w1_matches_scipy_and_subtracts_a_background() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=2000), rng.normal(0.5, 1.3, 1500)
    wx, wy = rng.random(2000), rng.random(1500)
    assert w1_signed(x, wx, y, wy) == pytest.approx(wasserstein_distance(x, y, wx, wy))
    signal, bkg, bkg2 = rng.normal(3, 1, 20000), rng.normal(-3, 1, 20000), rng.normal(-3, 1, 20000)
    ref = np.concatenate([signal, bkg, bkg2])
    w = np.concatenate([np.ones(20000), np.ones(20000), -np.ones(20000)])
    cand = rng.normal(3, 1, 20000)
    assert w1(ref, cand, x_weights=w, n_boot=3).value < 0.1
    assert w1(ref, cand, n_boot=3).value > 1.5


def test_weighted_quantile_and_auc() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0])
    assert weighted_quantile(x, 0.5, np.array([1.0, 1.0, 1.0, 5.0])) == 3.0
    assert weighted_quantile(x, 0.5, np.array([3.0, 1.0, -1.0, 1.0])) == 0.0
    rng = np.random.default_rng(2)
    b, s = rng.normal(size=300), rng.normal(0.7, 1, 200)
    wb, ws = rng.random(300), rng.random(200)
    want = roc_auc_score(np.r_[np.zeros(300), np.ones(200)], np.r_[b, s], sample_weight=np.r_[wb, ws])
    assert roc_auc(b, s, wb, ws).value == pytest.approx(want)
    assert roc_auc(b, s).value == pytest.approx(roc_auc(b, s, np.ones(300), np.ones(200)).value)


def test_classifier_weights_change_the_answer() -> None:
    rng = np.random.default_rng(3)
    n = 1500
    ref = np.concatenate([rng.normal(2, 1, (n, 2)), rng.normal(-2, 1, (n, 2)), rng.normal(-2, 1, (n, 2))])
    w = np.concatenate([np.ones(n), np.ones(n), -np.ones(n)])
    cand = rng.normal(2, 1, (n, 2))
    kw = {"hidden": (16, 16), "epochs": 8, "n_threads": 1}
    weighted = classifier_test(ref, cand, weights_ref=w, **kw).value
    plain = classifier_test(ref, cand, **kw).value
    assert plain > 0.75 and weighted < 0.62
