"""Every constant of the LHCb-like RICH reference simulation, named once, with its source and tag.

Tags as in :mod:`mlfastsim.physics.detector.constants`: (v) checked against the named source; (d) derived from
checked inputs; (unverified) a reasonable default not confirmed by a source read here; (ours) a modelling choice
with no source, stated as such. Source keys: PHYSICS.md §6 and "Source keys" (STFC, RICH13 = EPJC 73 (2013)
2431 = arXiv:1211.6759, LHCb14 = arXiv:1407.4289); PDG24 = Review of Particle Physics (2024), particle
listings. Units: GeV, GeV/c, rad.
"""

from __future__ import annotations

import math

__all__ = [
    "BACKGROUND_BASE",
    "BACKGROUND_PER_TRACK",
    "ETA_RANGE",
    "MASSES",
    "PDG_IDS",
    "PHOTONS_SATURATED",
    "POLAR_ACCEPTANCE",
    "P_MIN",
    "RADIATORS",
    "REFRACTIVE_INDEX_MINUS_1",
    "SIGMA_THETA",
    "SPECIES",
    "WINDOW_FACTOR",
    "saturated_angle",
]

#: The five track species of the PID table, in the order of its ``species`` index (LHCb's hypotheses).
SPECIES = ("e", "mu", "pi", "K", "p")
#: |PDG id| of each species (PDG24; v).
PDG_IDS = {"e": 11, "mu": 13, "pi": 211, "K": 321, "p": 2212}
#: Masses [GeV/c²] (PDG24; v): e 0.51099895 MeV, μ 105.6583755 MeV, π± 139.57039 MeV, K± 493.677 MeV,
#: p 938.27208816 MeV.
MASSES = {"e": 0.51099895e-3, "mu": 0.1056583755, "pi": 0.13957039, "K": 0.493677, "p": 0.93827208816}

#: The two gas radiators of Run 2 (aerogel removed; STFC, v).
RADIATORS = ("RICH1", "RICH2")
#: n − 1 of C4F10 (RICH1) and CF4 (RICH2) (PHYSICS.md §6; unverified, educational source). The thresholds
#: m / √(n² − 1) follow: π/K/p 2.6/9.3/17.7 GeV/c (RICH1), 4.4/15.6/29.7 GeV/c (RICH2) (d).
REFRACTIVE_INDEX_MINUS_1 = {"RICH1": 1.4e-3, "RICH2": 5e-4}
#: Photoelectrons of a saturated (β → 1) track (PHYSICS.md §6: ≈30 and ≈22; unverified, arXiv:1703.09927
#: partly read). The yield scales as sin²θ_c / sin²θ_c,sat (Frank–Tamm, PDG34 §34.7; v).
PHOTONS_SATURATED = {"RICH1": 30.0, "RICH2": 22.0}
#: Single-photon Cherenkov-angle resolution [rad] (PHYSICS.md §6: ≈1.6 and ≈0.7 mrad; unverified).
SIGMA_THETA = {"RICH1": 1.6e-3, "RICH2": 0.7e-3}
#: Polar-angle acceptance of each radiator [rad]: RICH1 25–300 mrad, RICH2 15–120 mrad (unverified: the LHCb
#: detector paper's horizontal acceptances as remembered; RICH13 quotes 15–300 mrad for the system, v).
#: A track of pseudorapidity η has polar angle θ = 2 arctan(e^−η): RICH1 sees η < 4.38, RICH2 η > 2.81.
POLAR_ACCEPTANCE = {"RICH1": (0.025, 0.300), "RICH2": (0.015, 0.120)}
#: The spectrometer's acceptance in η (LHCb14, v) and the tracks' momentum cut [GeV/c] (ours): above the
#: RICH1 pion threshold, so that every track in RICH1 acceptance can radiate as a pion; LHCb's PID
#: calibration binning also starts at 3 GeV/c.
ETA_RANGE = (2.0, 5.0)
P_MIN = 3.0
#: Background photoelectrons in a track's search window: BASE + PER_TRACK × nTracks (ours, no source: photons
#: of overlapping rings, scattered light and noise grow with the event's multiplicity; at the median Pythia
#: minimum-bias multiplicity of 12 tracks this is ≈4 photons in RICH1, ≈13 % of a saturated ring, and ≈1.7 in
#: RICH2).
BACKGROUND_BASE = {"RICH1": 1.0, "RICH2": 0.5}
BACKGROUND_PER_TRACK = {"RICH1": 0.25, "RICH2": 0.1}
#: The search window extends to WINDOW_FACTOR × the saturated angle (ours); background photons fall
#: uniformly on the window's disc (density ∝ θ in the Cherenkov angle).
WINDOW_FACTOR = 1.25


def saturated_angle(radiator: str) -> float:
    """θ_c for β → 1, acos(1/n) [rad]: 52.9 mrad (RICH1), 31.6 mrad (RICH2) (PHYSICS.md §6; d)."""
    return math.acos(1.0 / (1.0 + REFRACTIVE_INDEX_MINUS_1[radiator]))
