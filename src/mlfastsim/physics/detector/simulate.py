"""One jet's event through the parametric detector: a [3, 125, 125] image (tracks pT, ECAL, HCAL) in GeV.

The chain (docs/reference-simulation.md): helix propagation to the ECAL face (tracker.py), tracks with
Delphes efficiency and smearing, GFlash EM showers (ecal.py), hadron and muon deposits (hcal.py), crystal
and tower noise with zero suppression. The whole event is vectorised; particles that cannot reach the window
are cut after propagation. The idealised barrel extends in η as far as the window needs (no endcap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mlfastsim.physics.detector import constants as K
from mlfastsim.physics.detector.ecal import apply_noise_and_threshold, em_shower_deposits, mip_energy
from mlfastsim.physics.detector.geometry import (
    HCAL_TOWER_CRYSTALS,
    HCAL_TOWERS,
    IMAGE_SIZE,
    WINDOW_HALF_WIDTH,
    crystal_indices,
    towers_to_crystals,
)
from mlfastsim.physics.detector.hcal import available_energy, hadron_deposits, spread_deposits
from mlfastsim.physics.detector.tracker import propagate_to_ecal, reconstruct_tracks
from mlfastsim.physics.kinematics import delta_phi

__all__ = ["DetectorConfig", "simulate_jet", "simulate_particles"]

_NEUTRINOS = (12, 14, 16)
_Deposits = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]


@dataclass(frozen=True)
class DetectorConfig:
    """Settings of the reference detector; defaults from :mod:`.constants` (sources there).

    ``noise`` / ``zero_suppression`` switch the ECAL and HCAL noise and thresholds; ``smear`` switches the
    energy and track-pT resolutions (off: mean response only, for validation); ``include_pileup=False``
    drops particles flagged ``pileup`` before simulation.
    """

    b_field: float = K.B_FIELD
    ecal_radius: float = K.ECAL_RADIUS
    ecal_stochastic: float = K.ECAL_STOCHASTIC
    ecal_constant: float = K.ECAL_CONSTANT
    ecal_noise: float = K.ECAL_NOISE
    ecal_threshold: float = K.ECAL_THRESHOLD
    hcal_noise: float = K.HCAL_NOISE
    hcal_threshold: float = K.HCAL_THRESHOLD
    p_ecal_start: float = K.P_ECAL_START
    em_spot_fraction: float = K.EM_SPOT_FRACTION
    em_spots_min: int = K.EM_SPOTS_MIN
    em_spots_max: int = K.EM_SPOTS_MAX
    window_margin: float = K.WINDOW_MARGIN
    noise: bool = True
    zero_suppression: bool = True
    smear: bool = True
    include_pileup: bool = True


def _concat(parts: list[_Deposits]) -> _Deposits:
    if not parts:
        empty = np.zeros(0)
        return empty, empty, empty, np.zeros(0, dtype=np.int64)
    deta, dphi, energy, owner = (np.concatenate(column) for column in zip(*parts, strict=True))
    return deta, dphi, energy, owner


def _bin(deposits: _Deposits, towers: bool) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Sum deposits into the flat crystal (or tower) grid; also return the owners of in-window deposits."""
    deta, dphi, energy, owner = deposits
    row, col, inside = crystal_indices(deta, dphi)
    size = IMAGE_SIZE
    if towers:
        row, col, size = row // HCAL_TOWER_CRYSTALS, col // HCAL_TOWER_CRYSTALS, HCAL_TOWERS
    flat = np.bincount((row * size + col)[inside], weights=energy[inside], minlength=size * size)
    return np.asarray(flat, dtype=np.float64).reshape(size, size), np.asarray(owner[inside], dtype=np.int64)


def simulate_jet(
    particles: np.ndarray,
    jet_eta: float,
    jet_phi: float,
    rng: np.random.Generator,
    config: DetectorConfig = DetectorConfig(),
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Simulate one event's visible particles into the jet image centred on (``jet_eta``, ``jet_phi``).

    ``particles``: structured ``[n]`` of PARTICLE_DTYPE (GeV, rad, e). Returns ``image`` float32
    ``[3, 125, 125]`` in GeV (tracks pT, ECAL, HCAL; rows along η, columns along φ; pixel (62, 62) holds the
    axis) and ``reaches_window`` bool ``[n]``: the particle left at least one deposit (track hit, shower
    spot, MIP, HCAL share) inside the window, before noise and zero suppression.
    """
    n_all = len(particles)
    reaches_window = np.zeros(n_all, dtype=bool)
    pdg = np.abs(particles["pdgid"])
    usable = ~np.isin(pdg, _NEUTRINOS) & (particles["e"] > 0)
    if not config.include_pileup:
        usable &= ~particles["pileup"]
    eta_i, phi_i, reaches = propagate_to_ecal(
        particles["pt"],
        particles["eta"],
        particles["phi"],
        particles["charge"],
        config.b_field,
        config.ecal_radius,
    )
    deta_i, dphi_i = eta_i - jet_eta, delta_phi(phi_i, jet_phi)
    reach = WINDOW_HALF_WIDTH + config.window_margin
    keep = np.flatnonzero(usable & reaches & (np.abs(deta_i) < reach) & (np.abs(dphi_i) < reach))
    p, deta_i, dphi_i, pdg = particles[keep], deta_i[keep], dphi_i[keep], pdg[keep]
    charged = p["charge"] != 0
    is_em, is_mu = (pdg == 11) | (pdg == 22), pdg == 13
    is_had = ~is_em & ~is_mu

    def at(select: NDArray[np.bool_], offsets: _Deposits) -> _Deposits:
        """Shift offsets of the selected particles to their impact points; owners → original indices."""
        idx = np.flatnonzero(select)
        d_eta, d_phi, energy, owner = offsets
        return deta_i[idx][owner] + d_eta, dphi_i[idx][owner] + d_phi, energy, keep[idx][owner]

    def point(select: NDArray[np.bool_], energy: NDArray[np.float64]) -> _Deposits:
        zeros = np.zeros(int(select.sum()))
        return at(select, (zeros, zeros, energy, np.arange(zeros.size, dtype=np.int64)))

    # Tracks: efficiency and pT smearing, deposited in the crystal of the ECAL impact point.
    pt_meas, found = reconstruct_tracks(p["pt"][charged], p["eta"][charged], rng, smear=config.smear)
    track_sel = charged.copy()
    track_sel[charged] = found
    tracks = point(track_sel, pt_meas[found])
    # EM showers.
    em = em_shower_deposits(
        p["e"][is_em],
        rng,
        stochastic=config.ecal_stochastic if config.smear else 0.0,
        constant=config.ecal_constant if config.smear else 0.0,
        spot_fraction=config.em_spot_fraction,
        spots_min=config.em_spots_min,
        spots_max=config.em_spots_max,
    )
    ecal_parts, hcal_parts = [at(is_em, em)], []
    # Hadrons: ECAL/HCAL split, then lateral spreading in each compartment.
    e_avail = available_energy(p["e"][is_had], p["pdgid"][is_had])
    e_ecal, e_hcal, _ = hadron_deposits(
        e_avail, charged[is_had], rng, p_ecal_start=config.p_ecal_start, smear=config.smear
    )
    ecal_parts.append(at(is_had, spread_deposits(e_ecal, K.HADRON_ECAL_RADIUS, rng)))
    hcal_parts.append(at(is_had, spread_deposits(e_hcal, K.HADRON_HCAL_RADIUS, rng)))
    # Muons: MIPs in the ECAL crystal and the HCAL tower of the impact point.
    n_mu = int(is_mu.sum())
    ecal_parts.append(point(is_mu, mip_energy(n_mu, K.MIP_ECAL_MEAN, K.MIP_ECAL_WIDTH, rng)))
    hcal_parts.append(point(is_mu, mip_energy(n_mu, K.MIP_HCAL_MEAN, K.MIP_HCAL_WIDTH, rng)))

    track_img, own_t = _bin(tracks, towers=False)
    ecal_img, own_e = _bin(_concat(ecal_parts), towers=False)
    hcal_towers, own_h = _bin(_concat(hcal_parts), towers=True)
    reaches_window[np.concatenate([own_t, own_e, own_h])] = True
    if config.noise or config.zero_suppression:
        ecal_img = apply_noise_and_threshold(
            ecal_img,
            config.ecal_noise if config.noise else 0.0,
            config.ecal_threshold if config.zero_suppression else 0.0,
            rng,
        )
        hcal_towers = apply_noise_and_threshold(
            hcal_towers,
            config.hcal_noise if config.noise else 0.0,
            config.hcal_threshold if config.zero_suppression else 0.0,
            rng,
        )
    image = np.stack([track_img, ecal_img, towers_to_crystals(hcal_towers)]).astype(np.float32)
    return image, reaches_window


def simulate_particles(
    particles: np.ndarray,
    centre_eta: float,
    centre_phi: float,
    rng: np.random.Generator,
    config: DetectorConfig = DetectorConfig(),
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Single-particle validation entry point: :func:`simulate_jet` with the window centred anywhere."""
    return simulate_jet(particles, centre_eta, centre_phi, rng, config)
