"""Every constant of the reference detector, named once, with its PHYSICS.md source key and tag.

Tags: (v) checked against the named source; (d) derived from checked inputs; (unverified) a reasonable
default not confirmed by a source. Units: GeV, m, cm (only where marked), rad, T.
"""

from __future__ import annotations

import math

__all__ = [
    "B_FIELD",
    "ECAL_CONSTANT",
    "ECAL_NOISE",
    "ECAL_RADIUS",
    "ECAL_STOCHASTIC",
    "ECAL_THRESHOLD",
    "EC_PBWO4",
    "EM_RADIUS_MAX",
    "EM_SPOTS_MAX",
    "EM_SPOTS_MIN",
    "EM_SPOT_FRACTION",
    "GFLASH_SPOTS_PER_LNZ",
    "GFLASH_SPOT_ALPHA",
    "GFLASH_SPOT_T",
    "HADRON_ECAL_LAMBDA",
    "HADRON_ECAL_RADIUS",
    "HADRON_HCAL_RADIUS",
    "HADRON_SHOWER_LENGTH",
    "HADRON_SPOTS_MAX",
    "HADRON_SPOTS_PER_GEV",
    "HCAL_CONSTANT",
    "HCAL_NOISE",
    "HCAL_RESPONSE_E0",
    "HCAL_RESPONSE_SCALE",
    "HCAL_STOCHASTIC",
    "HCAL_THRESHOLD",
    "HELIX_K",
    "MIP_ECAL_MEAN",
    "MIP_ECAL_WIDTH",
    "MIP_HCAL_MEAN",
    "MIP_HCAL_WIDTH",
    "MOLIERE_RADIUS_CM",
    "NUCLEON_MASS",
    "P_ECAL_START",
    "TRACK_EFFICIENCY",
    "TRACK_ETA_EDGES",
    "TRACK_PT_EFF_EDGE",
    "TRACK_PT_MIN",
    "TRACK_RESOLUTION",
    "WINDOW_MARGIN",
    "Z_EFF_PBWO4",
]

# --- Solenoid and tracker (PHYSICS.md §3) -------------------------------------------------------------
#: Solenoid field along +z [T] (DEL, FS-Calo; v).
B_FIELD = 3.8
#: Helix constant: r_curv[m] = pT[GeV] / (HELIX_K · |q| · B[T]) (DEL-PP; v).
HELIX_K = 0.2998
#: Lowest generator pT a track is given an efficiency for [GeV] (DEL; v). Reaching the ECAL needs ≈0.735.
TRACK_PT_MIN = 0.1
#: Efficiency step: 1 GeV (DEL; v).
TRACK_PT_EFF_EDGE = 1.0
#: |η| band upper edges of the Delphes tracker: ≤0.5, ≤1.5, ≤2.5; nothing beyond 2.5 (DEL; v).
TRACK_ETA_EDGES = (0.5, 1.5, 2.5)
#: π± efficiency per band, (pT ≤ 1 GeV, pT > 1 GeV) (DEL; v).
TRACK_EFFICIENCY = ((0.70, 0.95), (0.70, 0.95), (0.60, 0.85))
#: σ(pT)/pT = √(a² + (b·pT)²) per band, (a, b) (DEL; v).
TRACK_RESOLUTION = ((0.010, 1.5e-4), (0.015, 2.5e-4), (0.025, 5.5e-4))

# --- ECAL barrel, PbWO4 (PHYSICS.md §1) ----------------------------------------------------------------
#: Inner radius of the ECAL barrel [m] (DEL; v).
ECAL_RADIUS = 1.29
#: Effective Z of PbWO4 as in FastSim (FS-Calo; v).
Z_EFF_PBWO4 = 68.36
#: Critical energy [GeV] (FS-Calo; v).
EC_PBWO4 = 8.74e-3
#: Molière radius [cm] (FS-Calo, PF17; v).
MOLIERE_RADIUS_CM = 2.19
#: Stochastic and constant terms of σ/E (TB07, 3×3 test beam; v).
ECAL_STOCHASTIC = 0.028
ECAL_CONSTANT = 0.003
#: Gaussian noise per crystal [GeV] (FS-RH: 1.054 ADC × 0.035 GeV/ADC; v).
ECAL_NOISE = 0.037
#: Zero suppression per crystal [GeV]: 3σ of ECAL_NOISE, between the FS-RH rec-hit threshold 0.10 GeV and
#: the PF seed 0.23 GeV (FS-RH, PF-E; d). Implies 125² · Q(3) ≈ 21 pure-noise hits per image.
ECAL_THRESHOLD = 0.111

# --- GFlash homogeneous EM showers (PHYSICS.md §4; G4, FS-EM, FS-GF; v) ---------------------------------
#: N_spots = 93 · ln Z · E^0.876 (FS-GF; v).
GFLASH_SPOTS_PER_LNZ = 93.0
#: Spot depth profile: T and α scaled by (a + b·Z) (FS-GF; v).
GFLASH_SPOT_T = (0.698, 0.00212)
GFLASH_SPOT_ALPHA = (0.639, 0.00334)
#: Our speed compromise: each shower gets clip(EM_SPOT_FRACTION · N_GFlash, MIN, MAX) spots, each carrying
#: E/N. The energy resolution comes from the smearing of the total, not from the spot count (design; d).
EM_SPOT_FRACTION = 0.25
EM_SPOTS_MIN = 20
EM_SPOTS_MAX = 1000
#: Radial sampling is truncated at this radius in Molière radii; PDG34 puts 99 % within 3.5 R_M (design; d).
EM_RADIUS_MAX = 5.0

# --- Hadrons and MIPs (PHYSICS.md §2, §5) ----------------------------------------------------------------
#: ECAL depth in interaction lengths, "≈1 λ_I"; 1.1 as in DESIGN.md (PF17; d).
HADRON_ECAL_LAMBDA = 1.1
#: Probability to start showering in the ECAL, 1 − exp(−1.1) = 0.667 (PHYSICS.md §5 gives 0.64–0.71; d).
P_ECAL_START = 1.0 - math.exp(-HADRON_ECAL_LAMBDA)
#: Hadron shower longitudinal scale [λ_I]: fraction contained after depth d is 1 − exp(−d/ℓ) (unverified).
HADRON_SHOWER_LENGTH = 1.0
#: Lateral scale of hadron deposits in f(r) = 2rR²/(r²+R²)², R = r95/√19 so 95 % lies within r95 = 1 λ_I
#: (PHYSICS.md §5, unverified): ECAL λ_I ≈ 20.3 cm at 1.29 m → 0.036 rad; HCAL brass λ_I ≈ 16.4 cm at
#: ≈1.9 m → 0.020 rad (unverified).
HADRON_ECAL_RADIUS = 0.036
HADRON_HCAL_RADIUS = 0.020
#: Lateral spots per GeV of a hadron deposit, and the cap (design; d).
HADRON_SPOTS_PER_GEV = 10.0
HADRON_SPOTS_MAX = 200
#: Calorimeter pion response R(E) = scale · E / (1 + E0/E), FastSim "old" HB model (FS-HR; v).
HCAL_RESPONSE_SCALE = 0.95
HCAL_RESPONSE_E0 = 3.0
#: σ/E = √(stochastic²/E + constant²) (FS-HR old model; v).
HCAL_STOCHASTIC = 1.22
HCAL_CONSTANT = 0.05
#: Gaussian noise per HCAL tower [GeV] (unverified) and zero suppression [GeV] (PF-H Run 2 gather; v).
HCAL_NOISE = 0.2
HCAL_THRESHOLD = 0.8
#: MIP in 23 cm PbWO4: mean 235 MeV (PUMAS; d); Moyal width 20 MeV, MPV ≈ 210 MeV (unverified).
MIP_ECAL_MEAN = 0.235
MIP_ECAL_WIDTH = 0.020
#: Muon in HB: 12.6 MeV/cm (Cu, PUMAS; v) × ≈95 cm brass (5.82 λ_I × 16.4 cm; unverified) ≈ 1.2 GeV.
MIP_HCAL_MEAN = 1.2
MIP_HCAL_WIDTH = 0.1
#: Nucleon mass [GeV]: baryons deposit E − m, antibaryons E + m (PDG; v).
NUCLEON_MASS = 0.938

# --- Window bookkeeping (design) ----------------------------------------------------------------------------
#: Particles whose impact lies farther than the window half-width + this margin [rad] cannot deposit in the
#: window: larger than the widest lateral reach (EM 5 R_M = 0.085, hadron tails ≈ 0.15) (design; d).
WINDOW_MARGIN = 0.25
