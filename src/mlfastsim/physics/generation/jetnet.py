"""JetNet-like Pythia 8 presets (seed 003's particle-cloud jets): g, q, t, W, Z jets of ≈ 1 TeV, R = 0.8.

JetNet (Kansal et al., NeurIPS 2021, arXiv:2106.11535; Zenodo 6975118; PHYSICS.md §9, JN) generated the hard
process with MadGraph5_aMC@NLO at LO, with partons in a ΔpT/pT = 0.01 window at 1 TeV, showered with Pythia
8.212 (Monash 2013 + underlying event), and clustered anti-kT jets with FastJet; ≈ 0.88 jets per generated
event survive (170–178 k of 200 k per class). Here the hard 2→2 is Pythia's own (no MadGraph): at LO its
pTHat *is* the outgoing partons' (or boson's / top's) pT, so ``PhaseSpace:pTHat`` in [995, 1005] GeV gives the
same 1 % window. 13 TeV, Monash (``Tune:pp = 14``), MPI and ISR/FSR on (Pythia defaults).

Common choices (PHYSICS.md §9 leaves R and the jet window unverified):

* anti-kT R = 0.8 (JetNet's large-R jets).
* |η_jet| < 1.7 = 2.5 − R: every particle within R of the axis lies inside the tracker (|η| < 2.5, DEL), so
  the particle-flow detector level sees the whole jet with tracks. With 1 TeV partons this drops ≈ 1 % of the
  leading jets (|η| < 2.5 would keep all but ≈ 0.1 %).
* jet pT in [800, 1600) GeV: keeps the 1 TeV peak and drops jets that lost more than a fifth of the parton
  pT out of the cone (hard wide-angle FSR) or picked up a hard ISR jet; the upper edge is far above what the
  1 TeV partons and the UE reach. With one jet per event this keeps 0.95–1.0 jets per event (JetNet kept
  0.85–0.89; its jet cuts are not documented).
* one jet per event (``max_jets_per_event = 1``, the leading jet in the window that passes the label rule), as
  JetNet's jet counts (fewer jets than events) imply; jets of one event are then never both in the sample.
"""

from __future__ import annotations

from mlfastsim._utils import InputError
from mlfastsim.physics.generation.presets import ProcessPreset

__all__ = ["JETNET_ABS_ETA", "JETNET_PRESETS", "JETNET_PT_WINDOW", "JETNET_RADIUS", "get_jetnet_preset"]

#: anti-kT radius of the JetNet jets (PHYSICS.md §9, unverified there; JetNet's large-R jets).
JETNET_RADIUS = 0.8
#: |η_jet| < 2.5 − R: the whole jet inside the tracker acceptance (PHYSICS.md §3, DEL).
JETNET_ABS_ETA = 2.5 - JETNET_RADIUS
#: Jet pT window [GeV], pt_min ≤ pT < pt_max.
JETNET_PT_WINDOW = (800.0, 1600.0)

_COMMON = (
    "Beams:eCM = 13000.",
    "Tune:pp = 14",
    "PhaseSpace:pTHatMin = 995.",
    "PhaseSpace:pTHatMax = 1005.",
)
_W_HADRONIC = ("24:onMode = off", "24:onIfAny = 1 2 3 4 5")
_Z_HADRONIC = ("23:onMode = off", "23:onIfAny = 1 2 3 4 5")
_WINDOW = (
    "Anti-kT R = 0.8 jets with 800 ≤ pT < 1600 GeV and |η| < 1.7, one per event (the leading that passes)"
)


def _cost(jets_per_event: str, ms_per_jet: int) -> str:
    """The measured cost sentence of a description (60 jets, seed 4242, one core of the 2-core dev machine)."""
    return (
        f" Measured (60 jets, seed 4242, one core): {jets_per_event} selected jets per event, "
        f"≈ {ms_per_jet} ms CPU per selected jet (Pythia + particle extraction + clustering)."
    )


def _preset(name: str, description: str, settings: tuple[str, ...], label_rule: str) -> ProcessPreset:
    return ProcessPreset(
        name=name,
        description=description,
        settings=(*_COMMON, *settings),
        jet_radius=JETNET_RADIUS,
        jet_pt_min=JETNET_PT_WINDOW[0],
        jet_pt_max=JETNET_PT_WINDOW[1],
        jet_abs_eta_max=JETNET_ABS_ETA,
        label_rule=label_rule,
        max_jets_per_event=1,
    )


JETNET_PRESETS: dict[str, ProcessPreset] = {
    "g": _preset(
        "g",
        "Gluon jets (JetNet g): HardQCD gg → gg and qq̄ → gg at 13 TeV, Monash, pTHat in [995, 1005] GeV "
        f"(both outgoing partons gluons). {_WINDOW}, kept when the nearest outgoing hard parton within "
        "ΔR < 0.8 is a gluon; y = 0." + _cost("1.00", 38),
        ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"),
        "gluon",
    ),
    "q": _preset(
        "q",
        "Light-quark jets (JetNet q): HardQCD qq′ → qq′, qq̄ → q′q̄′ and gg → qq̄ with new flavours u, d, s "
        "(HardQCD:nQuarkNew = 3) at 13 TeV, Monash, pTHat in [995, 1005] GeV; at 1 TeV valence qq′ → qq′ "
        f"dominates. {_WINDOW}, kept when the nearest outgoing hard parton within ΔR < 0.8 is a u, d or s "
        "(anti)quark (sea c, b from qq′ → qq′ dropped); y = 0." + _cost("0.97", 29),
        (
            "HardQCD:qq2qq = on",
            "HardQCD:qqbar2qqbarNew = on",
            "HardQCD:gg2qqbar = on",
            "HardQCD:nQuarkNew = 3",
        ),
        "light-quark",
    ),
    "t": _preset(
        "t",
        "Top jets (JetNet t): tt̄ (Top:gg2ttbar, Top:qqbar2ttbar) at 13 TeV, Monash, top pT = pTHat in "
        f"[995, 1005] GeV, W → quarks (all-hadronic tt̄). {_WINDOW}, kept when the b and both W-daughter "
        "quarks of one top lie within ΔR < 0.8 of the axis (fully merged top); y = 1." + _cost("0.95", 25),
        ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *_W_HADRONIC),
        "top-merged",
    ),
    "w": _preset(
        "w",
        "W jets (JetNet W): W + parton (WeakBosonAndParton:qqbar2Wg, qg2Wq) at 13 TeV, Monash, W pT = pTHat "
        f"in [995, 1005] GeV, W → quarks. {_WINDOW}, kept when both W daughters lie within ΔR < 0.8 of the "
        "axis (fully merged W); y = 1." + _cost("0.95", 24),
        ("WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on", *_W_HADRONIC),
        "w-merged",
    ),
    "z": _preset(
        "z",
        "Z jets (JetNet Z): Z + parton (WeakBosonAndParton:qqbar2gmZg, qg2gmZq with WeakZ0:gmZmode = 2, pure "
        f"Z, no γ*) at 13 TeV, Monash, Z pT = pTHat in [995, 1005] GeV, Z → u, d, s, c, b. {_WINDOW}, kept "
        "when both Z daughters lie within ΔR < 0.8 of the axis (fully merged Z); y = 1." + _cost("0.95", 31),
        (
            "WeakBosonAndParton:qqbar2gmZg = on",
            "WeakBosonAndParton:qg2gmZq = on",
            "WeakZ0:gmZmode = 2",
            *_Z_HADRONIC,
        ),
        "z-merged",
    ),
}


def get_jetnet_preset(name: str) -> ProcessPreset:
    """The JetNet preset ``name`` (g, q, t, w, z); :class:`~mlfastsim._utils.InputError` otherwise."""
    try:
        return JETNET_PRESETS[name]
    except KeyError:
        raise InputError(
            f"unknown particle-jets process {name!r}; choose one of: {', '.join(JETNET_PRESETS)}"
        ) from None
