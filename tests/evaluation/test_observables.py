"""Observables of jet images against hand calculations."""

from __future__ import annotations

import numpy as np

from mlfastsim.evaluation.observables import hit_energies, image_observables, radial_profile
from mlfastsim.physics.detector import CRYSTAL_DETA, CRYSTAL_DPHI


def _blank(n: int = 1) -> np.ndarray:
    return np.zeros((n, 3, 125, 125), dtype=np.float32)


def test_two_hits_give_the_massless_pair_mass() -> None:
    images = _blank()
    images[0, 1, 62, 62] = 30.0  # at the axis
    images[0, 2, 70, 55] = 20.0  # HCAL, Δη = 8 crystals, Δφ = −7 crystals
    obs = image_observables(images, jet_eta=np.array([0.5]))
    eta1, eta2 = 0.5, 0.5 + 8 * CRYSTAL_DETA
    pt1, pt2 = 30.0 / np.cosh(eta1), 20.0 / np.cosh(eta2)
    m2 = 2 * pt1 * pt2 * (np.cosh(eta2 - eta1) - np.cos(-7 * CRYSTAL_DPHI))
    assert np.isclose(obs["jet_mass"][0], np.sqrt(m2), rtol=1e-9)
    assert obs["n_hits_ecal"][0] == 1 and obs["n_hits_hcal"][0] == 1
    assert obs["e_ecal"][0] == 30.0 and obs["e_hcal"][0] == 20.0
    assert np.isclose(obs["leading_fraction_ecal"][0], 1.0)
    assert obs["width_ecal"][0] == 0.0


def test_single_central_hit_has_pt_equal_energy_at_eta_zero() -> None:
    images = _blank()
    images[0, 1, 62, 62] = 50.0
    obs = image_observables(images)
    assert np.isclose(obs["jet_pt"][0], 50.0) and obs["jet_mass"][0] < 1e-6


def test_radial_profile_fractions_sum_to_one_inside_range() -> None:
    images = _blank(2)
    images[0, 1, 62, 62] = 1.0
    images[0, 1, 62, 80] = 3.0  # ΔR = 18 crystals ≈ 0.31
    images[1, 1, 70, 70] = 2.0
    profile = radial_profile(images)
    assert profile.shape == (2, 16)
    assert np.allclose(profile.sum(axis=1), 1.0)
    assert np.isclose(profile[0, 0], 0.25) and np.isclose(profile[0, 6], 0.75)
    assert sorted(hit_energies(images)) == [1.0, 2.0, 3.0]
