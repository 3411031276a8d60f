"""The reference detector: image contract, helix propagation, tracks, noise and the window mask."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.stats import norm

from mlfastsim.physics.detector import (
    CRYSTAL_DETA,
    IMAGE_SIZE,
    DetectorConfig,
    propagate_to_ecal,
    simulate_jet,
)
from mlfastsim.physics.detector import constants as K
from mlfastsim.physics.kinematics import wrap_phi
from mlfastsim.physics.particles import empty_particles

QUIET = DetectorConfig(noise=False, zero_suppression=False)
MASS = {11: 0.000511, 13: 0.1057, 22: 0.0, 211: 0.1396, 2112: 0.9396}


def make(rows: list[tuple[int, float, float, float]]) -> np.ndarray:
    """Particles from (pdgid, pT, η, φ) rows, charge and energy filled in."""
    out = empty_particles(len(rows))
    for k, (pid, pt, eta, phi) in enumerate(rows):
        charge = {11: -1, -11: 1, 13: -1, -13: 1, 211: 1, -211: -1}.get(pid, 0)
        out[k] = (pt, eta, phi, np.hypot(pt * np.cosh(eta), MASS[abs(pid)]), pid, charge, True, False)
    return out


def test_image_contract_shape_dtype_and_deterministic_seeds() -> None:
    parts = make([(22, 30.0, 0.1, 0.2), (211, 20.0, 0.12, 0.25), (2112, 10.0, 0.05, 0.1)])
    img, mask = simulate_jet(parts, 0.1, 0.2, np.random.default_rng(3))
    again, _ = simulate_jet(parts, 0.1, 0.2, np.random.default_rng(3))
    other, _ = simulate_jet(parts, 0.1, 0.2, np.random.default_rng(4))
    assert img.shape == (3, IMAGE_SIZE, IMAGE_SIZE) and img.dtype == np.float32
    assert mask.shape == (3,) and mask.dtype == bool and mask.all()
    np.testing.assert_array_equal(img, again)
    assert not np.array_equal(img, other)
    assert (img >= 0).all()


def test_photon_on_the_axis_peaks_in_the_central_pixel_and_offsets_map_to_rows_and_columns() -> None:
    rng = np.random.default_rng(0)
    img, _ = simulate_jet(make([(22, 50.0, 0.4, 3.1)]), 0.4, 3.1, rng, QUIET)
    assert np.unravel_index(img[1].argmax(), img[1].shape) == (62, 62)
    # +3 crystals in η → row 65; +5 crystals in φ across the ±π seam → column 67.
    img, _ = simulate_jet(
        make([(22, 50.0, 0.4 + 3 * CRYSTAL_DETA, wrap_phi(3.1 + 5 * 0.0174))]), 0.4, 3.1, rng, QUIET
    )
    assert np.unravel_index(img[1].argmax(), img[1].shape) == (65, 67)


@pytest.mark.parametrize("charge", [-1.0, 1.0])
def test_helix_impact_azimuth_matches_the_delphes_formula(charge: float) -> None:
    pt = np.array([0.74, 0.8, 1.0, 2.0, 5.0, 20.0, 100.0])
    eta_i, phi_i, reaches = propagate_to_ecal(pt, np.full(7, 0.5), np.zeros(7), np.full(7, charge), 3.8, 1.29)
    expected = -charge * np.arcsin(0.2998 * 3.8 * 1.29 / (2 * pt))
    assert reaches.all()
    np.testing.assert_allclose(phi_i, expected, atol=1e-12)
    assert (eta_i > 0.5).all() and eta_i[-1] == pytest.approx(0.5, abs=1e-4)  # longer arc → larger |η|


def test_soft_tracks_never_reach_and_neutrals_go_straight() -> None:
    pt = np.array([0.3, 0.6, 0.73, 0.5, 0.5])
    charge = np.array([1.0, -1.0, 1.0, 0.0, 0.0])
    eta_i, phi_i, reaches = propagate_to_ecal(pt, np.full(5, 1.0), np.full(5, 0.3), charge)
    np.testing.assert_array_equal(reaches, [False, False, False, True, True])
    assert 0.2998 * K.B_FIELD * K.ECAL_RADIUS / 2 == pytest.approx(0.735, abs=1e-3)
    np.testing.assert_allclose(eta_i[3:], 1.0) and np.testing.assert_allclose(phi_i[3:], 0.3)
    img, mask = simulate_jet(make([(211, 0.6, 0.0, 0.0)]), 0.0, 0.0, np.random.default_rng(1), QUIET)
    assert img.sum() == 0 and not mask.any()


def test_track_channel_holds_smeared_pt_in_the_impact_crystal() -> None:
    rng = np.random.default_rng(5)
    pts = []
    for _ in range(300):
        img, _ = simulate_jet(make([(211, 10.0, 0.0, 0.0)]), 0.0, 0.0, rng, QUIET)
        if img[0].any():
            j = -np.arcsin(0.2998 * 3.8 * 1.29 / 20.0)
            assert np.unravel_index(img[0].argmax(), img[0].shape) == (62, int(np.floor(j / 0.0174 + 62.5)))
            pts.append(img[0].sum())
    assert len(pts) / 300 == pytest.approx(0.95, abs=0.04)  # Delphes efficiency, pT > 1 GeV, |η| < 1.5
    assert np.mean(pts) == pytest.approx(10.0, rel=0.005) and np.std(pts) == pytest.approx(0.10, rel=0.2)


def test_noise_only_images_have_the_gaussian_tail_number_of_hits() -> None:
    rng = np.random.default_rng(11)
    hits = [(simulate_jet(empty_particles(0), 0.0, 0.0, rng)[0][1] > 0).sum() for _ in range(200)]
    expected = IMAGE_SIZE**2 * norm.sf(K.ECAL_THRESHOLD / K.ECAL_NOISE)
    assert expected == pytest.approx(21.1, abs=0.5)
    assert np.mean(hits) == pytest.approx(expected, abs=4 * np.sqrt(expected / 200))


def test_hcal_towers_are_5x5_blocks_aligned_to_the_image() -> None:
    img, _ = simulate_jet(make([(2112, 50.0, 0.0, 0.0)] * 3), 0.0, 0.0, np.random.default_rng(2))
    blocks = img[2].reshape(25, 5, 25, 5)
    assert img[2].sum() > 0
    np.testing.assert_allclose(blocks, blocks[:, :1, :, :1] * np.ones((1, 5, 1, 5)), rtol=1e-6)


def test_reaches_window_mask_and_pileup_switch() -> None:
    parts = make([(22, 5.0, 0.0, 0.0), (22, 5.0, 0.0, 2.0), (211, 5.0, 1.5, 0.0), (2112, 5.0, 0.0, 1.15)])
    parts["pileup"][0] = True
    _, mask = simulate_jet(parts, 0.0, 0.0, np.random.default_rng(0), QUIET)
    np.testing.assert_array_equal(
        mask[:3], [True, False, False]
    )  # the 4th is at the edge: its tail may reach
    img, mask = simulate_jet(
        parts, 0.0, 0.0, np.random.default_rng(0), dataclasses.replace(QUIET, include_pileup=False)
    )
    assert not mask[0] and img[1, 55:70, 55:70].sum() == 0


def test_muons_leave_mips_only() -> None:
    rng = np.random.default_rng(9)
    sums = np.array(
        [
            simulate_jet(make([(13, 50.0, 0.0, 0.0)]), 0.0, 0.0, rng, QUIET)[0].sum(axis=(1, 2))
            for _ in range(400)
        ]
    )
    assert np.mean(sums[:, 1]) == pytest.approx(K.MIP_ECAL_MEAN, rel=0.05)
    assert np.median(sums[:, 1]) < np.mean(sums[:, 1])  # Landau-like skew
    assert np.mean(sums[:, 2]) == pytest.approx(K.MIP_HCAL_MEAN, rel=0.05)
