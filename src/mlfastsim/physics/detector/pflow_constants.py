"""Constants of the particle-flow-like reconstruction (particle-jets kind), each with its source key and tag.

Source keys are those of ``PHYSICS.md``; PF-E / PF-H are the CMSSW PF cluster configurations
(``RecoParticleFlow/PFClusterProducer/python/particleFlowClusterECALUncorrected_cfi.py`` and
``particleFlowClusterHBHE_cfi.py``), read for the thresholds and also for the seed neighbourhoods, the shower
σ of the energy sharing, the position cells and the iteration limits. Tags: (v) checked against the named
source; (d) derived from checked inputs; (unverified) a reasonable default. Units: GeV, m, rad. The tracker,
ECAL resolution and noise, GFlash and MIP constants are reused from :mod:`.constants`.
"""

from __future__ import annotations

import math

__all__ = [
    "CHARGED_PION_MASS",
    "ECAL_CELL_DETA",
    "ECAL_CELL_DPHI",
    "ECAL_N_PHI",
    "ECAL_POSITION_CELLS",
    "ECAL_POSITION_W0",
    "ECAL_SEED_NEIGHBOURS",
    "ECAL_SHOWER_SIGMA",
    "HCAL_CELL_DETA",
    "HCAL_CELL_DPHI",
    "HCAL_N_PHI",
    "HCAL_POSITION_CELLS",
    "HCAL_RADIUS",
    "HCAL_SEED_NEIGHBOURS",
    "HCAL_SHOWER_SIGMA",
    "MUON_MASS",
    "PF_CLUSTER_MAX_ITERATIONS",
    "PF_CLUSTER_TOLERANCE",
    "PF_ECAL_CALIBRATION",
    "PF_ECAL_GATHER",
    "PF_ECAL_SEED",
    "PF_EM_SPOTS_MAX",
    "PF_EM_SPOT_FRACTION",
    "PF_HADRON_CONSTANT",
    "PF_HADRON_STOCHASTIC",
    "PF_HCAL_CALIBRATION",
    "PF_HCAL_GATHER",
    "PF_HCAL_SEED",
]

# --- Calorimeter cells (a fixed detector grid; the jet-image grid of geometry.py is aligned to the jet) -----
#: ECAL barrel crystal in η: 0.0174 (PHYSICS.md §1, PF17; v).
ECAL_CELL_DETA = 0.0174
#: ECAL barrel crystals around φ: iφ 1…360 (CMSSW EBDetId; v), so Δφ = 2π/360 = 0.01745 ≈ 0.0174 (d).
ECAL_N_PHI = 360
ECAL_CELL_DPHI = 2.0 * math.pi / ECAL_N_PHI
#: HCAL barrel tower: Δη = 0.087, Δφ = 5° = 2π/72 (PHYSICS.md §2, FS-Calo, DEL; v).
HCAL_CELL_DETA = 0.087
HCAL_N_PHI = 72
HCAL_CELL_DPHI = 2.0 * math.pi / HCAL_N_PHI

# --- PF clustering (PF-E, PF-H; v unless marked) ------------------------------------------------------------
#: ECAL barrel rec-hit gathering (topological) threshold and local-maximum seed threshold [GeV] (PF-E; v).
PF_ECAL_GATHER = 0.08
PF_ECAL_SEED = 0.23
#: HCAL barrel Run 2 gathering and seed thresholds [GeV] (PF-H ``_thresholdsHB``, ``_seedingThresholdsHB``; v).
PF_HCAL_GATHER = 0.8
PF_HCAL_SEED = 1.0
#: A seed must exceed its 8 (ECAL) / 4 (HCAL, sides only) neighbours (``nNeighbours``, PF-E / PF-H; v).
#: Topological clusters join corner cells in both (``useCornerCells = True``; v).
ECAL_SEED_NEIGHBOURS = 8
HCAL_SEED_NEIGHBOURS = 4
#: Final cluster positions. ECAL: PF's ``positionReCalc`` (ECAL2DPositionCalcWithDepthCorr) over all the
#: cluster's crystals with weights max(0, W0 + ln(f_i E_i / E_cluster)), W0 = 4.2 (PF-E; v; its shower-depth
#: correction is moot for crystals pointing at the vertex in an idealised barrel). HCAL: the seed and its 4 side
#: neighbours (``posCalcNCrystals = 5``) with weights max(0, ln(f_i E_i / 0.8 GeV)) (PF-H; v). 0 = all cells.
ECAL_POSITION_CELLS = 0
ECAL_POSITION_W0 = 4.2
HCAL_POSITION_CELLS = 5
#: Gaussian σ of the PF energy sharing between clusters of one topological cluster: ``showerSigma`` 1.5 cm
#: (ECAL) and 10 cm (HCAL) (PF-E, PF-H; v), turned into rad at the ECAL face (1.29 m, DEL; v) and at an HCAL
#: radius of 1.9 m (unverified; the same depth as constants.HADRON_HCAL_RADIUS), i.e. 0.0116 and 0.053 (d).
HCAL_RADIUS = 1.9
ECAL_SHOWER_SIGMA = 0.015 / 1.29
HCAL_SHOWER_SIGMA = 0.10 / HCAL_RADIUS
#: Energy-sharing iterations stop when no cluster moved by more than this fraction of a cell, or after the
#: iteration limit (PF: ``maxIterations = 50``, ``stoppingTolerance = 1e-8`` in cm; ours in cells; d).
PF_CLUSTER_TOLERANCE = 1e-3
PF_CLUSTER_MAX_ITERATIONS = 50

# --- Hadron energy measurement ------------------------------------------------------------------------------
#: Calibrated hadron energy resolution in ECAL + HCAL: σ/E = 84.7 %/√E ⊕ 7.4 % (TB09, EB+HB test beam, π,
#: corrected, E > 5 GeV; v), with mean response 1 (a calibrated PF neutral hadron).
PF_HADRON_STOCHASTIC = 0.847
PF_HADRON_CONSTANT = 0.074

# --- Candidate masses (PDG; v) ------------------------------------------------------------------------------
#: PF gives charged hadrons the π± mass and muons the μ mass; photons, electrons and neutral hadrons are massless.
CHARGED_PION_MASS = 0.13957
MUON_MASS = 0.10566

# --- EM shower spots for PF (design; d) ---------------------------------------------------------------------
#: Spots per shower: 0.5 × the GFlash count and no cap. With the jet-image cap (0.25, at most 1000 spots) a
#: 200 GeV photon's spots carry 0.2 GeV each, and lone tail spots become local maxima above the 0.23 GeV seed
#: threshold: 1.5 extra clusters per photon. At 0.25 uncapped 2–3 % of 200–500 GeV photons still split, at 0.5
#: 0.3 %, at 1.0 none (300 photons each; docs/reference-simulation.md, "Particle flow").
PF_EM_SPOT_FRACTION = 0.5
PF_EM_SPOTS_MAX = 10_000_000

# --- PF cluster calibration (d: derived from this simulation) -----------------------------------------------
#: (mean raw cluster energy [GeV], mean raw response) of single photons (ECAL) and K0L (HCAL) at |η| < 1.5 with
#: the default configuration, from ``pflow.derive_calibration`` (docs/reference-simulation.md gives the call).
#: Like the PF ECAL and hadron calibrations, it restores the energy lost below the cell thresholds and noise.
PF_ECAL_CALIBRATION: tuple[tuple[float, ...], tuple[float, ...]] = (
    (0.4065, 0.867, 1.7999, 2.7554, 4.679, 9.5849, 19.4362, 49.1724, 99.0996, 198.9771, 499.3518, 999.5454),
    (0.813, 0.867, 0.8999, 0.9185, 0.9358, 0.9585, 0.9718, 0.9834, 0.991, 0.9949, 0.9987, 0.9995),
)  # photons of 0.5, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000 GeV, 400 each, rng seed 2024
PF_HCAL_CALIBRATION: tuple[tuple[float, ...], tuple[float, ...]] = (
    (2.866, 4.4597, 9.2143, 19.1154, 48.8013, 99.1075, 199.8474, 500.5057, 1001.5866),
    (0.9553, 0.8919, 0.9214, 0.9558, 0.976, 0.9911, 0.9992, 1.001, 1.0016),
)  # K0L of 3, 5, 10, 20, 50, 100, 200, 500, 1000 GeV, 3000 each, rng seed 2025; at 3 GeV the thresholds
#    keep only upward fluctuations, hence the response rises again below 5 GeV
