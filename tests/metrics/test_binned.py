"""Separation power and efficiency ratios on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from mlfastsim.metrics.binned import efficiency_ratio, separation_power


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
