"""Every constant of the LHCb-like Shashlik ECAL reference simulation, named once, with its source and tag.

Tags as in :mod:`mlfastsim.physics.detector.constants`: (v) checked against the named source; (d) derived from
checked inputs; (unverified) a reasonable default not confirmed by a source read here. Units: mm, GeV, g/cm²
(marked), rad. Source keys: PHYSICS.md "Source keys" (LHCbCal, LHCb14, PDG34, G4) plus PDG-AP = PDG "Atomic and
nuclear properties of materials" tables (values quoted from memory, hence unverified here).
"""

from __future__ import annotations

__all__ = [
    "CELL_MM",
    "DIPOLE_KICK_GEV",
    "ECAL_FACE_Z_MM",
    "ENERGY_RANGE_GEV",
    "GRID",
    "INNER_CELL_MM",
    "INNER_HOLE_MM",
    "INNER_OUTER_X_MM",
    "INNER_OUTER_Y_MM",
    "LAYERS",
    "LEAD",
    "LEAD_MM",
    "MAGNET_Z_MM",
    "MAX_SLOPE_X",
    "MAX_SLOPE_Y",
    "NOISE_GEV",
    "PHOTON_FREE_PATH_X0",
    "RADIUS_MAX_RM",
    "SAMPLING_CONSTANT",
    "SAMPLING_STOCHASTIC",
    "SCINTILLATOR",
    "SCINT_MM",
    "SPOTS_MAX",
    "SPOTS_MIN",
    "SPOT_FRACTION",
    "THRESHOLD_GEV",
    "VERTEX_SIGMA_Z_MM",
]

# --- Geometry (PHYSICS.md §7; LHCbCal geometry page of the TDR; v) ------------------------------------------
#: z of the ECAL front face [mm] (LHCbCal: "ECAL starts at Z = 12490 mm"; v).
ECAL_FACE_Z_MM = 12490.0
#: Inner-region readout cell [mm] (LHCbCal; v).
INNER_CELL_MM = 40.4
#: Inner acceptance, the beam-hole edge of the read-out area: |x|, |y| ≤ 323.2 mm is not read out (LHCbCal; v).
INNER_HOLE_MM = 323.2
#: Outer edge of the inner region: |x| ≤ 8 · 121.2 = 969.6 mm, |y| ≤ 6 · 121.2 = 727.2 mm (LHCbCal; v).
INNER_OUTER_X_MM = 969.6
INNER_OUTER_Y_MM = 727.2
#: The response grid of seed 004: 30 × 30 cells of 20 mm ("20 mm cells to fit both 40 mm and 60 mm cells";
#: the real cells are 40.4 / 60.6 mm, so 20.2 mm would tile them exactly — the issue's contract says 20).
GRID = 30
CELL_MM = 20.0

# --- Shashlik sampling structure (unverified: the LHCb ECAL module as usually described) ---------------------
#: 66 layers of 2 mm lead and 4 mm scintillator (paper/TYVEK sheets neglected): 396 mm, ≈24 X0 with the
#: effective X0 below (PHYSICS.md quotes 25 X0, unverified).
LAYERS = 66
LEAD_MM = 2.0
SCINT_MM = 4.0
#: Materials (PDG-AP; unverified here): Z, A [g/mol], density [g/cm³], X0 [g/cm²], critical energy for
#: electrons [GeV]. Polystyrene (C8H8) Z, A are mass-weighted means of C and H, as Geant4's GetEffZ does.
LEAD = {"Z": 82.0, "A": 207.2, "density": 11.35, "x0": 6.37, "ec": 7.43e-3}
SCINTILLATOR = {"Z": 5.61, "A": 11.16, "density": 1.06, "x0": 43.79, "ec": 93.11e-3}

# --- Resolution, noise and readout ----------------------------------------------------------------------------
#: σ/E = a/√E ⊕ b: a = 10 %, b = 1 % (PHYSICS.md §7; unverified). a enters as the GFlash sampling
#: fluctuation of every spot (Gamma, variance a²·e), b as a per-shower calibration spread.
SAMPLING_STOCHASTIC = 0.10
SAMPLING_CONSTANT = 0.01
#: Gaussian noise per 20 mm cell [GeV] and zero suppression at 3σ (unverified: a few ADC counts of a real
#: 40 mm cell shared over four 20 mm cells; it gives ≈1 pure-noise cell above threshold per map).
NOISE_GEV = 0.005
THRESHOLD_GEV = 0.015

# --- GFlash spots and truncation (design; d) --------------------------------------------------------------------
#: Spots per shower: SPOT_FRACTION · 10.3/a · E^0.959 (G4 sampling tuning, N = n1/σ_samp · E^n2), clipped.
#: Sampling fluctuations come from the per-spot Gamma energies, so the fraction only sets the granularity.
SPOT_FRACTION = 0.5
SPOTS_MIN = 50
SPOTS_MAX = 8000
#: Radial sampling truncated at this radius in Molière radii (PDG34: 99 % within 3.5 R_M; as the CMS-like ECAL).
RADIUS_MAX_RM = 5.0
#: Photons convert after an exponential depth of mean 9/7 X0 (PDG34 pair-production mean free path; v).
PHOTON_FREE_PATH_X0 = 9.0 / 7.0

# --- Particle gun: as from the interaction point ----------------------------------------------------------------
#: Energy spectrum: flat in ln E on [2, 100] GeV (a choice, as CaloChallenge's log-uniform energies: equal
#: showers per decade, so that the model sees every energy; d).
ENERGY_RANGE_GEV = (2.0, 100.0)
#: Luminous-region spread along z [mm] (unverified; LHCb's is ≈ 40–60 mm); x, y spread neglected.
VERTEX_SIGMA_Z_MM = 50.0
#: The dipole's transverse kick: 0.2998 · ∫B dl with ∫B dl ≈ 4 T m (LHCb14; v) → 1.2 GeV (d), applied to
#: electrons as one kink in the x–z plane at the magnet's centre (unverified z ≈ 5.3 m).
DIPOLE_KICK_GEV = 0.2998 * 4.0
MAGNET_Z_MM = 5300.0
#: Geometric acceptance of the slopes at the vertex: 300 mrad horizontal, 250 mrad vertical (PHYSICS.md §6,
#: RICH13 15–300 mrad; the 250 mrad vertical limit unverified). Electrons bent outside it are redrawn.
MAX_SLOPE_X = 0.30
MAX_SLOPE_Y = 0.25
