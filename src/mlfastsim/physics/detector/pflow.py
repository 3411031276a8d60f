"""Particle-flow-like reconstruction: generator-level particles of an event region → PF candidates.

In the spirit of CMS particle flow (PF17; CMS, JINST 12 (2017) P10003) with the parametric detector of this
package (docs/reference-simulation.md, "Particle flow"):

* **Tracks** (tracker.py; DEL efficiency and pT resolution, |η| < 2.5) of charged hadrons and muons become
  charged-hadron (211, π± mass) and muon (13) candidates at the track's direction at the vertex (angular
  resolution neglected). **Simplification:** the calorimeter energy of a *tracked* charged hadron or muon is
  taken as linked to its track and is not simulated, so it is never double counted (perfect PF linking; no
  neutral excess from track–cluster mismatch). Charged hadrons whose track is lost (inefficiency, |η| > 2.5)
  shower in the calorimeter like neutral hadrons; untracked muons leave their MIPs.
* **ECAL** (PbWO4 crystals 0.0174 × 2π/360 on a fixed detector grid): photons and electrons shower with GFlash
  (ecal.py, TB07 resolution 2.8 %/√E ⊕ 0.3 %); spots are summed per crystal, Gaussian noise of 37 MeV (FS-RH)
  is added to every crystal of the region's box, and the crystals are clustered as PF does (PF-E):
  topological clusters of crystals above 0.08 GeV (corners included), seeds at local maxima above 0.23 GeV
  (8 neighbours), the energy of each crystal shared among the seeds of its topological cluster by the PF
  Gaussian-mixture iteration (σ = 1.5 cm, seed crystals kept by their own cluster), and the position
  log-weighted, w = max(0, 4.2 + ln(E_i/E_cluster)), over all its crystals. Nearby photons therefore merge when
  they do not make separate local maxima. A cluster reached by an electron track (its ECAL impact crystal
  belongs to the cluster) becomes an electron (11) at the track direction, its energy shared among the
  electrons pointing to it in proportion to their track momenta; every other cluster is a photon (22).
  Electrons whose track is found but cannot be linked (pT < 0.735 GeV curlers) are charged hadrons (as in PF).
* **HCAL** (towers 0.087 × 5°): neutral hadrons and untracked charged hadrons deposit their available energy
  (hcal.available_energy) smeared with the calibrated ECAL+HCAL pion resolution 84.7 %/√E ⊕ 7.4 % of TB09
  (mean response 1), spread laterally as in hcal.spread_deposits; tower noise 0.2 GeV (unverified); PF-H
  clustering with gather 0.8 / seed 1.0 GeV (Run 2), seeds above their 4 side neighbours, σ = 10 cm, position
  from the seed and its 4 side neighbours. Each cluster is a neutral hadron (130). The ECAL part of hadron
  showers is measured with the HCAL cluster (the calibrated combined response), so hadrons make no photons.
* Neutrinos are invisible. Photons, electrons and neutral hadrons are massless. The calorimeters are an
  idealised barrel extending in η as far as needed (no endcap, cracks or material).

Everything is vectorised over particles, spots, cells and (cell, cluster) pairs; the only loop is over the
energy-sharing iterations. The clustering (topological clusters, seeds, energy sharing, positions) is
:mod:`.pf_clustering`; ``ClusterSpec`` and ``calorimeter_clusters`` are re-exported here. The input must
span less than the full φ ring (an event region, not an event).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlfastsim.physics.detector import constants as K
from mlfastsim.physics.detector import pflow_constants as P
from mlfastsim.physics.detector.ecal import em_shower_deposits, mip_energy
from mlfastsim.physics.detector.hcal import available_energy, spread_deposits
from mlfastsim.physics.detector.pf_clustering import ClusterSpec, calorimeter_clusters
from mlfastsim.physics.detector.tracker import propagate_to_ecal, reconstruct_tracks

__all__ = [
    "CHARGED_HADRON",
    "ELECTRON",
    "MUON",
    "NEUTRAL_HADRON",
    "PHOTON",
    "RECO_DTYPE",
    "ClusterSpec",
    "PFlowConfig",
    "calibrate_clusters",
    "calorimeter_clusters",
    "derive_calibration",
    "pf_hadron_resolution",
    "reconstruct_particles",
]

#: One PF candidate: pT, E in GeV; η; φ in (−π, π]; ``pdgid`` the class code below (unsigned); charge in e.
RECO_DTYPE = np.dtype(
    [("pt", "f8"), ("eta", "f8"), ("phi", "f8"), ("e", "f8"), ("pdgid", "i4"), ("charge", "f4")]
)
#: PF candidate class codes (CMS PF convention: neutral hadrons are coded as K0L).
CHARGED_HADRON, MUON, ELECTRON, PHOTON, NEUTRAL_HADRON = 211, 13, 11, 22, 130

_NEUTRINOS = (12, 14, 16)
_F64 = NDArray[np.float64]


@dataclass(frozen=True)
class PFlowConfig:
    """Settings of the PF-like reconstruction; defaults from :mod:`.constants` and :mod:`.pflow_constants`.

    ``noise`` switches cell noise off; ``smear`` switches the track pT, EM and hadron energy resolutions off
    (mean response only, for validation); ``calibrate`` switches the PF cluster calibration
    (:data:`.pflow_constants.PF_ECAL_CALIBRATION`, ``PF_HCAL_CALIBRATION``) off (raw cluster energies).
    """

    b_field: float = K.B_FIELD
    ecal_radius: float = K.ECAL_RADIUS
    ecal_stochastic: float = K.ECAL_STOCHASTIC
    ecal_constant: float = K.ECAL_CONSTANT
    ecal_noise: float = K.ECAL_NOISE
    ecal_gather: float = P.PF_ECAL_GATHER
    ecal_seed: float = P.PF_ECAL_SEED
    hcal_noise: float = K.HCAL_NOISE
    hcal_gather: float = P.PF_HCAL_GATHER
    hcal_seed: float = P.PF_HCAL_SEED
    hadron_stochastic: float = P.PF_HADRON_STOCHASTIC
    hadron_constant: float = P.PF_HADRON_CONSTANT
    em_spot_fraction: float = P.PF_EM_SPOT_FRACTION
    em_spots_min: int = K.EM_SPOTS_MIN
    em_spots_max: int = P.PF_EM_SPOTS_MAX
    noise: bool = True
    smear: bool = True
    calibrate: bool = True

    def ecal(self) -> ClusterSpec:
        """The ECAL clustering spec (PF-E)."""
        cells = (P.ECAL_CELL_DETA, P.ECAL_N_PHI, self.ecal_gather, self.ecal_seed, P.ECAL_SEED_NEIGHBOURS)
        noise = self.ecal_noise if self.noise else 0.0
        return ClusterSpec(*cells, P.ECAL_POSITION_CELLS, P.ECAL_POSITION_W0, P.ECAL_SHOWER_SIGMA, noise)

    def hcal(self) -> ClusterSpec:
        """The HCAL clustering spec (PF-H)."""
        cells = (P.HCAL_CELL_DETA, P.HCAL_N_PHI, self.hcal_gather, self.hcal_seed, P.HCAL_SEED_NEIGHBOURS)
        noise = self.hcal_noise if self.noise else 0.0
        return ClusterSpec(*cells, P.HCAL_POSITION_CELLS, None, P.HCAL_SHOWER_SIGMA, noise)


def pf_hadron_resolution(
    energy: ArrayLike, stochastic: float = P.PF_HADRON_STOCHASTIC, constant: float = P.PF_HADRON_CONSTANT
) -> _F64:
    """Relative resolution σ/E ``[n]`` = 84.7 %/√E ⊕ 7.4 % of hadrons of ``energy [n]`` [GeV] (TB09)."""
    energy = np.maximum(np.asarray(energy, dtype=np.float64), 1e-6)
    return np.hypot(stochastic / np.sqrt(energy), constant)


def calibrate_clusters(energy: ArrayLike, table: tuple[tuple[float, ...], tuple[float, ...]]) -> _F64:
    """PF-like cluster calibration: raw energies ``[k]`` [GeV] divided by the mean response at that energy.

    ``table`` = (mean raw cluster energy [GeV], mean raw response ⟨E_raw⟩/E_true), both increasing in
    E_true, from :func:`derive_calibration`; the response is interpolated linearly in ln E_raw and held
    constant beyond the table's ends.
    """
    energy = np.asarray(energy, dtype=np.float64)
    raw, response = np.log(np.asarray(table[0])), np.asarray(table[1])
    return energy / np.interp(np.log(np.maximum(energy, 1e-9)), raw, response)


def _candidates(pt: _F64, eta: _F64, phi: _F64, e: _F64, code: int, charge: ArrayLike) -> np.ndarray:
    out = np.zeros(pt.size, dtype=RECO_DTYPE)
    out["pt"], out["eta"], out["phi"], out["e"], out["pdgid"], out["charge"] = pt, eta, phi, e, code, charge
    return out


def reconstruct_particles(
    particles: np.ndarray, rng: np.random.Generator, config: PFlowConfig = PFlowConfig()
) -> np.ndarray:
    """PF candidates (RECO_DTYPE ``[k]``, decreasing pT) of the generator-level ``particles`` of a region.

    ``particles``: structured ``[n]`` with PARTICLE_DTYPE fields ``pt, eta, phi, e, pdgid, charge`` (GeV,
    rad, e). All particles are used (select pile-up before calling). Deterministic given ``rng``'s state.
    """
    p = particles[~np.isin(np.abs(particles["pdgid"]), _NEUTRINOS) & (particles["e"] > 0)]
    pdg, charge = np.abs(p["pdgid"]), np.sign(p["charge"]).astype(np.float64)
    pt, eta, phi, e = (np.asarray(p[k], dtype=np.float64) for k in ("pt", "eta", "phi", "e"))
    eta_i, phi_i, reaches = propagate_to_ecal(pt, eta, phi, charge, config.b_field, config.ecal_radius)
    is_e, is_mu, is_gamma = pdg == 11, pdg == 13, pdg == 22
    is_had = ~(is_e | is_mu | is_gamma)
    # Tracks.
    tracked = charge != 0
    pt_meas, found_c = reconstruct_tracks(pt[tracked], eta[tracked], rng, smear=config.smear)
    found, pt_trk = np.zeros(pt.size, dtype=bool), np.zeros(pt.size)
    found[tracked], pt_trk[tracked] = found_c, pt_meas
    # ECAL deposits: photons and electrons (GFlash), MIPs of untracked muons.
    em = (is_e | is_gamma) & reaches
    s = config.smear
    deta, dphi, e_spot, own = em_shower_deposits(
        e[em], rng, stochastic=config.ecal_stochastic if s else 0.0, constant=config.ecal_constant if s else 0.0,
        spot_fraction=config.em_spot_fraction, spots_min=config.em_spots_min, spots_max=config.em_spots_max,
    )  # fmt: skip
    lost_mu = is_mu & ~found & reaches
    n_mu = int(lost_mu.sum())
    ecal_eta = np.concatenate([eta_i[em][own] + deta, eta_i[lost_mu]])
    ecal_phi = np.concatenate([phi_i[em][own] + dphi, phi_i[lost_mu]])
    ecal_e = np.concatenate([e_spot, mip_energy(n_mu, K.MIP_ECAL_MEAN, K.MIP_ECAL_WIDTH, rng)])
    # HCAL deposits: neutral and untracked charged hadrons (calibrated TB09 response), MIPs of untracked muons.
    had = is_had & ~found & reaches
    e_avail = available_energy(e[had], p["pdgid"][had])
    sigma = pf_hadron_resolution(e_avail, config.hadron_stochastic, config.hadron_constant) if s else 0.0
    e_had = np.clip(e_avail * (1.0 + sigma * rng.standard_normal(e_avail.size)), 0.0, None)
    hdeta, hdphi, h_spot, h_own = spread_deposits(e_had, K.HADRON_HCAL_RADIUS, rng)
    hcal_eta = np.concatenate([eta_i[had][h_own] + hdeta, eta_i[lost_mu]])
    hcal_phi = np.concatenate([phi_i[had][h_own] + hdphi, phi_i[lost_mu]])
    hcal_e = np.concatenate([h_spot, mip_energy(n_mu, K.MIP_HCAL_MEAN, K.MIP_HCAL_WIDTH, rng)])
    # Clusters; electron tracks are linked through their ECAL impact crystal.
    e_trk = np.flatnonzero(is_e & found & reaches)
    ec_e, ec_eta, ec_phi, link = calorimeter_clusters(
        ecal_eta, ecal_phi, ecal_e, config.ecal(), rng, (eta_i[e_trk], phi_i[e_trk])
    )
    hc_e, hc_eta, hc_phi, _ = calorimeter_clusters(hcal_eta, hcal_phi, hcal_e, config.hcal(), rng)
    if config.calibrate:
        ec_e, hc_e = (
            calibrate_clusters(ec_e, P.PF_ECAL_CALIBRATION),
            calibrate_clusters(hc_e, P.PF_HCAL_CALIBRATION),
        )
    linked = link >= 0
    e_link, cl_link = e_trk[linked], link[linked]
    p_trk = pt_trk[e_link] * np.cosh(eta[e_link])
    share = p_trk / np.bincount(cl_link, p_trk, minlength=ec_e.size)[cl_link]
    e_ele = ec_e[cl_link] * share
    photon = np.ones(ec_e.size, dtype=bool)
    photon[cl_link] = False
    chad = found & (is_had | (is_e & ~np.isin(np.arange(pt.size), e_link)))
    muon = found & is_mu
    p_chad = pt_trk[chad] * np.cosh(eta[chad])
    parts = [
        _candidates(pt_trk[chad], eta[chad], phi[chad], np.hypot(p_chad, P.CHARGED_PION_MASS),
                    CHARGED_HADRON, charge[chad]),
        _candidates(pt_trk[muon], eta[muon], phi[muon],
                    np.hypot(pt_trk[muon] * np.cosh(eta[muon]), P.MUON_MASS), MUON, charge[muon]),
        _candidates(e_ele / np.cosh(eta[e_link]), eta[e_link], phi[e_link], e_ele, ELECTRON, charge[e_link]),
        _candidates(ec_e[photon] / np.cosh(ec_eta[photon]), ec_eta[photon], ec_phi[photon], ec_e[photon],
                    PHOTON, 0.0),
        _candidates(hc_e / np.cosh(hc_eta), hc_eta, hc_phi, hc_e, NEUTRAL_HADRON, 0.0),
    ]  # fmt: skip
    out = np.concatenate(parts)
    return out[np.argsort(-out["pt"], kind="stable")]


def derive_calibration(
    pdgid: int,
    energies: Sequence[float],
    n: int,
    rng: np.random.Generator,
    config: PFlowConfig = PFlowConfig(),
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Calibration table of single ``pdgid`` particles (22: ECAL, 130: HCAL) of the given true ``energies``.

    For each energy, ``n`` particles at η ~ U(−1.5, 1.5), φ ~ U(−π, π) are reconstructed without calibration;
    the summed candidate energy of each particle with at least one candidate gives the mean raw energy and
    the mean response ⟨E_raw⟩/E_true. Returns (mean raw energies, responses), as ``calibrate_clusters`` takes.
    """
    raw_config = dataclasses.replace(config, calibrate=False)
    mass = 0.0 if pdgid == 22 else 0.497611  # K0L (PDG)
    raw, response = [], []
    for energy in energies:
        sums = []
        for _ in range(n):
            eta, phi = rng.uniform(-1.5, 1.5), rng.uniform(-math.pi, math.pi)
            one = np.zeros(1, dtype=RECO_DTYPE)  # the fields reconstruct_particles reads
            one[0] = (math.sqrt(energy**2 - mass**2) / math.cosh(eta), eta, phi, energy, pdgid, 0.0)
            cands = reconstruct_particles(one, rng, raw_config)
            if len(cands):
                sums.append(float(cands["e"].sum()))
        raw.append(float(np.mean(sums)))
        response.append(raw[-1] / energy)
    return tuple(raw), tuple(response)
