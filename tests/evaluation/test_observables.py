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


def test_per_channel_observables_tracks_and_hcal_towers() -> None:
    images = _blank(2)
    images[0, 0, 62, 62] = 10.0  # a track of pT 10 at the axis
    images[0, 0, 62, 72] = 10.0  # another, Δφ = 10 crystals
    images[0, 2, 60:65, 60:65] = 40.0 / 25  # one HCAL tower of 40 GeV (the image spreads it over 5 x 5)
    images[0, 1, 62, 62] = 5.0
    obs = image_observables(images)
    dphi = 10 * CRYSTAL_DPHI
    assert np.isclose(obs["jet_mass_tracks_pt"][0], np.sqrt(2 * 10 * 10 * (1 - np.cos(dphi))), rtol=1e-9)
    assert np.isclose(obs["jet_pt_tracks_pt"][0], 20 * np.cos(dphi / 2), rtol=1e-9)
    assert np.isclose(obs["leading_fraction_tracks_pt"][0], 0.5)
    assert np.isclose(obs["width_tracks_pt"][0], dphi / 2)
    # the HCAL on its towers: one tower holds everything, at the image centre
    assert np.isclose(obs["leading_fraction_hcal"][0], 1.0) and np.isclose(obs["width_hcal"][0], 0.0)
    assert obs["n_hits_hcal"][0] == 25 and np.isclose(obs["e_hcal"][0], 40.0)
    assert np.isclose(obs["jet_mass_hcal"][0], 0.0, atol=1e-5)
    # all channels: the two tracks plus 45 GeV at the axis
    p = np.array([10 + 10 * np.cos(dphi) + 45, 10 * np.sin(dphi)])
    e = 10 + 10 + 45
    assert np.isclose(obs["jet_mass_all"][0], np.sqrt(e**2 - p @ p), rtol=1e-6)
    # ECAL + HCAL on crystals (unchanged): the tower's 25 crystal copies give it a width, hence a mass
    assert obs["jet_mass"][0] > 1.0
    assert obs["e_tracks_pt"][1] == 0 and obs["leading_fraction_hcal"][1] == 0  # an empty jet


def test_observables_do_not_depend_on_the_chunk() -> None:
    rng = np.random.default_rng(2)
    images = (rng.random((7, 3, 125, 125)) > 0.995) * rng.exponential(2.0, (7, 3, 125, 125))
    eta = rng.normal(size=7)
    a, b = image_observables(images, eta, chunk=3), image_observables(images, eta, chunk=256)
    assert set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)
