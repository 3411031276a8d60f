"""The reference RICH: thresholds and angles of PHYSICS.md §6, photon yields, acceptance, background growing
with multiplicity, the likelihood's DLLs; and the minimum-bias track selection."""

from __future__ import annotations

import numpy as np
import pytest

from mlfastsim.physics.detector.rich import (
    DLL_NAMES,
    HYPOTHESES,
    RICHConfig,
    cherenkov_angle,
    expected_photons,
    in_acceptance,
    simulate_rich,
    threshold_momentum,
)
from mlfastsim.physics.detector.rich_constants import MASSES, SPECIES, saturated_angle
from mlfastsim.physics.particles import PARTICLE_DTYPE
from mlfastsim.physics.pid_tracks import select_tracks

K, PI, P, E, MU = (SPECIES.index(s) for s in ("K", "pi", "p", "e", "mu"))
RICH = RICHConfig()


def test_thresholds_and_saturated_angles_match_physics_md() -> None:
    for radiator, expected in ((RICH.rich1, (2.6, 9.3, 17.7)), (RICH.rich2, (4.4, 15.6, 29.7))):
        got = [float(threshold_momentum(MASSES[s], radiator.n_minus_1)) for s in ("pi", "K", "p")]
        np.testing.assert_allclose(got, expected, atol=0.05)
    assert saturated_angle("RICH1") == pytest.approx(52.9e-3, abs=0.05e-3)
    assert saturated_angle("RICH2") == pytest.approx(31.6e-3, abs=0.05e-3)
    assert RICH.rich1.theta_sat == pytest.approx(saturated_angle("RICH1"))


def test_cherenkov_angle_and_yield() -> None:
    p = np.array([2.0, 2.7, 5.0, 20.0, 1000.0])
    theta = cherenkov_angle(p, MASSES["pi"], RICH.rich1.n_minus_1)
    assert theta[0] == 0.0 and 0 < theta[1] < theta[2] < theta[3] < theta[4] < RICH.rich1.theta_sat
    assert theta[4] == pytest.approx(RICH.rich1.theta_sat, rel=1e-3)
    n = expected_photons(theta, RICH.rich1)
    assert n[0] == 0.0 and n[4] == pytest.approx(30.0, rel=2e-3)
    np.testing.assert_allclose(n[2] / n[3], (np.sin(theta[2]) / np.sin(theta[3])) ** 2)


def test_acceptance_in_eta() -> None:
    eta = np.array([2.05, 3.5, 4.6, 4.95])
    np.testing.assert_array_equal(in_acceptance(eta, RICH.rich1), [True, True, False, False])
    np.testing.assert_array_equal(in_acceptance(eta, RICH.rich2), [False, True, True, False])


def _tracks(n: int, p: float, eta: float, n_tracks: int, species: int) -> tuple[np.ndarray, ...]:
    return np.full(n, p), np.full(n, eta), np.full(n, n_tracks), np.full(n, species)


def test_dlls_separate_the_species() -> None:
    rng = np.random.default_rng(0)
    kaons = simulate_rich(*_tracks(2000, 20.0, 3.5, 10, K), rng)["dll"]
    pions = simulate_rich(*_tracks(2000, 20.0, 3.5, 10, PI), rng)["dll"]
    k, pi = DLL_NAMES.index("dll_K"), DLL_NAMES.index("dll_p")
    assert (kaons[:, k] > 0).mean() > 0.97 and (pions[:, k] < 0).mean() > 0.97
    protons = simulate_rich(*_tracks(2000, 12.0, 2.5, 10, P), rng)  # below its threshold, K above
    assert (protons["dll"][:, pi] > protons["dll"][:, k]).mean() > 0.97
    electrons = simulate_rich(*_tracks(2000, 3.5, 2.5, 10, E), rng)["dll"]
    assert (electrons[:, 0] > 0).mean() > 0.95  # e vs π at 3.5 GeV: 52.9 against 30 mrad


def test_below_threshold_hypotheses_tie_exactly() -> None:
    rng = np.random.default_rng(1)
    out = simulate_rich(*_tracks(500, 6.0, 3.0, 20, PI), rng)  # K, p below threshold in both radiators
    dll = out["dll"]
    np.testing.assert_array_equal(dll[:, 2], dll[:, 3])  # DLL_K = DLL_p
    np.testing.assert_array_equal(dll[:, 3], dll[:, 4])  # = DLL_bt
    ll = out["log_likelihood"]
    np.testing.assert_allclose(
        dll[:, 0], ll[:, HYPOTHESES.index("e")] - ll[:, HYPOTHESES.index("pi")], rtol=1e-5
    )


def test_background_grows_with_multiplicity_and_blurs_pid() -> None:
    rng = np.random.default_rng(2)
    quiet = simulate_rich(*_tracks(3000, 40.0, 3.0, 2, K), rng)
    busy = simulate_rich(*_tracks(3000, 40.0, 3.0, 80, K), rng)
    assert busy["photons"].mean(0)[0] > quiet["photons"].mean(0)[0] + 15  # + 0.25 × 78 expected in RICH1
    k = DLL_NAMES.index("dll_K")
    assert np.median(busy["dll"][:, k]) < 0.8 * np.median(quiet["dll"][:, k])


def test_photon_counts_are_poisson_around_the_yield() -> None:
    rng = np.random.default_rng(3)
    out = simulate_rich(*_tracks(4000, 100.0, 2.5, 0, PI), rng)  # RICH1 only, background b0 = 1
    counts = out["photons"][:, 0]
    expected = (
        float(expected_photons(cherenkov_angle(100.0, MASSES["pi"], RICH.rich1.n_minus_1), RICH.rich1)) + 1
    )
    assert counts.mean() == pytest.approx(expected, rel=0.03) and counts.var() == pytest.approx(
        expected, rel=0.1
    )
    assert (out["photons"][:, 1] == 0).all() and out["seen"][:, 0].all() and not out["seen"][:, 1].any()


def test_simulation_is_seeded_and_checks_input() -> None:
    args = (np.array([5.0, 50.0]), np.array([3.0, 4.0]), np.array([5, 9]), np.array([K, MU]))
    a = simulate_rich(*args, np.random.default_rng(4))["dll"]
    b = simulate_rich(*args, np.random.default_rng(4))["dll"]
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="species"):
        simulate_rich(*args[:3], np.array([0, 7]), np.random.default_rng(0))


def test_track_selection() -> None:
    parts = np.zeros(7, PARTICLE_DTYPE)
    parts["eta"] = [3.0, 3.0, 1.5, 3.0, 4.95, 3.0, 4.0]
    parts["pt"] = [1.0, 0.05, 5.0, 1.0, 1.0, 1.0, 1.0]  # p = pT cosh η: 10 GeV, 0.5 GeV (cut), …
    parts["pdgid"] = [211, -321, 2212, 22, 11, 3222, -13]
    parts["charge"] = [1, -1, 1, 0, -1, 1, 1]
    tracks, dropped = select_tracks(parts, collision=7)
    # kept: π (3.0), μ (4.0); cut: low p, η < 2, neutral; the e at η 4.95 misses the RICH but counts; Σ+ dropped
    assert [SPECIES[s] for s in tracks["species"]] == ["pi", "mu"] and dropped == 1
    assert (tracks["n_tracks"] == 4).all() and (tracks["collision"] == 7).all()
    np.testing.assert_allclose(tracks["p"], [np.cosh(3.0), np.cosh(4.0)])
    assert list(tracks["charge"]) == [1, 1]


@pytest.mark.pythia
def test_minimum_bias_tracks_have_the_natural_mix() -> None:
    pytest.importorskip("pythia8mc")
    from mlfastsim.physics.pid_tracks import generate_tracks

    batches = list(generate_tracks(600, seed=3, batch_tracks=256))
    tracks = np.concatenate([b.tracks for b in batches])
    assert len(tracks) == 600 and all(b.generation_seconds > 0 for b in batches)
    assert (tracks["p"] > 3).all() and ((tracks["eta"] > 2) & (tracks["eta"] < 4.9)).all()
    fractions = np.bincount(tracks["species"], minlength=5) / len(tracks)
    assert 0.7 < fractions[PI] < 0.9 and 0.05 < fractions[K] < 0.18 and 0.03 < fractions[P] < 0.13
    again = np.concatenate([b.tracks for b in generate_tracks(600, seed=3, batch_tracks=256)])
    np.testing.assert_array_equal(tracks, again)
