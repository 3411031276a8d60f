"""Seeded Pythia 8 events as arrays of final-state particles plus the hard-process truth used for labels.

Pythia 8.3 (Bierlich et al., SciPost Phys. Codebases 8 (2022)) through the ``pythia8mc`` wheel, imported
lazily (the ``pythia`` extra). Pile-up: Poisson(μ) extra ``SoftQCD:nonDiffractive`` events from a second,
independently seeded instance, their particles flagged ``pileup``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlfastsim._utils import InputError, make_rng, require, shard_seed
from mlfastsim.physics.generation.presets import ProcessPreset
from mlfastsim.physics.particles import PARTICLE_DTYPE

__all__ = ["TRUTH_DTYPE", "GenEvent", "PythiaGenerator", "Truth"]

#: A hard-process parton (process record, before showering): PDG id, pT (GeV), η, φ (rad).
TRUTH_DTYPE = np.dtype([("pdgid", "i4"), ("pt", "f8"), ("eta", "f8"), ("phi", "f8")])
_NEUTRINOS = frozenset((12, 14, 16))
_SEED_MAX = 900_000_000  # Pythia's Random:seed range is [1, 900000000] (manual, "Random Numbers")
_MAX_FAILURES = 100


@dataclass(frozen=True, eq=False)
class Truth:
    """Hard-process objects (Pythia process record) needed by the label rules; arrays of TRUTH_DTYPE.

    Attributes:
        partons: the outgoing partons of the hard 2→2 (for tt̄ the tops, for W + jet the W and the parton).
        tops: per hadronic top, its (b, q, q̄′): the b and the two W-daughter quarks.
        ws: per hadronically decaying W (those from top decays included), its two daughter quarks.
    """

    partons: np.ndarray
    tops: tuple[np.ndarray, ...] = ()
    ws: tuple[np.ndarray, ...] = ()


@dataclass(eq=False)
class GenEvent:
    """One generated event: final-state particles except neutrinos (PARTICLE_DTYPE), and its truth."""

    particles: np.ndarray
    truth: Truth = field(default_factory=lambda: Truth(np.zeros(0, TRUTH_DTYPE)))


def _open(settings: tuple[str, ...], seed: int) -> Any:
    pythia8mc = require("pythia8mc", "pythia")
    pythia = pythia8mc.Pythia("", False)  # no banner
    quiet = ("Print:quiet = on", "Next:numberCount = 0", "Random:setSeed = on", f"Random:seed = {seed}")
    for line in (*settings, *quiet):
        if not pythia.readString(line):
            raise InputError(f"Pythia rejected the setting {line!r}; check the preset's settings")
    if not pythia.init():
        raise RuntimeError(f"Pythia initialisation failed for settings {settings}")
    return pythia


def _next(pythia: Any) -> None:
    for _ in range(_MAX_FAILURES):
        if pythia.next():
            return
    raise RuntimeError(f"Pythia failed to generate an event {_MAX_FAILURES} times in a row")


def _final_state(event: Any, pileup: bool) -> np.ndarray:
    """Final-state particles of a Pythia event record except neutrinos, in one pass."""
    rows = [(p.pT(), p.eta(), p.phi(), p.e(), p.id(), p.charge()) for p in event
            if p.isFinal() and p.idAbs() not in _NEUTRINOS]  # fmt: skip
    out = np.zeros(len(rows), dtype=PARTICLE_DTYPE)
    if rows:
        table = np.array(rows, dtype=np.float64)
        for k, name in enumerate(("pt", "eta", "phi", "e", "pdgid", "charge")):
            out[name] = table[:, k]
    out["pileup"] = pileup
    return out


def _truth(process: Any) -> Truth:
    """Outgoing hard partons, hadronic tops (b, q, q̄′) and hadronic W daughters from the process record."""

    def row(i: int) -> tuple[int, float, float, float]:
        p = process[i]
        return (p.id(), p.pT(), p.eta(), p.phi())

    def arr(rows: list[tuple[int, float, float, float]]) -> np.ndarray:
        return np.array(rows, dtype=TRUTH_DTYPE)

    partons, w_daughters, tops = [], {}, []
    for i in range(process.size()):
        p = process[i]
        if p.mother1() == 3 and p.mother2() == 4:  # outgoing legs of the hard 2→2
            partons.append(row(i))
        if p.idAbs() == 24:
            kids = [j for j in (p.daughter1(), p.daughter2()) if j > 0 and 1 <= process[j].idAbs() <= 5]
            if len(kids) == 2:
                w_daughters[i] = [row(j) for j in kids]
    for i in range(process.size()):
        p = process[i]
        if p.idAbs() == 6:
            decay = range(p.daughter1(), p.daughter2() + 1) if p.daughter1() > 0 else range(0)
            b = [row(j) for j in decay if process[j].idAbs() == 5]
            w = [w_daughters[j] for j in decay if j in w_daughters]
            if b and w:
                tops.append(arr([b[0], *w[0]]))
    return Truth(arr(partons), tuple(tops), tuple(arr(v) for v in w_daughters.values()))


class PythiaGenerator:
    """Seeded Pythia 8 generator for one :class:`ProcessPreset`, with optional Poisson pile-up.

    Args:
        preset: the process preset (its ``settings`` are applied verbatim).
        seed: Pythia ``Random:seed``, in [1, 900000000]. The pile-up instance is seeded with
            ``shard_seed(seed, 0, 1, "pileup")``, the Poisson counts with
            ``shard_seed(seed, 0, 1, "pileup-n")``.
        pileup_mu: mean number of minimum-bias (``SoftQCD:nonDiffractive``) interactions added per event.
    """

    def __init__(self, preset: ProcessPreset, seed: int, pileup_mu: float = 0.0) -> None:
        if not 1 <= int(seed) <= _SEED_MAX:
            raise InputError(f"Pythia seed must be in [1, {_SEED_MAX}], got {seed}")
        if not pileup_mu >= 0:
            raise InputError(f"pileup_mu must be ≥ 0 (mean interactions per crossing), got {pileup_mu}")
        self.preset, self.seed, self.pileup_mu = preset, int(seed), float(pileup_mu)
        self._pythia = _open(preset.settings, self.seed)
        self._pileup = None
        if self.pileup_mu > 0:
            minbias = ("Beams:eCM = 13000.", "Tune:pp = 14", "SoftQCD:nonDiffractive = on")
            self._pileup = _open(minbias, shard_seed(self.seed, 0, 1, "pileup"))
            self._rng = make_rng(shard_seed(self.seed, 0, 1, "pileup-n"))

    def next_event(self) -> GenEvent:
        """Generate the next event: hard-process particles, then pile-up particles (``pileup=True``)."""
        _next(self._pythia)
        parts = [_final_state(self._pythia.event, pileup=False)]
        truth = _truth(self._pythia.process)
        if self._pileup is not None:
            for _ in range(int(self._rng.poisson(self.pileup_mu))):
                _next(self._pileup)
                parts.append(_final_state(self._pileup.event, pileup=True))
        return GenEvent(parts[0] if len(parts) == 1 else np.concatenate(parts), truth)
