"""Observables of particle jets, showers and PID tables against hand calculations."""

from __future__ import annotations

import numpy as np
import pytest

from mlfastsim.evaluation.kinds import particle_jet_observables, pid_efficiency_table, shower_observables


def test_particle_jet_two_back_to_back_constituents() -> None:
    # two 50 GeV constituents at φ = ±0.1, η = 0: m = 2 pT sin(Δφ/2) · ..., exactly sqrt(2 p p (1 - cos Δφ))
    feats = np.array([[[0.0, 0.1, 50.0], [0.0, -0.1, 50.0], [0.0, 0.0, 0.0]]])
    obs = particle_jet_observables(feats)
    assert obs["jet_mass"][0] == pytest.approx(np.sqrt(2 * 50 * 50 * (1 - np.cos(0.2))))
    assert obs["jet_pt"][0] == pytest.approx(100 * np.cos(0.1))
    assert obs["n_constituents"][0] == 2 and obs["leading_pt_fraction"][0] == pytest.approx(0.5)
    assert obs["width"][0] == pytest.approx(0.1)


def test_shower_centroid_width_and_asymmetry() -> None:
    img = np.zeros((1, 5, 5))
    img[0, 2, 1], img[0, 2, 3] = 1.0, 3.0  # row 2 (y = 0), x = -1 and +1 cells
    obs = shower_observables(img, cell_size=(2.0, 1.0))
    assert obs["energy"][0] == 4.0
    assert obs["centroid_x"][0] == pytest.approx((-2 * 1 + 2 * 3) / 4)
    assert obs["centroid_y"][0] == pytest.approx(0.0)
    assert obs["width_x"][0] == pytest.approx(np.sqrt((4 * 1 + 4 * 3) / 4 - 1.0))
    assert obs["asymmetry_x"][0] == pytest.approx((3 - 1) / 4)
    assert obs["max_cell_fraction"][0] == pytest.approx(0.75)


def test_pid_efficiency_ratio_is_one_for_the_same_distribution_and_not_for_a_shift() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(2, 100, 20000)
    dll = rng.normal(np.log(p), 1.0)
    same = pid_efficiency_table(dll, rng.normal(np.log(p), 1.0), p, np.array([2, 10, 30, 100.0]))
    assert set(same) == {"q0.25", "q0.5", "q0.75"}
    table = same["q0.5"]
    assert (np.abs(table["ratio"] - 1.0) < 3 * table["ratio_err"]).all()
    shifted = pid_efficiency_table(dll, dll + 1.0, p, np.array([2, 10, 30, 100.0]))
    assert (shifted["q0.5"]["ratio"] > 1.1).all()
