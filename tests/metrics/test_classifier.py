"""Classifier two-sample test: chance level on one distribution, near 1 on separable ones; ROC AUC and its error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from mlfastsim.metrics.classifier import classifier_test, roc_auc, roc_auc_interval


def test_same_distribution_gives_chance() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(1500, 5)), rng.normal(size=(1500, 5))
    res = classifier_test(x, y, seed=1, hidden=(64, 64), epochs=10, n_threads=1)
    assert res.n == 600
    assert abs(res.value - 0.5) < max(4 * res.uncertainty, 0.06)
    assert abs(res.raw_auc - 0.5) < max(4 * res.raw_uncertainty, 0.06)
    assert res.learned is False  # nothing to learn: the table says "no power", not 0.5
    assert res.logloss_gain < 2 * res.logloss_gain_uncertainty
    row = res.to_dict()
    assert {"value", "uncertainty", "n"} <= set(row) and row["learned"] is False


def test_a_weak_but_real_difference_is_learned_and_both_aucs_are_reported() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(1500, 5)), rng.normal(size=(1500, 5))
    y[:, 1] += 0.5  # AUC ≈ 0.64 for the best classifier
    res = classifier_test(x, y, seed=3, hidden=(64, 64), epochs=10, n_threads=1)
    assert res.learned is True
    assert 0.58 < res.raw_auc < 0.72 and 0.58 < res.value < 0.72
    assert res.logloss_gain > 0 and res.train_auc > 0.55


def test_separable_samples_give_one_and_the_global_rng_is_untouched() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1000, 4))
    y = rng.normal(size=(1000, 4))
    y[:, 2] += 6.0
    state = torch.random.get_rng_state()
    res = classifier_test(x, y, seed=2, hidden=(64, 64), epochs=10, n_threads=1)
    assert torch.equal(state, torch.random.get_rng_state())
    assert res.value > 0.99 and res.raw_auc > 0.99 and res.learned is True
    again = classifier_test(x, y, seed=2, hidden=(64, 64), epochs=10, n_threads=1)
    assert again == res


def test_rejects_bad_inputs() -> None:
    x = np.zeros((100, 3))
    with pytest.raises(ValueError):
        classifier_test(x, np.zeros((100, 4)))
    bad = np.zeros((100, 3))
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        classifier_test(x, bad)


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


def test_roc_auc_interval_covers_the_auc_and_matches_its_error() -> None:
    rng = np.random.default_rng(7)
    b, s = rng.normal(size=2000), rng.normal(0.8, 1.0, size=1500)
    auc = roc_auc(b, s)
    lo, hi = roc_auc_interval(b, s, level=0.68, n_boot=400, seed=1)
    assert lo < auc.value < hi
    assert (hi - lo) / 2 == pytest.approx(auc.uncertainty, rel=0.25)
    wide = roc_auc_interval(b, s, level=0.95, n_boot=400, seed=1)
    assert wide[0] < lo and wide[1] > hi
    with pytest.raises(ValueError):
        roc_auc_interval(b, s, level=1.5)
