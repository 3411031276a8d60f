"""The in-memory container of the ``particle-jets`` kind (JetNet convention), at one or two levels.

JetNet (Kansal et al., NeurIPS 2021; Zenodo 6975118): per jet, ``particle_features [P, 4]`` =
(η_rel, φ_rel, pT_rel, mask) of its P highest-pT constituents, relative to the jet axis (η_rel = η − η_jet,
φ_rel = φ − φ_jet wrapped into (−π, π], pT_rel = pT / pT_jet), zero-padded; and ``jet_features [4]`` =
(pT [GeV], η, mass [GeV], number of particles). Our reference simulation stores two aligned levels of
the same jets: ``gen`` (generator-level final-state particles) and ``reco`` (the particle-flow candidates
of the reference detector), plus each jet's generator-level *region* (every particle the detector saw),
so the detector can be run again (the resimulation floor). Public JetNet files are generator level.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from mlfastsim.data.checks import ValueCheck
from mlfastsim.data.schemas import check_event_id
from mlfastsim.physics.particles import PARTICLE_DTYPE

__all__ = [
    "JET_FEATURES",
    "LEVELS",
    "PARTICLE_FEATURES",
    "ParticleJets",
    "concatenate_particle_jets",
    "to_cartesian",
]

#: Column names of ``particle_features`` and ``jet_features`` (JetNet order).
PARTICLE_FEATURES = ("eta_rel", "phi_rel", "pt_rel", "mask")
JET_FEATURES = ("pt", "eta", "mass", "n_particles")
#: The levels a file can hold: generator-level particles and detector-level (particle-flow) candidates.
LEVELS = ("gen", "reco")


def _check_level(name: str, particles: np.ndarray | None, jets: np.ndarray | None, n: int) -> None:
    if (particles is None) != (jets is None):
        raise ValueError(f"{name}: give both particle and jet features, or neither")
    if particles is None or jets is None:
        return
    if particles.ndim != 3 or particles.shape[0] != n or particles.shape[2] != len(PARTICLE_FEATURES):
        raise ValueError(f"{name} particle features must be [{n}, P, 4], got {list(particles.shape)}")
    if jets.shape != (n, len(JET_FEATURES)):
        raise ValueError(f"{name} jet features must be [{n}, 4], got {list(jets.shape)}")


@dataclass
class ParticleJets:
    """N jets as constituent lists, at generator level, detector level or both (see the module docstring).

    Attributes:
        gen, reco: float32 ``[N, P, 4]`` particle features (η_rel, φ_rel, pT_rel, mask) of each level, or
            None when the level is absent; real particles first, in decreasing pT, padding all zeros.
        gen_jets, reco_jets: float32 ``[N, 4]`` jet features (pT GeV, η, mass GeV, n_particles); for a
            reco jet that matched no detector-level jet all four are NaN (and its particles are padding).
        y: float32 ``[N]`` label: 0 for QCD jets (g, q), 1 for the boosted-resonance jets (t, w, z), as the
            jet-image kind labels background and signal; the jet type is in ``attrs["config"]["process"]``
            (NaN when unknown).
        event_id: int64 ``[N]`` generator-level event of each jet (kept by resimulation and sampling).
        regions: per jet, the generator-level particles (PARTICLE_DTYPE) within ΔR < R + 0.4 of the
            generator-level jet axis — the detector's input — or None when not stored.
        gen_axis: float64 ``[N, 2]`` (η, φ) of the generator-level jet axis (needed with ``regions``), or None.
        attrs: provenance (JSON types).
    """

    value_checks: ClassVar[Mapping[str, ValueCheck]] = {
        "gen": ValueCheck(nonnegative=(2, 3), what="(η_rel, φ_rel, pT_rel, mask)"),
        "reco": ValueCheck(nonnegative=(2, 3), what="(η_rel, φ_rel, pT_rel, mask)"),
        # gen jets are unknown (NaN) in prior samples
        "gen_jets": ValueCheck(nan_ok=True, nonnegative=(0, 2, 3), what="(pT GeV, η, mass GeV, n)"),
        "reco_jets": ValueCheck(nan_ok=True, nonnegative=(0, 2, 3), what="(pT GeV, η, mass GeV, n)"),
        "y": ValueCheck(nan_ok=True),
    }

    gen: np.ndarray | None = None
    gen_jets: np.ndarray | None = None
    reco: np.ndarray | None = None
    reco_jets: np.ndarray | None = None
    y: np.ndarray = None  # type: ignore[assignment]  # None → NaN
    event_id: np.ndarray = None  # type: ignore[assignment]  # None → 0 … N−1
    regions: list[np.ndarray] | None = None
    gen_axis: np.ndarray | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        present = [p for p in (self.gen, self.reco) if p is not None]
        if not present:
            raise ValueError("particle jets need at least one level (gen or reco)")
        n = len(present[0])
        for name in ("gen", "gen_jets", "reco", "reco_jets"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, np.asarray(value, dtype=np.float32))
        _check_level("gen", self.gen, self.gen_jets, n)
        _check_level("reco", self.reco, self.reco_jets, n)
        self.y = np.full(n, np.nan, np.float32) if self.y is None else np.asarray(self.y, dtype=np.float32)
        if self.y.shape != (n,):
            raise ValueError(f"y must have shape [{n}], got {list(self.y.shape)}")
        self.event_id = check_event_id(self.event_id, n)
        if self.regions is not None:
            if len(self.regions) != n or self.gen_axis is None:
                raise ValueError(f"regions must hold {n} particle arrays, with gen_axis [N, 2]")
            self.regions = [np.asarray(r).astype(PARTICLE_DTYPE, copy=False) for r in self.regions]
        if self.gen_axis is not None:
            self.gen_axis = np.asarray(self.gen_axis, dtype=np.float64).reshape(n, 2)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def levels(self) -> tuple[str, ...]:
        """The levels present, of :data:`LEVELS`."""
        return tuple(name for name in LEVELS if getattr(self, name) is not None)

    @property
    def n_particles(self) -> int:
        """P, the particle slots per jet."""
        return int(next(getattr(self, lv) for lv in self.levels).shape[1])

    def particles(self, level: str) -> np.ndarray:
        """``[N, P, 4]`` particle features of ``level``; ValueError naming the levels present if absent."""
        value = getattr(self, level) if level in LEVELS else None
        if value is None:
            raise ValueError(f"no {level!r} level in these jets (present: {', '.join(self.levels)})")
        return value

    def jets(self, level: str) -> np.ndarray:
        """``[N, 4]`` jet features of ``level``."""
        self.particles(level)
        return getattr(self, f"{level}_jets")

    def subset(self, index: Any) -> ParticleJets:
        """The jets selected by ``index`` (a slice, boolean mask or integer array)."""
        idx = np.arange(len(self))[index]

        def take(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return ParticleJets(
            gen=take(self.gen),
            gen_jets=take(self.gen_jets),
            reco=take(self.reco),
            reco_jets=take(self.reco_jets),
            y=self.y[idx],
            event_id=self.event_id[idx],
            regions=None if self.regions is None else [self.regions[i] for i in idx],
            gen_axis=take(self.gen_axis),
            attrs=dict(self.attrs),
        )


def concatenate_particle_jets(parts: list[ParticleJets]) -> ParticleJets:
    """Jets of several sets one after the other (same levels, same P); attributes of the first, with
    ``"concatenated_from"`` listing each part's."""
    if not parts:
        raise ValueError("nothing to concatenate")

    def cat(name: str) -> np.ndarray | None:
        values = [getattr(p, name) for p in parts]
        if any(v is None for v in values):
            if not all(v is None for v in values):
                raise ValueError(f"cannot concatenate jets with and without {name!r}")
            return None
        return np.concatenate(values)

    regions = None
    if all(p.regions is not None for p in parts):
        regions = [r for p in parts for r in (p.regions or [])]
    return ParticleJets(
        gen=cat("gen"),
        gen_jets=cat("gen_jets"),
        reco=cat("reco"),
        reco_jets=cat("reco_jets"),
        y=np.concatenate([p.y for p in parts]),
        event_id=np.concatenate([p.event_id for p in parts]),
        regions=regions,
        gen_axis=cat("gen_axis") if regions is not None else None,
        attrs={**parts[0].attrs, "concatenated_from": [p.attrs for p in parts]},
    )


def to_cartesian(particles: np.ndarray, jets: np.ndarray) -> np.ndarray:
    """Seed 003's view: constituents as (px, py, pz) in GeV, float64 ``[N, P, 3]`` (padding 0).

    Args:
        particles: ``[N, P, 4]`` (η_rel, φ_rel, pT_rel, mask); jets: ``[N, 4]`` (pT, η, mass, n) — the jet
            axis is taken at φ = 0, η = η_jet (NaN: 0).
    """
    f = np.asarray(particles, dtype=np.float64)
    pt_jet = np.nan_to_num(np.asarray(jets, dtype=np.float64)[:, 0])[:, None]
    eta = f[..., 0] + np.nan_to_num(np.asarray(jets, dtype=np.float64)[:, 1])[:, None]
    pt = f[..., 2] * pt_jet * (f[..., 3] > 0)
    return np.stack([pt * np.cos(f[..., 1]), pt * np.sin(f[..., 1]), pt * np.sinh(eta)], axis=-1)
