"""Every constant of the reference NICA MPD TPC pad-row simulation, named once, with its source and tag.

Tags as in ``PHYSICS.md``: (v) checked against the named source; (d) derived from checked inputs;
(unverified) a reasonable default not confirmed by a source. Sources (PHYSICS.md §8 and its keys): MPD =
MpdRoot ``tpc/MpdTpcSectorGeo.cxx``, ``tpc/MpdTpcDigitizerAZ.cxx`` / ``tpc/MpdTpcFastDigitizer.cxx``; gas
table = MpdRoot ``geometry/Ar-90_CH4-10.asc`` (a Garfield/Heed output for Ar/CH4 90/10 at 130 V/cm, 0.5 T,
293 K, 1013 hPa). Units: cm, ns, electrons, ADC counts, rad.
"""

from __future__ import annotations

import math

__all__ = [
    "ADC_MAX",
    "ADC_PER_ELECTRON",
    "CLUSTER_SIZE_TABLE",
    "CLUSTER_TAIL_MAX",
    "CROSSING_ANGLE_MAX",
    "DEDX_MIP_KEV_PER_CM",
    "DIFFUSION_L",
    "DIFFUSION_T",
    "DIP_ANGLE_MAX",
    "DRIFT_MAX",
    "DRIFT_MIN",
    "DRIFT_VELOCITY",
    "GAIN",
    "NOISE_ADC",
    "N_PADS",
    "N_TIME",
    "PAD_BEFORE",
    "PAD_HEIGHT",
    "PAD_WIDTH",
    "POLYA_THETA",
    "PRF_SIGMA",
    "ROW_LENGTH",
    "ROW_NAMES",
    "SHAPING_FWHM",
    "SHAPING_SIGMA",
    "THRESHOLD_ADC",
    "TIME_BEFORE",
    "TIME_BIN",
    "W_EV",
]

# --- Readout plane (MPD, v) ------------------------------------------------------------------------------
#: Pad pitch along a row [cm], inner and outer region alike (MPD, v).
PAD_WIDTH = 0.5
#: Pad height (radial extent of a row) [cm] of the inner (27 rows) and outer (26 rows) region (MPD, v).
PAD_HEIGHT = (1.2, 1.8)
#: Names of the two row types, index = the ``row`` condition.
ROW_NAMES = ("inner", "outer")
#: Length of the stretch of row a segment crosses [cm]: 40 pads, far from the row's ends (no edge effects;
#: a choice of this simulation, not a detector constant).
ROW_LENGTH = 20.0

# --- Gas: Ar/CH4 90/10, 130 V/cm, 0.5 T (gas table, v) -----------------------------------------------------
#: Electron drift velocity [cm/ns] (5.5 cm/µs).
DRIFT_VELOCITY = 0.0055
#: Transverse and longitudinal diffusion coefficients [cm/√cm]: σ = D·√(drift length).
DIFFUSION_T = 0.0185
DIFFUSION_L = 0.032
#: Drift lengths a segment is given [cm]: the readout plane to the central membrane is ≈163 cm (MPD, v);
#: the first 2 cm and last 3 cm are left out so that a dipped segment stays inside the gas (a choice).
DRIFT_MIN, DRIFT_MAX = 2.0, 160.0
#: Energy per ionisation electron [eV] (gas table "average energy for the creation of one electron", v;
#: MpdRoot turns Geant4's energy loss into electrons with it). PDG's W for argon is 26 eV; 35.2 eV is the
#: Heed value for this mixture including the energy that goes into excitation of the quencher.
W_EV = 35.2394
#: Mean energy loss of a minimum-ionising particle in Ar/CH4 90/10 [keV/cm] (d): the composition law
#: Σ xᵢ (dE/dx)ᵢ with 2.44 keV/cm for Ar and 1.48 keV/cm for CH4 (the textbook gas table of Sauli / Leo,
#: unverified against PDG). With W_EV it gives ⟨n_T⟩ = 66.5 electrons per cm.
DEDX_MIP_KEV_PER_CM = 0.9 * 2.44 + 0.1 * 1.48
#: Cluster-size distribution: relative number of primary clusters with 1, 2, …, 99 electrons, and (last
#: entry) with at least 100 (gas table, 130 V/cm, v). Mean size 2.25 over 1–99; with the ≥ 100 entry
#: spread as 1/n² up to CLUSTER_TAIL_MAX (the Rutherford δ-electron spectrum) the mean is 2.63, so the
#: primary cluster density ⟨n_T⟩ / ⟨size⟩ is 25.3 per cm (d) — PDG's 25 per cm for argon.
CLUSTER_SIZE_TABLE = (
    0.63403, 0.19005, 0.07334, 0.03335, 0.017906, 0.010391, 0.0066257, 0.0046042, 0.0034062, 0.0025641,
    0.0020853, 0.001613, 0.0012888, 0.0010765, 0.00094932, 0.00087466, 0.00079435, 0.00072317,
    0.00062637, 0.00053044, 0.00055171, 0.00053304, 0.00056429, 0.00058426, 0.00061465, 0.00057688,
    0.00058166, 0.00050613, 0.00049571, 0.00046055, 0.00039327, 0.00035898, 0.00034162, 0.00030255,
    0.00028475, 0.00027998, 0.00023961, 0.0002179, 0.0002153, 0.00019012, 0.00018188, 0.00015844,
    0.000158, 0.00014368, 0.00013413, 0.00012805, 0.00011373, 0.00011112, 0.00011633, 0.000097666,
    0.000099837, 0.000082474, 0.000095062, 0.000082474, 0.000091155, 0.000077699, 0.000074661,
    0.000077699, 0.000062072, 0.000059468, 0.000054693, 0.000056429, 0.000049484, 0.000043407,
    0.000054693, 0.000048616, 0.000044275, 0.000041237, 0.000041671, 0.000043407, 0.000041671,
    0.000034292, 0.000033858, 0.000039501, 0.000027781, 0.000031687, 0.000029083, 0.000033424,
    0.000030819, 0.000031253, 0.000032555, 0.000027781, 0.000024308, 0.000022138, 0.000026044,
    0.000029083, 0.000019099, 0.000023006, 0.000022572, 0.000020401, 0.000027781, 0.000018231,
    0.000024308, 0.000026478, 0.00002344, 0.000018665, 0.000018231, 0.000019099, 0.000016061,
    0.0014806,
)  # fmt: skip
#: Largest cluster [electrons] of the 1/n² tail (a 35 keV δ-electron; unverified: MpdRoot stops at ≈100,
#: Garfield's default is 2000). Clusters are point-like: δ-electron ranges are not simulated.
CLUSTER_TAIL_MAX = 1000

# --- Amplification and electronics (MPD, v) ----------------------------------------------------------------
#: Mean gas gain [electrons per drift electron] and the Polya parameter θ: the gain of each electron is
#: G·λ with λ ∝ λ^θ e^{−(1+θ)λ} (a Gamma distribution of shape 1 + θ and mean 1).
GAIN = 1000.0
POLYA_THETA = 1.5
#: Pad response function: Gaussian induced-charge spread σ [cm], integrated over each pad in both
#: directions (MPD, v). MpdRoot's lookup table integrates with erf(x/σ), an effective σ/√2; we take the
#: documented σ at face value.
PRF_SIGMA = 0.196
#: Time bucket [ns] and the shaper: a Gaussian of FWHM 190 ns, peak-normalised (MPD, v).
TIME_BIN = 100.0
SHAPING_FWHM = 190.0
SHAPING_SIGMA = SHAPING_FWHM / (2.0 * math.sqrt(2.0 * math.log(2.0)))
#: ADC counts per electron of shaped signal at the peak (MpdRoot divides by 30: one drift electron of
#: mean gain gives ≈33 ADC at its pulse peak before the pad response; MPD, v).
ADC_PER_ELECTRON = 1.0 / 30.0
#: 12-bit ADC: saturation at 4095 counts; zero suppression keeps samples above 30 counts (MPD, v).
ADC_MAX = 4095
THRESHOLD_ADC = 30
#: Electronic noise per sample [ADC counts], Gaussian, independent between samples (unverified: MpdRoot
#: adds none; chosen so that the threshold is 4σ of the noise, 0.4 % of windows hold a noise sample).
NOISE_ADC = 7.5

# --- Segments and windows (seed 004: 8 pads × 16 time buckets) ------------------------------------------------
N_PADS, N_TIME = 8, 16
#: The window starts PAD_BEFORE pads before the pad holding the crossing point and TIME_BEFORE buckets
#: before its bucket: the crossing lies in window pad [3, 4) and bucket [7, 8), the window's centre.
PAD_BEFORE, TIME_BEFORE = 3, 7
#: Ranges of the crossing angle |φ| (track vs the pad-row normal, in the pad plane) and of the dip angle
#: |λ| (track vs the pad plane) [rad]; |λ| ≤ 1 covers |η| ≲ 1.2 (a choice: the window holds the signal).
CROSSING_ANGLE_MAX = 0.6
DIP_ANGLE_MAX = 1.0
