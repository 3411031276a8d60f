"""Per-level views of particle-jet samples for the particle-jets suite (:mod:`.particle_jets`, which
re-exports these): the JetNet-corrected constituents, jet features, high-level observables and EFPs of one
level, computed once per sample and level, and the level two samples are compared at."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlfastsim._utils import InputError
from mlfastsim.data.kinds.particle_jets.container import ParticleJets
from mlfastsim.evaluation.kinds import particle_jet_observables
from mlfastsim.metrics.jetnet import fpd_kpd_features, jetnet_jets, relative_jet_mass

__all__ = ["HIGH_LEVEL", "LevelView", "PreparedParticleJets", "common_level"]

#: Inputs of the high-level classifier (per jet, from the relative constituents).
HIGH_LEVEL = ("relative_mass", "pt_sum", "multiplicity", "width", "leading_pt_fraction")


@dataclass
class LevelView:
    """One level of a sample, with what the metrics need (computed once).

    Attributes:
        particles: float64 ``[N, P, 3]`` (η_rel, φ_rel, pT_rel), JetNet-corrected (padding and masked zeroed).
        mask: bool ``[N, P]``. jets: float ``[N, 4]`` jet features (pT GeV, η, mass GeV, n); NaN = no jet.
        observables: per-jet ``[N]`` arrays of :data:`HIGH_LEVEL`. efp: ``[N, 36]`` JetNet FPD/KPD EFPs.
    """

    particles: np.ndarray
    mask: np.ndarray
    jets: np.ndarray
    observables: dict[str, np.ndarray]
    efp: np.ndarray


def _view(events: ParticleJets, level: str) -> LevelView:
    parts, mask = jetnet_jets(events.particles(level))
    obs = particle_jet_observables(parts, mask)
    observables = {
        "relative_mass": relative_jet_mass(parts),
        "pt_sum": parts[..., 2].sum(1),
        "multiplicity": mask.sum(1).astype(np.float64),
        "width": obs["width"],
        "leading_pt_fraction": obs["leading_pt_fraction"],
    }
    return LevelView(parts, mask, np.asarray(events.jets(level)), observables, fpd_kpd_features(parts))


@dataclass
class PreparedParticleJets:
    """A particle-jet sample and its per-level views, made on first use (:meth:`view`).

    ``level``: the level of the whole evaluation (set by :meth:`ParticleJetSuite.prepare_all`, so the floors
    and every candidate are compared at the same level); None: each pair at its :func:`common_level`.
    """

    events: ParticleJets
    views: dict[str, LevelView] = field(default_factory=dict)
    level: str | None = None

    def view(self, level: str) -> LevelView:
        if level not in self.views:
            self.views[level] = _view(self.events, level)
        return self.views[level]


def _level(reference: PreparedParticleJets, candidate: PreparedParticleJets) -> str:
    return reference.level or candidate.level or common_level(reference.events, candidate.events)


def common_level(reference: ParticleJets, candidate: ParticleJets) -> str:
    """The level two samples are compared at: ``reco`` when both hold it, else ``gen``; InputError if none."""
    for level in ("reco", "gen"):
        if level in reference.levels and level in candidate.levels:
            return level
    raise InputError(
        f"the reference holds {'/'.join(reference.levels)} jets and a candidate {'/'.join(candidate.levels)} "
        "jets: no level in common to compare"
    )
