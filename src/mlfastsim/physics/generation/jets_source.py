"""The generator-level event loop: Pythia events → anti-kT jets → window, truth label → jet records."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mlfastsim._utils import InputError, progress
from mlfastsim.physics.generation.presets import ProcessPreset
from mlfastsim.physics.generation.pythia import PythiaGenerator, Truth
from mlfastsim.physics.jets import Jet, cluster_jets, delta_r, is_fully_merged, label_quark_gluon

__all__ = ["JetRecord", "generate_jets", "label_jet"]


@dataclass(eq=False)
class JetRecord:
    """One selected, labelled jet and its event.

    Attributes:
        jet: the anti-kT jet (GeV, rad); ``jet.constituents`` index ``particles``.
        y: the label (0.0 or 1.0).
        particles: the event's full particle array (PARTICLE_DTYPE, pile-up included), a copy owned by this
            record with ``in_jet`` True exactly for this jet's constituents.
        generation_seconds: wall time (s) of Pythia, pile-up, particle extraction and clustering attributed
            to this jet: all time since the previous jet (events that gave no jet included) divided equally
            among the jets of the event, so the sum over records is the whole generation cost.
    """

    jet: Jet
    y: float
    particles: np.ndarray
    generation_seconds: float


def label_jet(
    jet: Jet, truth: Truth, preset: ProcessPreset, z_daughters: tuple[np.ndarray, ...] | None = None
) -> int | None:
    """The label of ``jet`` under ``preset.label_rule`` (see :data:`LABEL_RULES`); None drops the jet.

    ``z_daughters``: per hadronic Z, its two daughter quarks (fields ``eta, phi``); needed by ``z-merged``
    only, since :class:`Truth` does not record Z decays (the JetNet event loop reads them).
    """
    radius, rule = preset.jet_radius, preset.label_rule
    if rule == "quark-gluon":
        return label_quark_gluon(jet, truth.partons, radius)
    if rule in ("gluon", "light-quark"):
        flavour = label_quark_gluon(jet, truth.partons, radius)  # 1 gluon, 0 quark, None unmatched
        if flavour is None or flavour != (1 if rule == "gluon" else 0):
            return None
        nearest = int(np.argmin(delta_r(jet.eta, jet.phi, truth.partons["eta"], truth.partons["phi"])))
        return 0 if rule == "gluon" or abs(int(truth.partons["pdgid"][nearest])) <= 3 else None
    if rule == "z-merged":
        if z_daughters is None:
            raise InputError(
                "label rule 'z-merged' needs the Z daughters; generate with generate_particle_jets"
            )
        return 1 if any(is_fully_merged(jet, z, radius) for z in z_daughters) else None
    if rule == "background":
        return 0
    if rule == "top-merged":
        return 1 if any(is_fully_merged(jet, top, radius) for top in truth.tops) else None
    if rule == "w-merged":
        return 1 if any(is_fully_merged(jet, w, radius) for w in truth.ws) else None
    raise ValueError(f"unknown label rule {rule!r}")


def _select(jets: list[Jet], truth: Truth, preset: ProcessPreset) -> list[tuple[Jet, int]]:
    """Jets in the preset's pT/|η| window with a label, leading first, at most ``max_jets_per_event``."""
    out = []
    for jet in jets:  # already sorted by decreasing pT
        if jet.pt >= preset.jet_pt_max or abs(jet.eta) >= preset.jet_abs_eta_max:
            continue
        label = label_jet(jet, truth, preset)
        if label is not None:
            out.append((jet, label))
            if len(out) == preset.max_jets_per_event:
                break
    return out


def generate_jets(
    preset: ProcessPreset,
    n_jets: int,
    seed: int,
    pileup_mu: float = 0.0,
    progress_desc: str | None = None,
) -> Iterator[JetRecord]:
    """Generate events until ``n_jets`` selected, labelled jets are produced; deterministic in ``seed``.

    All particles are clustered, pile-up included, as in data without pile-up subtraction; the jet pT
    window therefore applies to the jet with its pile-up. Labels use the hard-process truth only.

    Args:
        preset: process, jet definition, window and label rule.
        n_jets: number of records to yield.
        seed: Pythia seed in [1, 900000000] (see :class:`PythiaGenerator`).
        pileup_mu: mean number of pile-up interactions per event (Poisson).
        progress_desc: show a progress bar over jets with this description (None: no bar).
    """
    generator = PythiaGenerator(preset, seed, pileup_mu)
    bar = progress(total=n_jets, desc=progress_desc) if progress_desc is not None else None
    produced, pending = 0, 0.0
    try:
        while produced < n_jets:
            start = time.perf_counter()
            event = generator.next_event()
            jets = cluster_jets(event.particles, preset.jet_radius, preset.jet_pt_min)
            selected = _select(jets, event.truth, preset)[: n_jets - produced]
            pending += time.perf_counter() - start
            if not selected:
                continue
            share, pending = pending / len(selected), 0.0
            for jet, label in selected:
                particles = event.particles.copy()
                particles["in_jet"][jet.constituents] = True
                produced += 1
                if bar is not None:
                    bar.update(1)
                yield JetRecord(jet, float(label), particles, share)
    finally:
        if bar is not None:
            bar.close()
