"""Classifier two-sample test: chance level on one distribution, near 1 on separable ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlfastsim.metrics.classifier import classifier_test


def test_same_distribution_gives_chance() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(1500, 5)), rng.normal(size=(1500, 5))
    res = classifier_test(x, y, seed=1, hidden=(64, 64), epochs=10, n_threads=1)
    assert res.n == 600
    assert abs(res.value - 0.5) < max(4 * res.uncertainty, 0.06)


def test_separable_samples_give_one_and_the_global_rng_is_untouched() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1000, 4))
    y = rng.normal(size=(1000, 4))
    y[:, 2] += 6.0
    state = torch.random.get_rng_state()
    res = classifier_test(x, y, seed=2, hidden=(64, 64), epochs=10, n_threads=1)
    assert torch.equal(state, torch.random.get_rng_state())
    assert res.value > 0.99
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
