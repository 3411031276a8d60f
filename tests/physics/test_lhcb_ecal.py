"""The LHCb-like Shashlik ECAL reference simulation: effective medium, GFlash sampling profiles, resolution,
containment, inclined incidence, the particle gun and the window frame. Each test fails when its physics is
dropped (checked by breaking the code)."""

from __future__ import annotations

import numpy as np
import pytest

from mlfastsim.data.kinds.showers.observables import incidence_observables
from mlfastsim.physics.detector.lhcb_ecal import (
    SHASHLIK,
    ShowerConfig,
    inner_face_particles,
    sampling_longitudinal,
    sampling_radial,
    shashlik,
    simulate_showers,
    spot_count,
    window_frame,
)
from mlfastsim.physics.detector.lhcb_ecal_constants import (
    ECAL_FACE_Z_MM,
    INNER_HOLE_MM,
    INNER_OUTER_X_MM,
    INNER_OUTER_Y_MM,
)

_CLEAN = ShowerConfig(noise=0.0, threshold=0.0, constant=0.0)
_CENTRES = (np.arange(30) - 14.5) * 20.0


def _showers(
    energy: float, slope: float, pdg: int, n: int, seed: int, config: ShowerConfig = _CLEAN
) -> np.ndarray:
    norm = np.sqrt(1 + slope**2)
    p = np.tile([energy * slope / norm, 0.0, energy / norm], (n, 1))
    return simulate_showers(np.zeros((n, 2)), p, np.full(n, pdg), np.random.default_rng(seed), config).astype(
        float
    )


def test_effective_medium_follows_the_mixture_rules() -> None:
    # 2 mm Pb + 4 mm polystyrene: PDG mixture rules in g/cm², lengths over the mean density
    assert SHASHLIK.rm_mm == pytest.approx(35.8, abs=0.2)  # LHCb's quoted R_M ≈ 3.5 cm
    assert SHASHLIK.x0_mm == pytest.approx(16.4, abs=0.1)
    assert SHASHLIK.depth_x0 == pytest.approx(24.2, abs=0.1)  # quoted 25 X0
    assert SHASHLIK.z_eff == pytest.approx(70.0, abs=0.1)
    assert SHASHLIK.fs == pytest.approx(2.73, abs=0.01)
    assert SHASHLIK.ehat == pytest.approx(0.652, abs=0.001)
    assert SHASHLIK.ec_gev == pytest.approx(0.0097, abs=0.0001)
    thicker = shashlik(d_abs_mm=4.0)
    assert thicker.x0_mm < SHASHLIK.x0_mm and thicker.rm_mm < SHASHLIK.rm_mm


def test_longitudinal_profile_grows_logarithmically() -> None:
    rng = np.random.default_rng(0)
    t_max, alpha = sampling_longitudinal(np.repeat([1.0, 10.0, 100.0], 4000), rng)
    t_mean = t_max.reshape(3, -1).mean(1)
    # T ≈ ln(E/E_c) − 0.812 − 0.55/F_s − 0.69 (1 − ê): one ln 10 per decade
    assert np.diff(t_mean) == pytest.approx([np.log(10)] * 2, abs=0.15)
    assert t_mean[1] == pytest.approx(
        np.log(10 / SHASHLIK.ec_gev) - 0.812 - 0.55 / SHASHLIK.fs - 0.24, abs=0.2
    )
    assert (alpha >= 1.1).all() and (np.diff(alpha.reshape(3, -1).mean(1)) > 0).all()


def test_radial_profile_widens_with_depth() -> None:
    tau = np.array([0.2, 1.0, 2.5], np.float32)
    r_core, r_tail, p_core = sampling_radial(np.full(3, np.log(10.0)), tau)
    assert (
        (np.diff(r_core) > 0).all() and (np.diff(p_core) < 0).all() and ((p_core >= 0) & (p_core <= 1)).all()
    )
    # GFlash's tail radius is wide early (the e^(−2.59(τ − 0.645)) term), narrowest near the maximum
    assert (r_tail > r_core).all() and r_tail[1] < r_tail[0] and r_tail[1] < r_tail[2]
    assert r_core[1] == pytest.approx(0.120, abs=0.003) and r_tail[1] == pytest.approx(0.582, abs=0.005)


def test_resolution_and_containment_at_normal_incidence() -> None:
    img = _showers(20.0, 0.0, 11, 300, seed=1)
    total = img.sum((1, 2))
    assert total.mean() / 20.0 == pytest.approx(0.993, abs=0.006)  # a little leaks out of 24 X0 and 5 R_M
    assert total.std() / total.mean() == pytest.approx(
        0.10 / np.sqrt(20.0), rel=0.15
    )  # 10 %/√E sampling term
    central = img[:, 14:16, 14:16].sum((1, 2)) / total  # ±20 mm ≈ ±0.56 R_M around the entry point
    assert central.mean() == pytest.approx(0.85, abs=0.03)
    assert (img[:, 13:17, 13:17].sum((1, 2)) / total).mean() > 0.92  # PDG: ≈ 90 % within 1 R_M


def test_inclined_showers_are_shifted_stretched_and_asymmetric() -> None:
    straight, tilted = _showers(20.0, 0.0, 11, 200, seed=2), _showers(20.0, 0.3, 11, 200, seed=3)
    shift = [(img.sum(1) @ _CENTRES / img.sum((1, 2))).mean() for img in (straight, tilted)]
    assert shift[0] == pytest.approx(0.0, abs=1.0)
    # the centroid sits at ⟨t⟩ X0 sin θ downstream: ⟨t⟩ ≈ 8 X0 at 20 GeV, sin θ = 0.29 → ≈ 39 mm
    assert shift[1] == pytest.approx(39.0, abs=4.0)
    p = np.tile([0.3, 0.0, 1.0], (200, 1))
    obs_s, obs_t = incidence_observables(straight, p), incidence_observables(tilted, p)
    assert obs_t["width_long"].mean() > obs_t["width_trans"].mean() + 4.0
    assert obs_s["width_long"].mean() == pytest.approx(obs_s["width_trans"].mean(), abs=1.0)
    assert obs_t["asymmetry"].mean() > 0.9 and abs(obs_s["asymmetry"].mean()) < 0.1


def test_photons_start_showering_later() -> None:
    shift = {}
    for pdg in (22, 11):
        img = _showers(20.0, 0.3, pdg, 300, seed=4)
        shift[pdg] = (img.sum(1) @ _CENTRES / img.sum((1, 2))).mean()
    # a photon converts after 9/7 X0 on average: 1.29 × 16.4 mm × sin θ ≈ 6 mm further along x
    assert shift[22] - shift[11] == pytest.approx(6.0, abs=2.5)


def test_noise_threshold_and_seeds() -> None:
    cfg = ShowerConfig()
    a = _showers(5.0, 0.05, 22, 20, seed=5, config=cfg)
    b = _showers(5.0, 0.05, 22, 20, seed=5, config=cfg)
    c = _showers(5.0, 0.05, 22, 20, seed=6, config=cfg)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert ((a == 0) | (a >= cfg.threshold)).all()
    assert 5 < (a > 0).sum((1, 2)).mean() < 200


def test_spot_count_follows_gflash_sampling() -> None:
    n = spot_count(np.array([1.0, 10.0, 100.0]))
    assert n[1] / n[0] == pytest.approx(10**0.959, rel=0.05) and n[2] == pytest.approx(
        0.5 * 103 * 100**0.959, rel=0.01
    )


def test_bad_input_is_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="pz > 0"):
        simulate_showers(np.zeros((1, 2)), np.array([[0.0, 0.0, -1.0]]), np.array([22]), rng)
    with pytest.raises(ValueError, match="momentum"):
        simulate_showers(np.zeros((2, 2)), np.zeros((2, 2)), np.array([22, 22]), rng)


def test_particle_gun_covers_the_inner_region_from_the_vertex() -> None:
    gun = inner_face_particles(4000, np.random.default_rng(7))
    x, y = gun.face_xy.T
    assert (np.abs(x) <= INNER_OUTER_X_MM).all() and (np.abs(y) <= INNER_OUTER_Y_MM).all()
    assert (np.maximum(np.abs(x), np.abs(y)) > INNER_HOLE_MM).all()
    e = np.linalg.norm(gun.momentum, axis=1)
    assert e.min() >= 2.0 and e.max() <= 100.0
    assert np.median(e) == pytest.approx(np.sqrt(200.0), rel=0.1)  # flat in ln E on [2, 100]
    photon = gun.pdg == 22
    assert set(np.unique(gun.pdg)) == {-11, 11, 22} and photon.mean() == pytest.approx(0.5, abs=0.01)
    tx = gun.momentum[:, 0] / gun.momentum[:, 2]
    # photons point back to the vertex (σ_z = 50 mm), electrons are bent in x by ±1.2 GeV / p
    assert tx[photon] == pytest.approx(x[photon] / ECAL_FACE_Z_MM, abs=1.5e-3)
    kink = np.abs(tx - x / ECAL_FACE_Z_MM)[~photon] * e[~photon]
    assert np.median(kink) == pytest.approx(
        1.2 * 5.3 / 12.49, rel=0.05
    )  # slope at the face − x/z = Δ z_m / z
    ty = gun.momentum[:, 1] / gun.momentum[:, 2]
    assert ty == pytest.approx(y / ECAL_FACE_Z_MM, abs=1.5e-3)


def test_window_frame_is_the_cell_grid() -> None:
    origin, local = window_frame(np.array([[0.0, 9.99], [10.0, -10.0], [-333.3, 451.2]]))
    assert np.allclose(origin % 20.0, 0.0) and ((local >= -10.0) & (local < 10.0)).all()
    assert np.allclose(origin + local, [[0.0, 9.99], [10.0, -10.0], [-333.3, 451.2]])
    assert np.allclose(window_frame(local)[1], local)  # a window-frame point maps onto itself
