"""The reference NICA MPD TPC pad-row simulation: a track segment crossing one pad row → the ADC counts of the
8 pads × 16 time buckets around its expected centre (seed 004; Maevskiy et al., EPJC 81 (2021) 599).

Geometry (one row, its own frame): pads of pitch w along x (pad k centred at x = k·w), the row spans
y ∈ [−h/2, h/2] radially (h = 1.2 cm inner, 1.8 cm outer), electrons drift along z to the readout plane.
A straight segment crosses the row's centre line y = 0 at x = ``position``, a drift distance
``drift_length`` from the plane, with crossing angle φ (to the row normal, in the pad plane) and dip angle λ
(to the pad plane): x(y) = x₀ + y tan φ, z(y) = z₀ + y tan λ / cos φ.

Steps, each vectorised over segments and electrons (constants and sources in :mod:`.tpc_constants`):

1. *Primary ionisation*: Poisson clusters along the 3D path through the row and a margin on either side
   (charge from outside the row still induces on it), density n_P = ⟨n_T⟩ / ⟨cluster size⟩ with
   ⟨n_T⟩ = (dE/dx)_MIP / W; cluster sizes from the Heed table of MpdRoot's gas file with a 1/n² tail.
2. *Drift*: each electron diffused by σ_T = D_T √z across and σ_L = D_L √z along the drift.
3. *Gas gain*: per electron G·λ, λ Polya (Gamma of shape 1 + θ, mean 1).
4. *Pad response*: the Gaussian induced-charge spread integrated over every pad in x and over the row's
   height in y.
5. *Shaping*: a peak-normalised Gaussian pulse (FWHM 190 ns) sampled every 100 ns; bucket j samples at
   t = j·100 ns, so the charge-weighted bucket estimates the arrival time without bias.
6. *Digitisation*: Gaussian noise per sample, rounding, 12-bit saturation at 4095 and zero suppression
   (samples ≤ 30 ADC set to 0).

The window starts :data:`PAD_BEFORE` pads before the crossing pad and :data:`TIME_BEFORE` buckets before the
crossing bucket; the true crossing point is returned in window coordinates (pads, buckets).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import erf

from mlfastsim._utils import InputError
from mlfastsim.physics.detector import tpc_constants as C

__all__ = [
    "CONDITIONS",
    "TPCConfig",
    "TPCResponse",
    "check_conditions",
    "cluster_size_pmf",
    "digitise",
    "polya_gain",
    "sample_segments",
    "simulate_windows",
    "window_origin",
]

#: Columns of a segment's conditions ``[N, 5]``: crossing angle φ [rad], dip angle λ [rad], position along the
#: row x₀ [cm], drift distance z₀ [cm] and row type (0 inner, 1 outer).
CONDITIONS = ("crossing_angle", "dip_angle", "position", "drift_length", "row")
_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class TPCConfig:
    """Settings of the pad-row simulation; every default is a constant of :mod:`.tpc_constants`.

    Attributes (units): gain [e⁻], polya_theta, prf_sigma [cm], diffusion_t / diffusion_l [cm/√cm],
    drift_velocity [cm/ns], shaping_sigma [ns], noise_adc, threshold_adc and adc_max [ADC counts],
    w_ev [eV], dedx_kev_per_cm [keV/cm], cluster_tail_max [e⁻]; chunk: segments simulated at once (memory).
    """

    gain: float = C.GAIN
    polya_theta: float = C.POLYA_THETA
    prf_sigma: float = C.PRF_SIGMA
    diffusion_t: float = C.DIFFUSION_T
    diffusion_l: float = C.DIFFUSION_L
    drift_velocity: float = C.DRIFT_VELOCITY
    shaping_sigma: float = C.SHAPING_SIGMA
    noise_adc: float = C.NOISE_ADC
    threshold_adc: float = C.THRESHOLD_ADC
    adc_max: float = C.ADC_MAX
    w_ev: float = C.W_EV
    dedx_kev_per_cm: float = C.DEDX_MIP_KEV_PER_CM
    cluster_tail_max: int = C.CLUSTER_TAIL_MAX
    chunk: int = 512

    @property
    def electrons_per_cm(self) -> float:
        """⟨n_T⟩ = dE/dx / W, mean ionisation electrons per cm of path [1/cm]."""
        return 1e3 * self.dedx_kev_per_cm / self.w_ev

    @property
    def clusters_per_cm(self) -> float:
        """n_P = ⟨n_T⟩ / ⟨cluster size⟩, mean primary clusters per cm [1/cm]."""
        pmf = cluster_size_pmf(self.cluster_tail_max)
        return self.electrons_per_cm / float((pmf * np.arange(1, len(pmf) + 1)).sum())

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


@dataclass
class TPCResponse:
    """Windows of N segments: ``adc`` float32 ``[N, 8, 16]`` (integer ADC counts, pads × buckets),
    ``pad_offset`` / ``time_offset`` int64 ``[N]`` (the row's pad and bucket of window cell (0, 0)), and
    ``crossing`` float64 ``[N, 2]`` the true crossing point in window coordinates (pads, buckets)."""

    adc: np.ndarray
    pad_offset: np.ndarray
    time_offset: np.ndarray
    crossing: np.ndarray


def cluster_size_pmf(tail_max: int = C.CLUSTER_TAIL_MAX) -> np.ndarray:
    """Probabilities of primary clusters of 1 … ``tail_max`` electrons, float64 ``[tail_max]``.

    Sizes 1–99 from the gas table (:data:`~.tpc_constants.CLUSTER_SIZE_TABLE`); its last entry (≥ 100
    electrons) spread over 100 … ``tail_max`` as 1/n² (``tail_max`` < 100 drops it).
    """
    table = np.asarray(C.CLUSTER_SIZE_TABLE, dtype=np.float64)
    head = table[:-1]
    if tail_max < 100:
        pmf = head[:tail_max]
    else:
        n = np.arange(100, tail_max + 1, dtype=np.float64)
        pmf = np.concatenate([head, table[-1] * (1.0 / n**2) / (1.0 / n**2).sum()])
    return pmf / pmf.sum()


def polya_gain(n: int, rng: np.random.Generator, theta: float = C.POLYA_THETA) -> np.ndarray:
    """``n`` relative avalanche gains λ (mean 1, variance 1 / (1 + θ)): density ∝ λ^θ e^{−(1+θ)λ}."""
    return rng.gamma(1.0 + theta, 1.0 / (1.0 + theta), n)


def check_conditions(conditions: np.ndarray) -> np.ndarray:
    """Conditions as float64 ``[N, 5]`` (:data:`CONDITIONS`); one-line InputError when out of range."""
    cond = np.asarray(conditions, dtype=np.float64)
    if cond.ndim != 2 or cond.shape[1] != len(CONDITIONS):
        raise InputError(f"TPC conditions must be [N, 5] ({', '.join(CONDITIONS)}), got {list(cond.shape)}")
    if not np.isfinite(cond).all():
        raise InputError("TPC conditions hold NaN or infinite values; give finite segment parameters")
    checks = (
        (np.abs(cond[:, 0]) <= 1.0, "crossing_angle must be within ±1 rad"),
        (np.abs(cond[:, 1]) <= 1.3, "dip_angle must be within ±1.3 rad"),
        ((cond[:, 3] > 0) & (cond[:, 3] <= 170.0), "drift_length must be in (0, 170] cm"),
        (np.isin(cond[:, 4], (0.0, 1.0)), "row must be 0 (inner) or 1 (outer)"),
    )
    for ok, message in checks:
        if not ok.all():
            raise InputError(f"TPC conditions: {message} (segment {int(np.argmin(ok))})")
    return cond


def sample_segments(n: int, rng: np.random.Generator, row: int | None = None) -> np.ndarray:
    """``n`` segments with uniform parameters: φ in ±0.6 rad, λ in ±1 rad, x₀ along a 20 cm stretch of row,
    z₀ in [2, 160] cm, inner and outer rows equally often (or only ``row``). Returns float64 ``[n, 5]``."""
    cond = np.empty((n, len(CONDITIONS)))
    cond[:, 0] = rng.uniform(-C.CROSSING_ANGLE_MAX, C.CROSSING_ANGLE_MAX, n)
    cond[:, 1] = rng.uniform(-C.DIP_ANGLE_MAX, C.DIP_ANGLE_MAX, n)
    cond[:, 2] = rng.uniform(0.0, C.ROW_LENGTH, n)
    cond[:, 3] = rng.uniform(C.DRIFT_MIN, C.DRIFT_MAX, n)
    cond[:, 4] = rng.integers(0, 2, n) if row is None else row
    return cond


def window_origin(
    conditions: np.ndarray, config: TPCConfig | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The window of each segment: pad and bucket offsets (int64 ``[N]``) and the true crossing point in
    window coordinates (float64 ``[N, 2]``: pad in [3, 4), bucket in [7, 8))."""
    cfg = config or TPCConfig()
    cond = np.asarray(conditions, dtype=np.float64)
    pad = cond[:, 2] / C.PAD_WIDTH
    bucket = cond[:, 3] / (cfg.drift_velocity * C.TIME_BIN)
    pad_offset = np.floor(pad).astype(np.int64) - C.PAD_BEFORE
    time_offset = np.floor(bucket).astype(np.int64) - C.TIME_BEFORE
    return pad_offset, time_offset, np.stack([pad - pad_offset, bucket - time_offset], axis=1)


def digitise(
    signal: np.ndarray, rng: np.random.Generator | None, config: TPCConfig | None = None
) -> np.ndarray:
    """ADC counts from a noiseless signal [ADC]: noise (if ``rng``), rounding, saturation, zero suppression.

    Returns float32 of ``signal``'s shape holding integers in {0} ∪ (threshold, adc_max].
    """
    cfg = config or TPCConfig()
    x = np.asarray(signal, dtype=np.float64)
    if rng is not None and cfg.noise_adc > 0:
        x = x + rng.normal(0.0, cfg.noise_adc, x.shape)
    adc = np.clip(np.rint(x), 0.0, cfg.adc_max)
    adc[adc <= cfg.threshold_adc] = 0.0
    return adc.astype(np.float32)


def _signal(cond: np.ndarray, crossing: np.ndarray, rng: np.random.Generator, cfg: TPCConfig) -> np.ndarray:
    """Noiseless shaped signal [ADC counts] of the windows of ``cond``'s segments, float64 ``[S, 8, 16]``."""
    n_seg = len(cond)
    phi, lam, z0 = cond[:, 0], cond[:, 1], cond[:, 3]
    h = np.asarray(C.PAD_HEIGHT)[cond[:, 4].astype(np.int64)]
    # charge up to 3 σ beyond the row's edges (PRF ⊕ transverse diffusion) still induces on it
    margin = 3.0 * np.sqrt(cfg.prf_sigma**2 + cfg.diffusion_t**2 * (z0 + 2.0))
    span = h + 2.0 * margin
    path = span / (np.cos(phi) * np.cos(lam))
    n_cl = rng.poisson(cfg.clusters_per_cm * path)
    seg = np.repeat(np.arange(n_seg), n_cl)
    y = (rng.random(len(seg)) - 0.5) * span[seg]
    z = z0[seg] + y * np.tan(lam[seg]) / np.cos(phi[seg])
    inside = z > 0.0  # clusters beyond the readout plane are outside the gas
    seg, y, z = seg[inside], y[inside], z[inside]
    pmf = cluster_size_pmf(cfg.cluster_tail_max)
    sizes = np.searchsorted(np.cumsum(pmf), rng.random(len(seg)) * (1.0 - 1e-12)) + 1
    cl = np.repeat(np.arange(len(seg)), sizes)
    seg_e, sqrt_z = seg[cl], np.sqrt(z[cl])
    n_e = len(cl)
    dx = rng.normal(0.0, 1.0, n_e) * cfg.diffusion_t * sqrt_z
    y_e = y[cl] + rng.normal(0.0, 1.0, n_e) * cfg.diffusion_t * sqrt_z
    z_e = z[cl] + rng.normal(0.0, 1.0, n_e) * cfg.diffusion_l * sqrt_z
    charge = cfg.gain * polya_gain(n_e, rng, cfg.polya_theta) * C.ADC_PER_ELECTRON
    s = _SQRT2 * cfg.prf_sigma
    charge *= 0.5 * (erf((h[seg_e] / 2 - y_e) / s) - erf((-h[seg_e] / 2 - y_e) / s))
    # window coordinates of every electron: pads (centres at 0 … 7) and buckets (samples at 0 … 15); the
    # pad response and pulse shapes in float32 (their cost dominates; 10⁻⁷ relative precision is plenty)
    u = (crossing[seg_e, 0] + (y[cl] * np.tan(phi[seg_e]) + dx) / C.PAD_WIDTH).astype(np.float32)
    t = (crossing[seg_e, 1] + (z_e - z0[seg_e]) / (cfg.drift_velocity * C.TIME_BIN)).astype(np.float32)
    edges = np.arange(C.N_PADS + 1, dtype=np.float32) - np.float32(0.5)
    cdf = erf((edges[None, :] - u[:, None]) * np.float32(C.PAD_WIDTH / s))
    pads = np.float32(0.5) * np.diff(cdf, axis=1) * charge.astype(np.float32)[:, None]  # [n_e, 8]
    k = np.float32(C.TIME_BIN / (_SQRT2 * cfg.shaping_sigma))
    pulse = np.exp(-(((np.arange(C.N_TIME, dtype=np.float32)[None, :] - t[:, None]) * k) ** 2))  # [n_e, 16]
    owner = sparse.csr_matrix((np.ones(n_e, np.float32), (seg_e, np.arange(n_e))), shape=(n_seg, n_e))
    out = np.empty((n_seg, C.N_PADS, C.N_TIME))
    for p in range(C.N_PADS):
        out[:, p, :] = owner @ (pads[:, p : p + 1] * pulse)
    return out


def simulate_windows(
    conditions: np.ndarray, rng: np.random.Generator, config: TPCConfig | None = None
) -> TPCResponse:
    """Simulate the 8 × 16 window of every segment (module docstring).

    Args:
        conditions: float ``[N, 5]`` segment parameters (:data:`CONDITIONS`; :func:`check_conditions`).
        rng: the random stream (the same conditions with another stream: the resimulation floor).
        config: simulation settings (defaults: the documented MPD values).

    Returns:
        :class:`TPCResponse` (ADC counts ``[N, 8, 16]``, window offsets, true crossing point).
    """
    cfg = config or TPCConfig()
    cond = check_conditions(conditions)
    pad_offset, time_offset, crossing = window_origin(cond, cfg)
    adc = np.zeros((len(cond), C.N_PADS, C.N_TIME), np.float32)
    for start in range(0, len(cond), max(cfg.chunk, 1)):
        sl = slice(start, start + max(cfg.chunk, 1))
        adc[sl] = digitise(_signal(cond[sl], crossing[sl], rng, cfg), rng, cfg)
    return TPCResponse(adc, pad_offset, time_offset, crossing)
