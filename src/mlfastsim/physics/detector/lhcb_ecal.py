"""LHCb-like Shashlik ECAL: GFlash showers of a sampling calorimeter, integrated along the inclined incidence
axis onto seed 004's 30 × 30 grid of 20 mm cells, with sampling fluctuations, resolution, noise, zero suppression.

Model (PHYSICS.md §4, §7; Grindhammer & Peters, hep-ex/0001020; Geant4 ``GFlashSamplingShowerParameterisation``
and ``GFlashSamplingShowerTuning.hh``, key G4):

* the lead/scintillator stack as one effective medium (:func:`shashlik`): Z_eff, X0, R_M and E_c by the PDG
  mixture rules in g/cm² (R_M = 3.6 cm, X0 = 16.4 mm; the G4 code's R_M formula mixes lengths and gives 1.8 cm),
  sampling frequency F_s = X0 / (d_Pb + d_sc) and ê = 1 / (1 + 0.007 (Z_Pb − Z_sc));
* longitudinal profile: Gamma in t [X0] with correlated log-normal T, α of the *sampling* tuning
  (:func:`sampling_longitudinal`); photons first convert after an exponential depth of mean 9/7 X0;
* spots: N ∝ 10.3/a · E^0.959 drawn from the spot profile (T·(0.813 + 0.0019 Z), α·(0.844 + 0.0026 Z)), each
  weighted by energy profile / spot profile so the energy follows the Gamma profile exactly; radial offsets
  from the two-component profile (R_C, R_T, p) of the homogeneous fit plus the sampling corrections
  (:func:`sampling_radial`), sampled with :func:`~mlfastsim.physics.detector.ecal.lateral_offsets`;
* inclined incidence: every spot sits at depth s = t·X0 *along the particle direction* and is displaced in
  the plane perpendicular to it; its cell is that of its (x, y) — the Shashlik fibres run along z — so a
  tilted shower is stretched and skewed downstream; spots behind the 396 mm stack leak out;
* sampling fluctuations: each spot's visible energy is Gamma with variance a²·e (so σ/E = a/√E and every
  cell fluctuates as a/√E_cell); a per-shower calibration spread b; Gaussian noise per cell; zero suppression.

Everything is vectorised over all spots of a chunk of showers. The particles sent into the inner region
(:func:`inner_face_particles`) are made in :mod:`.lhcb_ecal_particles` (re-exported here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlfastsim.physics.detector.ecal import lateral_offsets
from mlfastsim.physics.detector.lhcb_ecal_constants import (
    CELL_MM,
    GRID,
    LAYERS,
    LEAD,
    LEAD_MM,
    NOISE_GEV,
    PHOTON_FREE_PATH_X0,
    RADIUS_MAX_RM,
    SAMPLING_CONSTANT,
    SAMPLING_STOCHASTIC,
    SCINT_MM,
    SCINTILLATOR,
    SPOT_FRACTION,
    SPOTS_MAX,
    SPOTS_MIN,
    THRESHOLD_GEV,
)
from mlfastsim.physics.detector.lhcb_ecal_particles import InnerFaceParticles, inner_face_particles

__all__ = [
    "SHASHLIK",
    "InnerFaceParticles",
    "SamplingCalorimeter",
    "ShowerConfig",
    "inner_face_particles",
    "sampling_longitudinal",
    "sampling_radial",
    "shashlik",
    "shower_axes",
    "simulate_showers",
    "spot_count",
    "window_frame",
]

_ES_GEV = 0.0212  # scale energy E_s = 21.2 MeV of the Molière radius (PDG34)
_SPOTS_PER_CHUNK = 2_000_000  # bounds memory: ≈ 100 MB of per-spot arrays


@dataclass(frozen=True)
class SamplingCalorimeter:
    """The effective medium of a sampling calorimeter (GFlash's parameters of it).

    Attributes:
        z_eff: mass-weighted Z. x0_mm, rm_mm: radiation length and Molière radius [mm]. ec_gev: critical
        energy [GeV]. fs: sampling frequency X0 / (d_abs + d_act). ehat: ê = 1 / (1 + 0.007 (Z_abs − Z_act)).
        depth_mm: thickness of the stack along z [mm].
    """

    z_eff: float
    x0_mm: float
    rm_mm: float
    ec_gev: float
    fs: float
    ehat: float
    depth_mm: float

    @property
    def depth_x0(self) -> float:
        """Depth in radiation lengths at normal incidence."""
        return self.depth_mm / self.x0_mm


def shashlik(
    absorber: dict[str, float] = LEAD,
    active: dict[str, float] = SCINTILLATOR,
    d_abs_mm: float = LEAD_MM,
    d_act_mm: float = SCINT_MM,
    layers: int = LAYERS,
) -> SamplingCalorimeter:
    """Effective GFlash parameters of ``layers`` × (absorber ``d_abs_mm`` + active ``d_act_mm``).

    Mass fractions w_i = d_i ρ_i / Σ d ρ; Z_eff = Σ w_i Z_i; 1/X0 = Σ w_i / X0_i and 1/R_M = Σ w_i / R_M,i
    in g/cm² (PDG34 mixture rule), R_M,i = E_s X0_i / E_c,i; E_c = E_s X0 / R_M; lengths = (g/cm²) / ρ_eff.
    """
    mass = np.array([d_abs_mm * absorber["density"], d_act_mm * active["density"]])
    w = mass / mass.sum()
    rho = mass.sum() / (d_abs_mm + d_act_mm)
    mats = (absorber, active)
    x0 = 1.0 / sum(wi / m["x0"] for wi, m in zip(w, mats, strict=True))
    rm = 1.0 / sum(wi * m["ec"] / (_ES_GEV * m["x0"]) for wi, m in zip(w, mats, strict=True))
    x0_mm, rm_mm = 10.0 * x0 / rho, 10.0 * rm / rho
    return SamplingCalorimeter(
        z_eff=float(w[0] * absorber["Z"] + w[1] * active["Z"]),
        x0_mm=float(x0_mm),
        rm_mm=float(rm_mm),
        ec_gev=float(_ES_GEV * x0 / rm),
        fs=float(x0_mm / (d_abs_mm + d_act_mm)),
        ehat=1.0 / (1.0 + 0.007 * (absorber["Z"] - active["Z"])),
        depth_mm=layers * (d_abs_mm + d_act_mm),
    )


#: The LHCb-like Shashlik stack: Z_eff ≈ 70.0, X0 ≈ 16.4 mm, R_M ≈ 35.8 mm, E_c ≈ 9.7 MeV, F_s ≈ 2.73,
#: ê ≈ 0.65, 396 mm ≈ 24.2 X0 (d).
SHASHLIK = shashlik()


@dataclass(frozen=True)
class ShowerConfig:
    """Readout and sampling settings of :func:`simulate_showers` (defaults: :mod:`.lhcb_ecal_constants`).

    Attributes:
        stochastic, constant: σ/E = a/√E ⊕ b. noise: Gaussian noise per cell [GeV]; threshold: zero
        suppression [GeV] (≤ 0: off). grid, cell_mm: the response window. spot_fraction, spots_min,
        spots_max: spot count (granularity only). radius_max_rm: radial truncation [R_M].
    """

    stochastic: float = SAMPLING_STOCHASTIC
    constant: float = SAMPLING_CONSTANT
    noise: float = NOISE_GEV
    threshold: float = THRESHOLD_GEV
    grid: int = GRID
    cell_mm: float = CELL_MM
    spot_fraction: float = SPOT_FRACTION
    spots_min: int = SPOTS_MIN
    spots_max: int = SPOTS_MAX
    radius_max_rm: float = RADIUS_MAX_RM


def _ln_y(energy: ArrayLike, calo: SamplingCalorimeter) -> NDArray[np.float64]:
    """ln(E / E_c), floored at 2.5 (E ≳ 0.12 GeV) so that the σ formulas stay positive."""
    return np.log(np.maximum(np.asarray(energy, dtype=np.float64) / calo.ec_gev, math.exp(2.5)))


def sampling_longitudinal(
    energy: ArrayLike, rng: np.random.Generator, calo: SamplingCalorimeter = SHASHLIK
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Fluctuated Gamma-profile parameters (T [X0], α) ``[n]`` of showers of ``energy [n]`` [GeV] (G4 tuning).

    ⟨ln T⟩ = ln(T_hom + t1/F_s + t2 (1 − ê)), T_hom = ln y − 0.812 (t1 = −0.55, t2 = −0.69);
    ⟨ln α⟩ = ln(α_hom − 0.476/F_s), α_hom = 0.81 + (0.458 + 2.26/Z) ln y; σ(ln T) = 1/(−2.5 + 1.25 ln y),
    σ(ln α) = 1/(−0.82 + 0.79 ln y), both capped at 0.5 as G4 does; ρ = 0.784 − 0.023 ln y; the correlated
    draw of PHYSICS.md §4; T ≥ 1, α ≥ 1.1 (G4).
    """
    lny = _ln_y(energy, calo)
    t_hom = np.maximum(lny - 0.812, 0.1)
    a_hom = np.maximum(0.81 + (0.458 + 2.26 / calo.z_eff) * lny, 0.1)
    mu_t = np.log(np.maximum(t_hom - 0.55 / calo.fs - 0.69 * (1 - calo.ehat), math.exp(0.1)))
    mu_a = np.log(np.maximum(a_hom - 0.476 / calo.fs, math.exp(0.1)))
    sig_t = np.minimum(0.5, 1.0 / (-2.5 + 1.25 * lny))
    sig_a = np.minimum(0.5, 1.0 / (-0.82 + 0.79 * lny))
    rho = 0.784 - 0.023 * lny
    z1, z2 = rng.standard_normal((2, lny.size)).reshape((2, *lny.shape))
    common, diff = np.sqrt((1 + rho) / 2) * z1, np.sqrt((1 - rho) / 2) * z2
    t_max = np.maximum(np.exp(mu_t + sig_t * (common + diff)), 1.0)
    alpha = np.maximum(np.exp(mu_a + sig_a * (common - diff)), 1.1)
    return t_max, alpha


def sampling_radial(
    log_energy: ArrayLike, tau: ArrayLike, calo: SamplingCalorimeter = SHASHLIK
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """(R_C, R_T [R_M], p) of the radial profile at shower age τ = t/T ``[m]`` (ln E [GeV] ``[m]``).

    Homogeneous fit of PHYSICS.md §4 with Z_eff, plus the G4 sampling corrections:
    R_C += −0.0203 (1 − ê) + 0.0397/F_s e^−τ; R_T += −0.14 (1 − ê) − 0.495/F_s e^−τ;
    p += (1 − ê)(0.348 − 0.642/F_s e^−(τ−1)²); p clipped to [0, 1], radii to ≥ 0.01 R_M.
    """
    f32 = np.float32
    log_e = np.asarray(log_energy, dtype=np.float32)
    tau = np.asarray(tau, dtype=np.float32)
    z, fs, one_e = calo.z_eff, calo.fs, 1.0 - calo.ehat
    decay = np.exp(-tau)
    r_core = (f32(0.0251) + f32(0.00319) * log_e) + f32(0.1162 - 0.000381 * z) * tau
    r_core += f32(-0.0203 * one_e) + f32(0.0397 / fs) * decay
    k4 = f32(0.3585) + f32(0.0421) * log_e
    r_tail = f32(0.659 - 0.00309 * z) * (
        np.exp(f32(-2.59) * (tau - f32(0.645))) + np.exp(k4 * (tau - f32(0.645)))
    )
    r_tail += f32(-0.14 * one_e) + f32(-0.495 / fs) * decay
    x = (f32(0.401 + 0.00187 * z) - tau) / (f32(1.313) - f32(0.0686) * log_e)
    p_core = f32(2.632 - 0.00094 * z) * np.exp(x - np.exp(x))
    p_core += f32(one_e) * (f32(0.348) - f32(0.642 / fs) * np.exp(-np.square(tau - f32(1.0))))
    return np.maximum(r_core, f32(0.01)), np.maximum(r_tail, f32(0.01)), np.clip(p_core, f32(0.0), f32(1.0))


def spot_count(energy: ArrayLike, config: ShowerConfig = ShowerConfig()) -> NDArray[np.int64]:
    """Spots per shower ``[n]``: clip(fraction · 10.3/a · E^0.959, min, max) (G4 sampling tuning)."""
    e = np.asarray(energy, dtype=np.float64)
    n = config.spot_fraction * 10.3 / config.stochastic * e**0.959
    return np.clip(np.ceil(n), config.spots_min, config.spots_max).astype(np.int64)


def window_frame(
    face_xy: ArrayLike, cell_mm: float = CELL_MM
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The response window of entry points ``face_xy [n, 2]`` (mm on the ECAL face): its centre, the node of
    the global ``cell_mm`` grid nearest the entry point, ``[n, 2]``, and the entry point relative to it,
    ``[n, 2]`` in [−cell/2, cell/2) — so the window's cells are the calorimeter's (a real cell boundary
    through the centre), and the model sees where in the cell the particle enters."""
    xy = np.asarray(face_xy, dtype=np.float64)
    origin = cell_mm * np.floor(xy / cell_mm + 0.5)
    return origin, xy - origin


def shower_axes(momentum: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Unit direction u ``[n, 3]`` of ``momentum [n, 3]`` and two unit vectors e1, e2 ⟂ u (e1 in the x–z plane)."""
    p = np.asarray(momentum, dtype=np.float64)
    u = p / np.linalg.norm(p, axis=1, keepdims=True)
    e1 = np.stack([u[:, 2], np.zeros(len(u)), -u[:, 0]], axis=1)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    return u, e1, np.cross(u, e1)


def simulate_showers(
    point: ArrayLike,
    momentum: ArrayLike,
    pdg: ArrayLike,
    rng: np.random.Generator,
    config: ShowerConfig = ShowerConfig(),
    calo: SamplingCalorimeter = SHASHLIK,
) -> NDArray[np.float32]:
    """Energy maps ``[n, G, G]`` [GeV] (rows y, columns x) of photons / electrons entering the ECAL.

    Args:
        point: ``[n, ≥2]`` entry points (x, y) [mm] relative to the window centre (:func:`window_frame`); a
            third column (z) is ignored: every particle enters at the front face.
        momentum: ``[n, 3]`` (px, py, pz) [GeV], pz > 0; E = |p| (massless).
        pdg: ``[n]`` PDG ids: 22 showers after an exponential conversion depth, ±11 at once.
        rng: the random stream. config, calo: readout and medium (module docstring).

    Cell (i, j) spans x ∈ [(j − G/2)·c, (j − G/2 + 1)·c), y likewise with i.
    """
    point = np.asarray(point, dtype=np.float64)
    momentum = np.asarray(momentum, dtype=np.float64)
    pdg = np.asarray(pdg)
    n = len(momentum)
    if point.shape[:1] != (n,) or momentum.shape != (n, 3) or pdg.shape != (n,):
        raise ValueError(
            f"need point [n, 2|3], momentum [n, 3], pdg [n]; got {point.shape}, {momentum.shape}, {pdg.shape}"
        )
    if n and not (momentum[:, 2] > 0).all():
        raise ValueError("every particle must move towards the calorimeter (pz > 0)")
    g = config.grid
    out = np.zeros((n, g * g), np.float64)
    energy = np.linalg.norm(momentum, axis=1)
    spots = spot_count(energy, config)
    start = 0
    while start < n:  # chunks of at most _SPOTS_PER_CHUNK spots (at least one shower)
        stop = start + max(1, int(np.searchsorted(np.cumsum(spots[start:]), _SPOTS_PER_CHUNK)))
        sl = slice(start, min(stop, n))
        out[sl] = _deposit(point[sl, :2], momentum[sl], energy[sl], pdg[sl], spots[sl], rng, config, calo)
        start = sl.stop
    sigma_b = config.constant * rng.standard_normal(n)
    out *= np.clip(1.0 + sigma_b, 0.0, None)[:, None]
    if config.noise > 0:
        out += config.noise * rng.standard_normal(out.shape)
    if config.threshold > 0:
        out[out < config.threshold] = 0.0
    return out.reshape(n, g, g).astype(np.float32)


def _deposit(
    xy: NDArray[np.float64],
    momentum: NDArray[np.float64],
    energy: NDArray[np.float64],
    pdg: NDArray[Any],
    n_spots: NDArray[np.int64],
    rng: np.random.Generator,
    config: ShowerConfig,
    calo: SamplingCalorimeter,
) -> NDArray[np.float64]:
    """Visible energy ``[n, G²]`` of one chunk of showers, before calibration spread, noise and threshold."""
    n, g, f32 = len(energy), config.grid, np.float32
    t_max, alpha = sampling_longitudinal(energy, rng, calo)
    beta = (alpha - 1.0) / t_max
    a_s = alpha * (0.844 + 0.0026 * calo.z_eff)  # spot profile (G4 sampling tuning ParsSpotT/A)
    b_s = (a_s - 1.0) / (t_max * (0.813 + 0.0019 * calo.z_eff))
    photon = np.abs(pdg) == 22
    t0 = np.where(photon, rng.exponential(PHOTON_FREE_PATH_X0, n), 0.0)
    owner = np.repeat(np.arange(n), n_spots)
    t = rng.standard_gamma(a_s[owner]) / b_s[owner]  # depth after the shower start [X0]
    # energy / spot profile (Gamma densities, log-space), normalised per shower below
    log_w = (alpha - a_s)[owner] * np.log(np.maximum(t, 1e-12)) - (beta - b_s)[owner] * t
    log_w -= log_w.max()
    w = np.exp(log_w)
    w /= np.bincount(owner, w, n)[owner]
    del log_w
    tau = (t / t_max[owner]).astype(f32)
    r_core, r_tail, p_core = sampling_radial(np.log(energy).astype(f32)[owner], tau, calo)
    core = rng.random(len(owner), dtype=f32) < p_core
    scale = np.where(core, r_core, r_tail) * f32(calo.rm_mm)
    # lateral_offsets computes in its input's precision: float32 halves the memory of the spot arrays
    da, db = lateral_offsets(cast(NDArray[np.float64], scale), config.radius_max_rm * calo.rm_mm, rng)
    u, e1, e2 = shower_axes(momentum)
    s = (t + t0[owner]) * calo.x0_mm  # path along the axis [mm]
    pos = [s * u[owner, k] + da * e1[owner, k] + db * e2[owner, k] for k in range(3)]
    x = pos[0] + xy[owner, 0]
    y = pos[1] + xy[owner, 1]
    half = 0.5 * g * config.cell_mm
    ix = np.floor((x + half) / config.cell_mm).astype(np.int64)
    iy = np.floor((y + half) / config.cell_mm).astype(np.int64)
    keep = (pos[2] >= 0) & (pos[2] <= calo.depth_mm) & (ix >= 0) & (ix < g) & (iy >= 0) & (iy < g)
    e_spot = (energy[owner] * w)[keep]
    var = config.stochastic**2  # Gamma(e/a², a²): mean e, variance a² e
    visible = rng.standard_gamma(e_spot / var) * var
    flat = owner[keep] * (g * g) + iy[keep] * g + ix[keep]
    deposit: NDArray[np.float64] = np.bincount(flat, visible, n * g * g).astype(np.float64, copy=False)
    return deposit.reshape(n, g * g)
