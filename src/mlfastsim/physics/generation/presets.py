"""Pythia 8 process presets: hard process, jet definition, kinematic window and truth-label rule.

Settings follow the Pythia 8.3 manual (Bierlich et al., SciPost Phys. Codebases 8 (2022)): 13 TeV pp,
Monash 2013 tune (``Tune:pp = 14``, the default; Skands, Carrazza, Rojo, EPJC 74 (2014) 3024). The samples
mimic the public CMS end-to-end jet images (q/g R = 0.4; boosted top R = 0.8, pT > 400 GeV) and JetNet
(boosted t/W/q/g, R = 0.8); see ``PHYSICS.md`` §9. Jets are kept inside the ECAL barrel, |η| < 1.479.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlfastsim._utils import InputError

__all__ = ["ECAL_BARREL_ABS_ETA", "LABEL_RULES", "PRESETS", "ProcessPreset", "get_preset"]

#: |η| edge of the CMS ECAL barrel (PHYSICS.md §1): every preset keeps jets with |η_jet| < this.
ECAL_BARREL_ABS_ETA = 1.479

#: Label rules understood by :func:`mlfastsim.physics.generation.generate_jets`:
#: ``quark-gluon`` (nearest hard parton within ΔR < R: quark 0, gluon 1, else dropped),
#: ``background`` (every jet, y = 0), ``top-merged`` (b, q, q̄′ of one hadronic top within ΔR < R: y = 1,
#: else dropped), ``w-merged`` (both W daughters within ΔR < R: y = 1, else dropped). The JetNet presets
#: (:mod:`.jetnet`) add ``gluon`` / ``light-quark`` (nearest hard parton within ΔR < R is a gluon / a u, d or
#: s (anti)quark: y = 0, else dropped) and ``z-merged`` (both Z daughters within ΔR < R: y = 1, else dropped).
LABEL_RULES = ("quark-gluon", "background", "top-merged", "w-merged", "gluon", "light-quark", "z-merged")

_COMMON = ("Beams:eCM = 13000.", "Tune:pp = 14")
_W_HADRONIC = ("24:onMode = off", "24:onIfAny = 1 2 3 4 5")


@dataclass(frozen=True)
class ProcessPreset:
    """A generator configuration and the jets it yields.

    Attributes:
        name: preset key.
        description: one paragraph: physics, cuts and label.
        settings: Pythia ``readString`` lines (seed and printing are added by the generator).
        jet_radius: anti-kT R.
        jet_pt_min, jet_pt_max: jet pT window (GeV), ``pt_min ≤ pT < pt_max``; ``pt_max`` may be inf.
        jet_abs_eta_max: jets need |η| < this (the ECAL barrel).
        label_rule: one of :data:`LABEL_RULES`.
        max_jets_per_event: at most this many selected jets per event, leading pT first.
    """

    name: str
    description: str
    settings: tuple[str, ...]
    jet_radius: float
    jet_pt_min: float
    jet_pt_max: float
    jet_abs_eta_max: float
    label_rule: str
    max_jets_per_event: int = 2

    def __post_init__(self) -> None:
        if self.label_rule not in LABEL_RULES:
            raise InputError(
                f"preset {self.name!r}: label_rule {self.label_rule!r} is not one of {LABEL_RULES}"
            )
        if not 0 <= self.jet_pt_min < self.jet_pt_max or self.jet_radius <= 0 or self.max_jets_per_event < 1:
            raise InputError(f"preset {self.name!r}: need 0 ≤ jet_pt_min < jet_pt_max, R > 0, ≥ 1 jet/event")


PRESETS: dict[str, ProcessPreset] = {
    "qcd": ProcessPreset(
        name="qcd",
        description=(
            "Hard QCD 2→2 (HardQCD:all) at 13 TeV, Monash tune, pTHat in [50, 250] GeV. Anti-kT R = 0.4 "
            "jets with 70 ≤ pT < 200 GeV and |η| < 1.479, labelled by the nearest outgoing hard parton "
            "within ΔR < 0.4: (anti)quark y = 0, gluon y = 1; unmatched jets dropped. Mimics the CMS E2E "
            "quark/gluon images. The pTHat window is wider than the jet window because ISR, MPI and "
            "hadronisation move the jet pT away from the parton pT. In a pTHat ∈ [40, 400] GeV sample "
            "(4000 events, 287 selected jets, no pile-up), 2.8 % of selected jets came from pTHat < 50 GeV "
            "(10 % below 60 GeV, which is 1.5× cheaper) and none from pTHat > 250 GeV; the steep spectrum "
            "puts few jets near 200 GeV."
        ),
        settings=(*_COMMON, "HardQCD:all = on", "PhaseSpace:pTHatMin = 50.", "PhaseSpace:pTHatMax = 250."),
        jet_radius=0.4,
        jet_pt_min=70.0,
        jet_pt_max=200.0,
        jet_abs_eta_max=ECAL_BARREL_ABS_ETA,
        label_rule="quark-gluon",
    ),
    "qcd-boosted": ProcessPreset(
        name="qcd-boosted",
        description=(
            "Hard QCD 2→2 (HardQCD:all) at 13 TeV, Monash tune, pTHat > 350 GeV (as ttbar). Anti-kT R = 0.8 "
            "jets with pT > 400 GeV and |η| < 1.479, all y = 0: the light-quark/gluon background of boosted "
            "top tagging (CMS E2E top images, JetNet q/g)."
        ),
        settings=(*_COMMON, "HardQCD:all = on", "PhaseSpace:pTHatMin = 350."),
        jet_radius=0.8,
        jet_pt_min=400.0,
        jet_pt_max=math.inf,
        jet_abs_eta_max=ECAL_BARREL_ABS_ETA,
        label_rule="background",
    ),
    "ttbar": ProcessPreset(
        name="ttbar",
        description=(
            "tt̄ production (Top:gg2ttbar, Top:qqbar2ttbar) at 13 TeV, Monash tune, pTHat > 350 GeV, W forced "
            "to quarks (all-hadronic tt̄). Anti-kT R = 0.8 jets with pT > 400 GeV and |η| < 1.479, kept only "
            "when the b and both W-daughter quarks of one top lie within ΔR < 0.8 of the jet axis (fully "
            "merged top), y = 1. Signal of boosted top tagging (CMS E2E, JetNet t)."
        ),
        settings=(
            *_COMMON,
            "Top:gg2ttbar = on",
            "Top:qqbar2ttbar = on",
            "PhaseSpace:pTHatMin = 350.",
            *_W_HADRONIC,
        ),
        jet_radius=0.8,
        jet_pt_min=400.0,
        jet_pt_max=math.inf,
        jet_abs_eta_max=ECAL_BARREL_ABS_ETA,
        label_rule="top-merged",
    ),
    "wjets": ProcessPreset(
        name="wjets",
        description=(
            "W + parton (WeakBosonAndParton:qqbar2Wg, qg2Wq) at 13 TeV, Monash tune, pTHat > 350 GeV, "
            "W forced to quarks. Anti-kT R = 0.8 jets with pT > 400 GeV and |η| < 1.479, kept only when "
            "both W daughters lie within ΔR < 0.8 of the jet axis (fully merged W), y = 1 (JetNet W)."
        ),
        settings=(
            *_COMMON,
            "WeakBosonAndParton:qqbar2Wg = on",
            "WeakBosonAndParton:qg2Wq = on",
            "PhaseSpace:pTHatMin = 350.",
            *_W_HADRONIC,
        ),
        jet_radius=0.8,
        jet_pt_min=400.0,
        jet_pt_max=math.inf,
        jet_abs_eta_max=ECAL_BARREL_ABS_ETA,
        label_rule="w-merged",
    ),
}


def get_preset(name: str) -> ProcessPreset:
    """The preset called ``name``; :class:`~mlfastsim._utils.InputError` listing valid names otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"unknown process preset {name!r}; choose one of: {', '.join(PRESETS)}") from None
