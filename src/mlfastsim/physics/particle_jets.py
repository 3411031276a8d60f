"""The particle-jets event loop: JetNet-like Pythia jets at generator level and through particle flow.

Per selected jet (:mod:`mlfastsim.physics.generation.jetnet`): the generator-level anti-kT jet and its
constituents (JetNet's particles), the region of generator-level particles around it (the detector's input,
stored so that the detector can be run again: the resimulation floor), and the matched detector-level jet made
by :func:`reconstruct_jet`: particle flow (:mod:`mlfastsim.physics.detector.pflow`) on the region, anti-kT
with the same R on the PF candidates, and the reco jet nearest the gen axis within ΔR < R/2.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mlfastsim._utils import InputError, make_rng, progress, shard_seed
from mlfastsim.physics.detector.pflow import RECO_DTYPE, PFlowConfig, reconstruct_particles
from mlfastsim.physics.generation.jetnet import get_jetnet_preset
from mlfastsim.physics.generation.jets_source import label_jet
from mlfastsim.physics.generation.presets import ProcessPreset
from mlfastsim.physics.generation.pythia import TRUTH_DTYPE, PythiaGenerator, Truth
from mlfastsim.physics.jets import Jet, cluster_jets, delta_r

__all__ = [
    "MATCH_FRACTION",
    "REGION_MARGIN",
    "ParticleJetRecord",
    "generate_particle_jets",
    "reconstruct_jet",
]

#: The region stored with a jet: generator-level particles within ΔR < R + REGION_MARGIN of the gen axis. The
#: margin exceeds the lateral reach of showers (EM 5 R_M = 0.085, hadron spots ≤ 0.13) and lets the reco
#: jet's axis move (design; d).
REGION_MARGIN = 0.4
#: A reco jet matches the gen jet when its axis lies within ΔR < MATCH_FRACTION · R (the nearest one wins).
MATCH_FRACTION = 0.5
#: Reco jets below this fraction of the gen jet pT are not clustered out (FastJet's Python layer costs per jet);
#: such a jet could not be the match of a jet with a sane response (design; d).
RECO_PT_MIN_FRACTION = 0.1


@dataclass(eq=False)
class ParticleJetRecord:
    """One selected jet at generator and detector level.

    Attributes:
        gen_jet: float64 ``[4]`` = (pT [GeV], η, φ [rad], mass [GeV]) of the generator-level anti-kT jet.
        gen_constituents: PARTICLE_DTYPE ``[n]``, all constituents of the gen jet, decreasing pT.
        reco_jet: float64 ``[4]`` (pT, η, φ, mass) of the matched detector-level jet; NaN if none matched.
        reco_constituents: RECO_DTYPE ``[m]``, constituents of the matched reco jet, decreasing pT (empty
            if none matched).
        region: PARTICLE_DTYPE ``[r]``, every generator-level final-state particle (neutrinos excluded, as
            Pythia's record here has none) within ΔR < R + 0.4 of the gen axis, the gen jet's constituents
            flagged ``in_jet``: the detector's input. ``reconstruct_jet(region, gen_jet, R, new_rng)`` runs
            the detector again (the resimulation floor).
        y: label, JetNet convention: 1.0 for the signal classes t, w, z; 0.0 for g, q.
        generation_seconds: Pythia + particle extraction + clustering time attributed to this jet (s): all
            time since the previous jet, events without a selected jet included.
        detector_seconds: particle flow + reclustering + matching time of this jet (s).
        process: the JetNet preset name (g, q, t, w, z).
    """

    gen_jet: np.ndarray
    gen_constituents: np.ndarray
    reco_jet: np.ndarray
    reco_constituents: np.ndarray
    region: np.ndarray
    y: float
    generation_seconds: float
    detector_seconds: float
    process: str


def reconstruct_jet(
    region: np.ndarray,
    gen_jet: np.ndarray,
    radius: float,
    rng: np.random.Generator,
    config: PFlowConfig | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The detector-level jet matched to ``gen_jet`` [4] = (pT, η, φ, m), from the particles of ``region``.

    Runs :func:`~mlfastsim.physics.detector.pflow.reconstruct_particles` on ``region`` (PARTICLE_DTYPE;
    ``config`` None: the default :class:`PFlowConfig`), clusters all PF candidates with anti-kT ``radius``
    (FastJet, E-scheme; jets above a tenth of the gen pT) and takes the jet whose axis is nearest the gen
    axis within ΔR < ``radius``/2.
    Returns (reco_jet float64 ``[4]`` = (pT, η, φ, mass), NaN when none matches; its constituents
    RECO_DTYPE ``[m]`` by decreasing pT, empty when none matches).
    """
    candidates = reconstruct_particles(region, rng, config or PFlowConfig())
    jets = cluster_jets(candidates, radius, RECO_PT_MIN_FRACTION * float(gen_jet[0]))
    if jets:
        dr = delta_r(gen_jet[1], gen_jet[2], [j.eta for j in jets], [j.phi for j in jets])
        best = int(np.argmin(dr))
        if dr[best] < MATCH_FRACTION * radius:
            jet = jets[best]
            constituents = candidates[jet.constituents]
            order = np.argsort(-constituents["pt"], kind="stable")
            return np.array([jet.pt, jet.eta, jet.phi, jet.mass]), constituents[order]
    return np.full(4, np.nan), np.zeros(0, dtype=RECO_DTYPE)


class _JetNetGenerator(PythiaGenerator):
    """:class:`PythiaGenerator` that also reads hadronic Z decays (its :class:`Truth` records W and tops)."""

    def z_daughters(self) -> tuple[np.ndarray, ...]:
        """Per Z → qq̄ of the current event's process record, its two quarks (TRUTH_DTYPE ``[2]``)."""
        process = self._pythia.process
        out = []
        for i in range(process.size()):
            if process[i].idAbs() != 23:
                continue
            kids = [process[j] for j in (process[i].daughter1(), process[i].daughter2()) if j > 0]
            if len(kids) == 2 and all(1 <= k.idAbs() <= 5 for k in kids):
                out.append(np.array([(k.id(), k.pT(), k.eta(), k.phi()) for k in kids], dtype=TRUTH_DTYPE))
        return tuple(out)


def _select(
    jets: list[Jet], truth: Truth, preset: ProcessPreset, z: tuple[np.ndarray, ...] | None
) -> list[tuple[Jet, int]]:
    """Jets in the pT/|η| window with a label, leading first, at most ``max_jets_per_event``."""
    out = []
    for jet in jets:  # sorted by decreasing pT, all above jet_pt_min
        if jet.pt >= preset.jet_pt_max or abs(jet.eta) >= preset.jet_abs_eta_max:
            continue
        label = label_jet(jet, truth, preset, z)
        if label is not None:
            out.append((jet, label))
            if len(out) == preset.max_jets_per_event:
                break
    return out


def generate_particle_jets(
    process: str,
    n_jets: int,
    seed: int,
    shard: tuple[int, int] = (0, 1),
    progress_desc: str | None = None,
) -> Iterator[ParticleJetRecord]:
    """Generate ``n_jets`` JetNet-like jets of ``process`` (g, q, t, w, z) at gen and PF detector level.

    Deterministic in (``seed``, ``shard``): Pythia is seeded with ``shard_seed(seed, i, n, "pythia")`` and the
    detector's Generator with ``shard_seed(seed, i, n, "detector")`` (as data/generate.py does), the detector
    stream consumed jet after jet. No pile-up.

    Args:
        process: a key of :data:`~mlfastsim.physics.generation.jetnet.JETNET_PRESETS`.
        n_jets: number of records to yield (≥ 0).
        seed: job seed; shard ``i`` of ``n`` gets independent streams.
        shard: ``(i, n)`` with 0 ≤ i < n.
        progress_desc: show a progress bar over jets with this description (None: no bar).
    """
    preset = get_jetnet_preset(process)
    if n_jets < 0:
        raise InputError(f"n_jets must be ≥ 0, got {n_jets}")
    if not 0 <= shard[0] < shard[1]:
        raise InputError(f"shard {shard[0]}/{shard[1]}: need 0 ≤ i < n")
    generator = _JetNetGenerator(preset, shard_seed(seed, shard[0], shard[1], "pythia"))
    rng = make_rng(shard_seed(seed, shard[0], shard[1], "detector"))
    radius = preset.jet_radius
    bar = progress(total=n_jets, desc=progress_desc) if progress_desc is not None else None
    produced, pending = 0, 0.0
    try:
        while produced < n_jets:
            start = time.perf_counter()
            event = generator.next_event()
            jets = cluster_jets(event.particles, radius, preset.jet_pt_min)
            z = generator.z_daughters() if preset.label_rule == "z-merged" else None
            selected = _select(jets, event.truth, preset, z)[: n_jets - produced]
            pending += time.perf_counter() - start
            if not selected:
                continue
            share, pending = pending / len(selected), 0.0
            for jet, label in selected:
                start = time.perf_counter()
                particles = event.particles.copy()
                particles["in_jet"][jet.constituents] = True
                gen_jet = np.array([jet.pt, jet.eta, jet.phi, jet.mass])
                near = delta_r(jet.eta, jet.phi, particles["eta"], particles["phi"]) < radius + REGION_MARGIN
                region = particles[near | particles["in_jet"]]
                constituents = particles[jet.constituents]
                constituents = constituents[np.argsort(-constituents["pt"], kind="stable")]
                gen_seconds = share + time.perf_counter() - start
                start = time.perf_counter()
                reco_jet, reco_constituents = reconstruct_jet(region, gen_jet, radius, rng)
                detector_seconds = time.perf_counter() - start
                produced += 1
                if bar is not None:
                    bar.update(1)
                yield ParticleJetRecord(gen_jet, constituents, reco_jet, reco_constituents, region,
                                        float(label), gen_seconds, detector_seconds, process)  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
