"""The MPD TPC pad-row simulation: its ingredients against their documented constants (cluster sizes, Polya
gain, ionisation per cm, diffusion, shaping), the window's placement and the ADC rules."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mlfastsim._utils import InputError
from mlfastsim.physics.detector import tpc_constants as C
from mlfastsim.physics.detector.tpc import (
    TPCConfig,
    cluster_size_pmf,
    digitise,
    polya_gain,
    sample_segments,
    simulate_windows,
    window_origin,
)

QUIET = TPCConfig(noise_adc=0.0, threshold_adc=-1.0, adc_max=1e12)  # no noise, threshold or saturation


def _segments(n: int, **fixed: float) -> np.ndarray:
    cond = sample_segments(n, np.random.default_rng(0))
    for i, name in enumerate(("crossing_angle", "dip_angle", "position", "drift_length", "row")):
        if name in fixed:
            cond[:, i] = fixed[name]
    return cond


def _moments(adc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Charge-weighted mean and variance of every window in pads and in buckets."""
    q = adc.astype(np.float64)
    total = q.sum((1, 2))
    p, t = np.arange(adc.shape[1]), np.arange(adc.shape[2])
    mp = (q.sum(2) * p).sum(1) / total
    mt = (q.sum(1) * t).sum(1) / total
    vp = (q.sum(2) * p**2).sum(1) / total - mp**2
    vt = (q.sum(1) * t**2).sum(1) / total - mt**2
    return mp, mt, vp, vt


def test_cluster_sizes_follow_the_gas_table() -> None:
    pmf = cluster_size_pmf()
    assert pmf.sum() == pytest.approx(1.0)
    table = np.asarray(C.CLUSTER_SIZE_TABLE)
    assert pmf[0] == pytest.approx(table[0] / table.sum(), rel=1e-6)  # 63 % single-electron clusters
    assert pmf[99:].sum() == pytest.approx(table[-1] / table.sum(), rel=1e-6)  # the ≥ 100 tail kept
    mean = (pmf * np.arange(1, len(pmf) + 1)).sum()
    assert mean == pytest.approx(2.63, abs=0.01)
    assert TPCConfig().clusters_per_cm == pytest.approx(25.3, abs=0.1)  # PDG: 25 per cm in argon


def test_polya_gain_has_mean_one_and_variance_one_over_one_plus_theta() -> None:
    g = polya_gain(400_000, np.random.default_rng(1), theta=1.5)
    assert g.mean() == pytest.approx(1.0, abs=0.005)
    assert g.var() == pytest.approx(1 / 2.5, rel=0.02)


def test_charge_per_cm_matches_dedx_over_w() -> None:
    # no threshold, no noise: the summed ADC is gain × electrons × (PRF integral = 1) × (Σ pulse samples)
    cfg = QUIET
    cond = _segments(1500, crossing_angle=0.0, dip_angle=0.0, drift_length=5.0, row=1)
    adc = simulate_windows(cond, np.random.default_rng(2), cfg).adc
    pulse_sum = np.sqrt(2 * np.pi) * cfg.shaping_sigma / C.TIME_BIN  # Σ_j exp(−(jΔ − t)²/2σ²) for σ ≳ Δ
    electrons = adc.sum((1, 2)) / (cfg.gain * C.ADC_PER_ELECTRON * pulse_sum)
    expected = cfg.electrons_per_cm * C.PAD_HEIGHT[1]
    assert electrons.mean() == pytest.approx(expected, rel=0.05)  # ≈ 120 electrons on a 1.8 cm row


def test_longer_paths_give_more_charge() -> None:
    rng = np.random.default_rng(3)
    flat = simulate_windows(_segments(800, crossing_angle=0.0, dip_angle=0.0, row=0), rng, QUIET).adc
    dipped = simulate_windows(_segments(800, crossing_angle=0.0, dip_angle=0.8, row=0), rng, QUIET).adc
    ratio = dipped.sum((1, 2)).mean() / flat.sum((1, 2)).mean()
    assert ratio == pytest.approx(1 / np.cos(0.8), rel=0.06)


def test_longitudinal_diffusion_widens_the_pulse() -> None:
    rng = np.random.default_rng(4)
    near, far = 10.0, 150.0
    vt = [
        _moments(simulate_windows(_segments(1000, dip_angle=0.0, drift_length=z), rng, QUIET).adc)[3].mean()
        for z in (near, far)
    ]
    bucket = C.DRIFT_VELOCITY * C.TIME_BIN
    expected = C.DIFFUSION_L**2 * (far - near) / bucket**2  # ≈ 0.47 bucket²
    assert vt[1] - vt[0] == pytest.approx(expected, rel=0.1)


def test_transverse_diffusion_widens_the_pad_spread() -> None:
    rng = np.random.default_rng(5)
    near, far = 10.0, 150.0
    cond = {z: _segments(1000, crossing_angle=0.0, drift_length=z) for z in (near, far)}
    vp = [_moments(simulate_windows(cond[z], rng, QUIET).adc)[2].mean() for z in (near, far)]
    expected = C.DIFFUSION_T**2 * (far - near) / C.PAD_WIDTH**2  # ≈ 0.19 pad²
    assert vp[1] - vp[0] == pytest.approx(expected, rel=0.1)


def test_the_window_is_centred_on_the_crossing_point() -> None:
    cond = _segments(2000)
    r = simulate_windows(cond, np.random.default_rng(6))
    assert ((r.crossing[:, 0] >= 3) & (r.crossing[:, 0] < 4)).all()
    assert ((r.crossing[:, 1] >= 7) & (r.crossing[:, 1] < 8)).all()
    # the global pad / bucket of the crossing point is offset + window coordinate
    np.testing.assert_allclose(r.pad_offset + r.crossing[:, 0], cond[:, 2] / C.PAD_WIDTH)
    np.testing.assert_allclose(r.time_offset + r.crossing[:, 1], cond[:, 3] / (C.DRIFT_VELOCITY * C.TIME_BIN))
    mp, mt, _, _ = _moments(r.adc)
    assert abs(np.mean(mp - r.crossing[:, 0])) < 0.01 and abs(np.mean(mt - r.crossing[:, 1])) < 0.02


def test_adc_rules_noise_threshold_saturation() -> None:
    adc = simulate_windows(_segments(500), np.random.default_rng(7)).adc
    assert np.array_equal(adc, np.rint(adc))
    nonzero = adc[adc > 0]
    assert nonzero.min() > C.THRESHOLD_ADC and adc.max() <= C.ADC_MAX
    big = digitise(np.full((2, 8, 16), 1e6), None)
    assert (big == C.ADC_MAX).all()
    noisy = digitise(np.full((200, 8, 16), 1000.0), np.random.default_rng(0))
    assert np.std(noisy) == pytest.approx(np.sqrt(C.NOISE_ADC**2 + 1 / 12), rel=0.03)  # noise ⊕ rounding
    assert np.mean(noisy) == pytest.approx(1000.0, abs=0.25)


def test_same_seed_same_windows_other_seed_other_windows() -> None:
    cond = _segments(50)
    a = simulate_windows(cond, np.random.default_rng(8)).adc
    b = simulate_windows(cond, np.random.default_rng(8)).adc
    c = simulate_windows(cond, np.random.default_rng(9)).adc
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # chunking changes nothing but memory
    d = simulate_windows(cond, np.random.default_rng(8), dataclasses.replace(TPCConfig(), chunk=7)).adc
    assert np.array_equal(a.sum((1, 2)) > 0, d.sum((1, 2)) > 0)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [(0, 1.4, "crossing_angle"), (1, 1.5, "dip_angle"), (3, -1.0, "drift_length"), (4, 2.0, "row")],
)
def test_bad_conditions_are_one_line_errors(column: int, value: float, message: str) -> None:
    cond = _segments(3)
    cond[1, column] = value
    with pytest.raises(InputError, match=message):
        simulate_windows(cond, np.random.default_rng(0))
    with pytest.raises(InputError, match=r"\[N, 5\]"):
        simulate_windows(cond[:, :4], np.random.default_rng(0))


def test_window_origin_of_a_known_segment() -> None:
    pad_offset, time_offset, crossing = window_origin(np.array([[0.0, 0.0, 2.6, 11.0, 0.0]]))
    # x = 2.6 cm = pad 5.2 → window starts at pad 2; z = 11 cm = 20 buckets → window starts at bucket 13
    assert pad_offset[0] == 2 and time_offset[0] == 13
    np.testing.assert_allclose(crossing[0], [3.2, 7.0], atol=1e-9)
