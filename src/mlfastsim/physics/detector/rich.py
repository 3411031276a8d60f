"""The reference LHCb-like RICH: Cherenkov photons of each track in RICH1 (C4F10) and RICH2 (CF4), background
photons growing with the event's multiplicity, and a likelihood over the mass hypotheses → the DLLs.

Per radiator r the track is seen when its polar angle lies in r's acceptance. Under a mass hypothesis h the
Cherenkov angle is cos θ_h = 1 / (n β_h), β_h = p / √(p² + m_h²), zero below the threshold p < m_h / √(n² − 1),
and the expected signal is S_h = N_sat sin²θ_h / sin²θ_sat photoelectrons (Frank–Tamm: the yield per length ∝
sin²θ_c). The simulated track (its true species) emits Poisson(S_true) photons, each measured at θ_true plus a
Gaussian error of the single-photon resolution σ_r; Poisson(B) background photons, B = b₀ + b₁ nTracks, fall
uniformly on the window disc 0 < θ < θ_w (density u(θ) = 2θ / θ_w²). Photons outside the window are lost.

The reconstruction knows p, the track's multiplicity and the detector; for every hypothesis h ∈ {e, μ, π, K, p,
below threshold} it evaluates the extended likelihood of the photons it saw,

    ln L_h = Σ_r [ −S_h,r + Σ_i ln( S_h,r 𝒩(θ_i; θ_h,r, σ_r) + B_r u_r(θ_i) ) ]   (+ terms common to all h),

"below threshold" (bt) being the hypothesis of no signal anywhere. DLL_X = ln L_X − ln L_π (PHYSICS.md §6),
for X = e, μ, K, p, bt: LHCb's RichDLLe, RichDLLmu, RichDLLk, RichDLLp, RichDLLbt. A track seen by no radiator
(none in 2 < η < 5) has every DLL 0. This is the per-track analogue of LHCb's global event likelihood (Forty &
Schneider, LHCb-98-040): no pattern recognition, no ring overlaps beyond their average effect on B.

All numbers are in :mod:`.rich_constants`. Vectorised over tracks: photons live in one flat array with their
track index, per-track sums by ``np.bincount``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlfastsim.physics.detector.rich_constants import (
    BACKGROUND_BASE,
    BACKGROUND_PER_TRACK,
    MASSES,
    PHOTONS_SATURATED,
    POLAR_ACCEPTANCE,
    REFRACTIVE_INDEX_MINUS_1,
    SIGMA_THETA,
    SPECIES,
    WINDOW_FACTOR,
)

__all__ = [
    "DLL_NAMES",
    "HYPOTHESES",
    "RICHConfig",
    "RadiatorConfig",
    "cherenkov_angle",
    "expected_photons",
    "in_acceptance",
    "simulate_rich",
    "threshold_momentum",
]

#: Likelihood hypotheses: the five species and "below threshold".
HYPOTHESES = (*SPECIES, "bt")
#: Output columns: ln L_X − ln L_π for X = e, μ, K, p, bt.
DLL_NAMES = ("dll_e", "dll_mu", "dll_K", "dll_p", "dll_bt")
_DLL_HYPOTHESES = ("e", "mu", "K", "p", "bt")
_CHUNK = 20_000  # tracks per vectorised block (≈ 40 photons each, 6 hypotheses: ≈ 40 MB of float64)


@dataclass(frozen=True)
class RadiatorConfig:
    """One radiator: n − 1, saturated photoelectrons, single-photon σθ [rad], polar acceptance [rad] and the
    background b₀ + b₁ nTracks (defaults of RICH1 from :mod:`.rich_constants`)."""

    n_minus_1: float = REFRACTIVE_INDEX_MINUS_1["RICH1"]
    photons_saturated: float = PHOTONS_SATURATED["RICH1"]
    sigma_theta: float = SIGMA_THETA["RICH1"]
    polar_min: float = POLAR_ACCEPTANCE["RICH1"][0]
    polar_max: float = POLAR_ACCEPTANCE["RICH1"][1]
    background_base: float = BACKGROUND_BASE["RICH1"]
    background_per_track: float = BACKGROUND_PER_TRACK["RICH1"]
    window_factor: float = WINDOW_FACTOR

    @property
    def theta_sat(self) -> float:
        """Saturated Cherenkov angle acos(1/n) [rad]."""
        return float(np.arccos(1.0 / (1.0 + self.n_minus_1)))

    @property
    def window(self) -> float:
        """Upper edge θ_w of the search window [rad]."""
        return self.window_factor * self.theta_sat


def _radiator(name: str) -> RadiatorConfig:
    return RadiatorConfig(
        REFRACTIVE_INDEX_MINUS_1[name], PHOTONS_SATURATED[name], SIGMA_THETA[name], *POLAR_ACCEPTANCE[name],
        BACKGROUND_BASE[name], BACKGROUND_PER_TRACK[name], WINDOW_FACTOR,
    )  # fmt: skip


@dataclass(frozen=True)
class RICHConfig:
    """The two radiators of the reference RICH (Run 2: C4F10 and CF4)."""

    rich1: RadiatorConfig = field(default_factory=lambda: _radiator("RICH1"))
    rich2: RadiatorConfig = field(default_factory=lambda: _radiator("RICH2"))

    def radiators(self) -> tuple[RadiatorConfig, RadiatorConfig]:
        """(RICH1, RICH2)."""
        return self.rich1, self.rich2


def threshold_momentum(mass: float | np.ndarray, n_minus_1: float) -> np.ndarray:
    """Cherenkov threshold m / √(n² − 1) [GeV/c] of a particle of ``mass`` [GeV/c²]."""
    n = 1.0 + n_minus_1
    return np.asarray(mass, dtype=np.float64) / np.sqrt(n * n - 1.0)


def cherenkov_angle(p: np.ndarray, mass: float | np.ndarray, n_minus_1: float) -> np.ndarray:
    """Cherenkov angle acos(1 / (n β)) [rad] of momentum ``p`` [GeV/c] and ``mass``; 0 below threshold."""
    p = np.asarray(p, dtype=np.float64)
    m = np.asarray(mass, dtype=np.float64)
    n = 1.0 + n_minus_1
    cos = np.sqrt(p * p + m * m) / (n * np.maximum(p, 1e-12))  # 1 / (n β)
    return np.where(cos < 1.0, np.arccos(np.minimum(cos, 1.0)), 0.0)


def expected_photons(theta: np.ndarray, radiator: RadiatorConfig) -> np.ndarray:
    """Mean photoelectrons N_sat sin²θ / sin²θ_sat of tracks radiating at ``theta`` [rad]."""
    return radiator.photons_saturated * np.sin(theta) ** 2 / np.sin(radiator.theta_sat) ** 2


def in_acceptance(eta: np.ndarray, radiator: RadiatorConfig) -> np.ndarray:
    """Whether tracks of pseudorapidity ``eta`` cross the radiator: polar angle 2 arctan(e^−η) in range."""
    polar = 2.0 * np.arctan(np.exp(-np.asarray(eta, dtype=np.float64)))
    return (polar >= radiator.polar_min) & (polar <= radiator.polar_max)


def _hypothesis_angles(p: np.ndarray, radiator: RadiatorConfig) -> np.ndarray:
    """``[N, 6]`` Cherenkov angle of each hypothesis (bt: 0)."""
    angles = np.zeros((len(p), len(HYPOTHESES)))
    for k, name in enumerate(SPECIES):
        angles[:, k] = cherenkov_angle(p, MASSES[name], radiator.n_minus_1)
    return angles


def _radiator_log_likelihood(
    p: np.ndarray, n_tracks: np.ndarray, species: np.ndarray, seen: np.ndarray,
    radiator: RadiatorConfig, rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``[N, 6]`` ln L of each hypothesis from one radiator (0 where not ``seen``) and photons per track."""
    n = len(p)
    angles = _hypothesis_angles(p, radiator)
    signal = np.where(seen[:, None], expected_photons(angles, radiator), 0.0)  # [N, 6]; 0 below threshold
    signal[:, -1] = 0.0
    background = np.where(seen, radiator.background_base + radiator.background_per_track * n_tracks, 0.0)
    true = np.arange(n), species.astype(np.int64)
    n_sig, n_bkg = rng.poisson(signal[true]), rng.poisson(background)
    sigma, window = radiator.sigma_theta, radiator.window
    theta = np.concatenate(
        [
            np.repeat(angles[true], n_sig) + sigma * rng.standard_normal(int(n_sig.sum())),
            window * np.sqrt(rng.random(int(n_bkg.sum()))),
        ]
    )
    track = np.concatenate([np.repeat(np.arange(n), n_sig), np.repeat(np.arange(n), n_bkg)])
    keep = (theta > 0.0) & (theta < window)
    theta, track = theta[keep], track[keep]
    u = background[track] * 2.0 * theta / window**2  # B u(θ) per photon
    norm = 1.0 / (sigma * np.sqrt(2.0 * np.pi))
    log_l = -signal.copy()
    for k in range(len(HYPOTHESES)):
        s = signal[track, k]
        density = s * norm * np.exp(-0.5 * ((theta - angles[track, k]) / sigma) ** 2) + u
        log_l[:, k] += np.bincount(track, np.log(np.maximum(density, 1e-300)), minlength=n)
    return log_l, np.bincount(track, minlength=n)


def simulate_rich(
    p: np.ndarray,
    eta: np.ndarray,
    n_tracks: np.ndarray,
    species: np.ndarray,
    rng: np.random.Generator,
    config: RICHConfig | None = None,
) -> dict[str, np.ndarray]:
    """Simulate the RICH response of tracks and compute their DLLs (module docstring).

    Args:
        p: ``[N]`` momenta [GeV/c]; eta: ``[N]`` pseudorapidities; n_tracks: ``[N]`` the multiplicity of each
            track's event; species: ``[N]`` index into :data:`~.rich_constants.SPECIES` (the true particle).
        rng: the source of every random number.
        config: the detector (default: the reference RICH).

    Returns:
        ``dll`` float32 ``[N, 5]`` (columns :data:`DLL_NAMES`), ``log_likelihood`` float64 ``[N, 6]``
        (:data:`HYPOTHESES`, summed over radiators), ``photons`` int ``[N, 2]`` photoelectrons per radiator
        in the window (signal and background), ``seen`` bool ``[N, 2]`` per radiator.
    """
    config = config or RICHConfig()
    p, eta = np.asarray(p, dtype=np.float64), np.asarray(eta, dtype=np.float64)
    n_tracks, species = np.asarray(n_tracks, dtype=np.float64), np.asarray(species, dtype=np.int64)
    if not (len(p) == len(eta) == len(n_tracks) == len(species)):
        raise ValueError("p, eta, n_tracks and species need one entry per track")
    if len(species) and (species.min() < 0 or species.max() >= len(SPECIES)):
        raise ValueError(f"species indices must lie in 0..{len(SPECIES) - 1} ({', '.join(SPECIES)})")
    n = len(p)
    log_l = np.zeros((n, len(HYPOTHESES)))
    photons = np.zeros((n, 2), np.int64)
    seen = np.stack([in_acceptance(eta, r) for r in config.radiators()], axis=1)
    for lo in range(0, n, _CHUNK):
        sl = slice(lo, lo + _CHUNK)
        for j, radiator in enumerate(config.radiators()):
            ll, count = _radiator_log_likelihood(p[sl], n_tracks[sl], species[sl], seen[sl, j], radiator, rng)
            log_l[sl] += ll
            photons[sl, j] = count
    pion = HYPOTHESES.index("pi")
    cols = [HYPOTHESES.index(h) for h in _DLL_HYPOTHESES]
    dll = (log_l[:, cols] - log_l[:, [pion]]).astype(np.float32)
    return {"dll": dll, "log_likelihood": log_l, "photons": photons, "seen": seen}
