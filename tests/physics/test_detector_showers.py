"""Calorimeter validation: e/γ response, resolution and containment; pion ECAL start, split, response."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import curve_fit

from mlfastsim.physics.detector import (
    DetectorConfig,
    em_shower_deposits,
    hadron_deposits,
    hadron_response,
    simulate_particles,
)
from mlfastsim.physics.detector import constants as K
from mlfastsim.physics.particles import empty_particles

QUIET = DetectorConfig(noise=False, zero_suppression=False)
RM = K.MOLIERE_RADIUS_CM / 100 / K.ECAL_RADIUS


def single(pdgid: int, energy: float, charge: float = 0.0) -> np.ndarray:
    p = empty_particles(1)
    p[0] = (energy, 0.0, 0.0, energy, pdgid, charge, True, False)
    return p


def resolution(e: np.ndarray, s: float, c: float) -> np.ndarray:
    return np.hypot(s / np.sqrt(e), c)


def test_electron_response_is_one_and_resolution_fit_recovers_the_test_beam_terms() -> None:
    rng = np.random.default_rng(21)
    energies = np.array([5.0, 20.0, 50.0, 100.0])
    n = 400
    means, sigmas, errors = [], [], []
    for energy in energies:
        sums = np.array(
            [simulate_particles(single(11, energy, -1.0), 0.0, 0.0, rng, QUIET)[0][1].sum() for _ in range(n)]
        )
        means.append(sums.mean() / energy)
        sigmas.append(sums.std() / sums.mean())
        errors.append(sigmas[-1] / np.sqrt(2 * n))
    np.testing.assert_allclose(means, 1.0, atol=0.003)
    (s, c), _ = curve_fit(resolution, energies, sigmas, p0=(0.03, 0.003), sigma=errors)
    assert s == pytest.approx(K.ECAL_STOCHASTIC, rel=0.1)
    assert abs(c) < 0.006


def test_noise_adds_to_the_resolution_in_a_5x5_sum() -> None:
    rng = np.random.default_rng(4)
    sums = np.array(
        [simulate_particles(single(22, 5.0), 0.0, 0.0, rng)[0][1, 60:65, 60:65].sum() for _ in range(300)]
    )
    # 5×5 holds 98.6 % noise-free; at 5 GeV zero suppression removes most of the outer ring (≈ 8 %).
    assert 0.86 < sums.mean() / 5.0 < 0.95
    assert sums.std() / sums.mean() > np.hypot(K.ECAL_STOCHASTIC / np.sqrt(5.0), K.ECAL_CONSTANT)


@pytest.mark.parametrize("energy", [5.0, 50.0])
def test_em_lateral_containment_follows_the_pdg_numbers(energy: float) -> None:
    deta, dphi, e, owner = em_shower_deposits(np.full(200, energy), np.random.default_rng(1))
    assert owner.max() == 199 and e.sum() == pytest.approx(200 * energy, rel=0.01)
    r = np.hypot(deta, dphi) / RM
    assert e[r < 1.0].sum() / e.sum() == pytest.approx(0.90, abs=0.025)
    assert e[r < 3.5].sum() / e.sum() == pytest.approx(0.99, abs=0.01)


def test_pions_start_showering_in_the_ecal_with_probability_one_minus_exp_minus_1p1() -> None:
    e_ecal, e_hcal, starts = hadron_deposits(
        np.full(20000, 20.0), np.ones(20000, bool), np.random.default_rng(2)
    )
    assert starts.mean() == pytest.approx(1 - np.exp(-1.1), abs=0.012)
    mips = e_ecal[~starts]
    assert 0.2 < np.mean(mips) < 0.27 and (e_ecal[starts].mean() > 2.0)
    np.testing.assert_allclose(e_ecal + e_hcal, np.clip(e_ecal + e_hcal, 0, None))


def test_neutral_hadrons_that_do_not_interact_leave_nothing_in_the_ecal() -> None:
    e_ecal, _, starts = hadron_deposits(np.full(2000, 10.0), np.zeros(2000, bool), np.random.default_rng(3))
    assert (e_ecal[~starts] == 0).all() and e_ecal[starts].mean() > 2.0


def test_pion_calorimeter_response_follows_the_fastsim_curve() -> None:
    rng = np.random.default_rng(8)
    for energy in (5.0, 20.0, 100.0):
        sums = np.array(
            [
                simulate_particles(single(211, energy, 1.0), 0.0, 0.0, rng, QUIET)[0][1:].sum()
                for _ in range(300)
            ]
        )
        expected = float(hadron_response(energy))
        sigma = np.hypot(1.22 / np.sqrt(energy), 0.05) * expected / np.sqrt(300)
        assert sums.mean() == pytest.approx(expected, abs=4 * sigma)
