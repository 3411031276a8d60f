"""The particle-flow-like reconstruction: responses and resolutions, merging, linking, invisibility, seeds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mlfastsim.physics.detector import constants as K
from mlfastsim.physics.detector import pflow_constants as P
from mlfastsim.physics.detector.pflow import (
    CHARGED_HADRON,
    ELECTRON,
    MUON,
    NEUTRAL_HADRON,
    PHOTON,
    RECO_DTYPE,
    PFlowConfig,
    calibrate_clusters,
    derive_calibration,
    pf_hadron_resolution,
    reconstruct_particles,
)
from mlfastsim.physics.detector.tracker import track_resolution
from mlfastsim.physics.kinematics import wrap_phi
from mlfastsim.physics.particles import empty_particles

MASS = {11: 0.000511, 12: 0.0, 13: 0.10566, 14: 0.0, 22: 0.0, 130: 0.497611, 211: 0.13957, 2112: 0.93957}
CHARGE = {11: -1, -11: 1, 13: -1, -13: 1, 211: 1, -211: -1}


def make(rows: list[tuple[int, float, float, float]]) -> np.ndarray:
    """Particles from (pdgid, energy, η, φ) rows; pT, charge filled in."""
    out = empty_particles(len(rows))
    for k, (pid, energy, eta, phi) in enumerate(rows):
        p = np.sqrt(energy**2 - MASS[abs(pid)] ** 2)
        out[k] = (p / np.cosh(eta), eta, phi, energy, pid, CHARGE.get(pid, 0), True, False)
    return out


def response(
    rows: list[tuple[int, float, float, float]], n: int, seed: int, config: PFlowConfig | None = None
) -> np.ndarray:
    """Summed candidate energy / true energy for ``n`` independent reconstructions of ``rows``."""
    parts, rng = make(rows), np.random.default_rng(seed)
    truth = parts["e"].sum()
    config = config or PFlowConfig()
    return np.array([reconstruct_particles(parts, rng, config)["e"].sum() / truth for _ in range(n)])


def test_output_contract_sorted_and_seeded() -> None:
    parts = make(
        [(22, 30.0, 0.1, 0.2), (211, 20.0, 0.3, 0.25), (130, 15.0, -0.2, 0.1), (-13, 10.0, 0.5, 0.6)]
    )
    a = reconstruct_particles(parts, np.random.default_rng(3))
    b = reconstruct_particles(parts, np.random.default_rng(3))
    c = reconstruct_particles(parts, np.random.default_rng(4))
    assert a.dtype == RECO_DTYPE and len(a) >= 3
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert (np.diff(a["pt"]) <= 0).all() and (a["e"] >= a["pt"] - 1e-9).all()
    assert set(a["pdgid"]) <= {CHARGED_HADRON, MUON, ELECTRON, PHOTON, NEUTRAL_HADRON}
    charged = np.isin(a["pdgid"], [CHARGED_HADRON, MUON, ELECTRON])
    assert (np.abs(a["charge"][charged]) == 1).all() and (a["charge"][~charged] == 0).all()


def test_single_photon_response_is_one_and_width_follows_the_ecal_formula() -> None:
    energy = 100.0
    formula = np.hypot(K.ECAL_STOCHASTIC / np.sqrt(energy), K.ECAL_CONSTANT)  # TB07: 0.41 %
    quiet = response([(22, energy, 0.3, 1.0)], 150, seed=1, config=PFlowConfig(noise=False))
    noisy = response([(22, energy, 0.3, 1.0)], 150, seed=2)
    # Calibrated (with noise, as the table was derived): mean 1 to a few per mille.
    assert noisy.mean() == pytest.approx(1.0, abs=0.003)
    # Without noise the width is the smearing plus threshold/leakage fluctuations (measured 1.10 × formula).
    assert 0.9 * formula < quiet.std() < 1.25 * formula
    # Noise adds in quadrature: wider, but not absurdly (measured 1.4 × at 50 GeV).
    assert quiet.std() < noisy.std() < 2.0 * formula
    # Raw (uncalibrated) clusters lose energy below the 0.08 GeV crystal threshold.
    raw = response([(22, 10.0, 0.3, 1.0)], 100, seed=3, config=PFlowConfig(calibrate=False))
    assert 0.93 < raw.mean() < 0.98


def test_nearby_photons_merge_into_one_cluster_and_distant_ones_do_not() -> None:
    rng = np.random.default_rng(7)
    for dphi, n_expected in ((0.005, 1), (0.15, 2)):  # 0.3 and 8.6 crystals apart
        parts = make([(22, 20.0, 0.4, 1.0), (22, 20.0, 0.4, 1.0 + dphi)])
        counts = [len(reconstruct_particles(parts, rng)) for _ in range(20)]
        assert counts == [n_expected] * 20
    # Across the φ = ±π seam of the fixed crystal grid, 0.004 apart: one cluster, at φ ≈ ±π.
    cands = reconstruct_particles(
        make([(22, 20.0, 0.0, np.pi - 0.002), (22, 20.0, 0.0, -np.pi + 0.002)]), rng
    )
    assert len(cands) == 1 and abs(wrap_phi(cands["phi"][0] - np.pi)) < 0.01
    assert cands["e"][0] == pytest.approx(40.0, rel=0.03)


def test_cluster_position_is_unbiased_anywhere_in_the_crystal() -> None:
    rng = np.random.default_rng(8)
    # η = 0.33 lies 0.97 of the way across its crystal (an S-curve-prone spot), 0.3393 near a centre.
    for eta, phi in ((0.33, -1.2), (0.3393, -1.2), (0.345, 0.0123)):
        c = np.concatenate([reconstruct_particles(make([(22, 50.0, eta, phi)]), rng) for _ in range(40)])
        assert len(c) == 40
        deta, dphi = c["eta"] - eta, wrap_phi(c["phi"] - phi)
        # W0 = 4.2 log weights over the whole cluster: bias ≤ 0.0003 (measured), far below a crystal (0.0174);
        # absolute ln(E/0.08) weights over a 3 × 3 would pull 0.003 towards the crystal centre.
        assert abs(deta.mean()) < 0.001 and abs(dphi.mean()) < 0.001
        assert np.abs(deta).max() < 0.005 and np.abs(dphi).max() < 0.005


@pytest.mark.parametrize(("eta", "efficiency"), [(0.3, 0.95), (2.0, 0.85)])
def test_charged_pion_track_efficiency_resolution_and_lost_tracks_in_the_hcal(
    eta: float, efficiency: float
) -> None:
    energy, n = 10.0, 600
    parts, rng = make([(211, energy, eta, 0.7)]), np.random.default_rng(11)
    pt_true = parts["pt"][0]
    tracks, neutral = [], 0
    for _ in range(n):
        c = reconstruct_particles(parts, rng)
        tracks += c["pt"][c["pdgid"] == CHARGED_HADRON].tolist()
        neutral += int((c["pdgid"] == NEUTRAL_HADRON).sum())
    found = len(tracks) / n
    assert abs(found - efficiency) < 3 * np.sqrt(efficiency * (1 - efficiency) / n)
    rel = np.array(tracks) / pt_true - 1.0
    sigma = track_resolution([pt_true], [eta])[0]  # Delphes: 1.0 % (|η| ≤ 0.5), 2.6 % (1.5–2.5) at 10 GeV
    assert abs(rel.mean()) < 4 * sigma / np.sqrt(len(rel))
    assert rel.std() == pytest.approx(sigma, rel=0.1)
    # A lost track's pion showers in the calorimeter and comes back as a neutral hadron (almost always).
    assert 0.8 * (n - len(tracks)) <= neutral <= n - len(tracks) + 2


def test_neutral_hadron_response_and_resolution_follow_tb09() -> None:
    energy = 100.0
    r = response([(130, energy, -0.4, 2.0)], 500, seed=13)
    sigma = pf_hadron_resolution([energy])[0]  # √(0.847²/100 + 0.074²) = 11.2 %
    assert sigma == pytest.approx(np.hypot(0.847 / 10.0, 0.074))
    assert r.mean() == pytest.approx(1.0, abs=3 * sigma / np.sqrt(500) + 0.01)
    assert r.std() == pytest.approx(sigma, rel=0.1)


def test_electron_takes_its_cluster_and_muon_its_track() -> None:
    rng = np.random.default_rng(17)
    kinds = []
    for _ in range(40):
        c = reconstruct_particles(make([(11, 30.0, 0.2, 0.5), (-13, 20.0, -0.5, 2.5)]), rng)
        kinds.append(sorted(c["pdgid"].tolist()))
        ele, mu = c[c["pdgid"] == ELECTRON], c[c["pdgid"] == MUON]
        if len(ele):  # track found (95 %): no photon left over, energy from the ECAL cluster
            assert len(ele) == 1 and ele["charge"][0] == -1 and PHOTON not in c["pdgid"]
            assert ele["e"][0] == pytest.approx(30.0, rel=0.05)
            assert ele["eta"][0] == pytest.approx(0.2) and ele["phi"][0] == pytest.approx(0.5)
        if len(mu):
            assert mu["charge"][0] == 1 and mu["pt"][0] == pytest.approx(20.0 / np.cosh(0.5), rel=0.1)
            assert mu["e"][0] == pytest.approx(np.hypot(mu["pt"][0] * np.cosh(0.5), P.MUON_MASS))
    assert sum(k == sorted([MUON, ELECTRON]) for k in kinds) >= 30  # both found in ≈ 90 % of events


def test_neutrinos_are_invisible_and_draw_nothing() -> None:
    assert (
        len(
            reconstruct_particles(
                make([(12, 50.0, 0.0, 0.0), (-14, 20.0, 0.1, 0.1)]), np.random.default_rng(0)
            )
        )
        == 0
    )
    photon = make([(22, 25.0, 0.1, 0.1)])
    with_nu = np.concatenate([make([(14, 40.0, 0.1, 0.1)]), photon])
    np.testing.assert_array_equal(
        reconstruct_particles(with_nu, np.random.default_rng(5)),
        reconstruct_particles(photon, np.random.default_rng(5)),
    )


def test_soft_neutral_hadrons_stay_below_the_hcal_seed_threshold() -> None:
    # 0.5 GeV K0L: TB09 smearing rarely lifts a tower above the 1 GeV PF seed.
    r = response([(130, 0.5, 0.0, 0.0)], 200, seed=19)
    assert np.mean(r > 0) < 0.2


def test_calibration_tables_match_the_current_simulation() -> None:
    rng = np.random.default_rng(23)
    raw, resp = derive_calibration(22, (10.0,), 100, rng)
    assert resp[0] == pytest.approx(
        np.interp(np.log(raw[0]), np.log(P.PF_ECAL_CALIBRATION[0]), P.PF_ECAL_CALIBRATION[1]), abs=0.005
    )
    raw, resp = derive_calibration(130, (50.0,), 200, rng)
    assert resp[0] == pytest.approx(
        np.interp(np.log(raw[0]), np.log(P.PF_HCAL_CALIBRATION[0]), P.PF_HCAL_CALIBRATION[1]), abs=0.03
    )
    np.testing.assert_allclose(calibrate_clusters([1000.0], ((10.0, 100.0), (0.5, 0.8))), [1250.0])


def test_switching_off_smearing_gives_the_mean_response() -> None:
    quiet = dataclasses.replace(PFlowConfig(), noise=False, smear=False)
    parts = make([(211, 50.0, 0.1, 0.1)])
    c = [reconstruct_particles(parts, np.random.default_rng(s), quiet) for s in range(20)]
    tracks = [x["pt"][0] for x in c if len(x) and x["pdgid"][0] == CHARGED_HADRON]
    assert len(tracks) >= 15 and np.allclose(tracks, parts["pt"][0])
