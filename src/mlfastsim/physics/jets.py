"""Anti-kT jets with FastJet and the truth-matching rules that label them (GeV, rad).

FastJet: M. Cacciari, G.P. Salam, G. Soyez, EPJC 72 (2012) 1896 [arXiv:1111.6097]; anti-kT: JHEP 04 (2008)
063 [arXiv:0802.1189]. The ``fastjet`` PyPI package (scikit-hep) is part of the ``pythia`` extra and is
imported lazily. Labels follow the public q/g and top-tagging sets (CMS E2E, JetNet; ``PHYSICS.md`` §9).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from mlfastsim._utils import require
from mlfastsim.physics.kinematics import delta_r, eta_phi_from_momentum, four_momentum, invariant_mass

__all__ = ["Jet", "cluster_jets", "delta_r", "is_fully_merged", "jet_mass", "label_quark_gluon"]

T = TypeVar("T")
_banner_shown = False


@dataclass(frozen=True, eq=False)
class Jet:
    """One anti-kT jet (E-scheme): pT, mass, E in GeV; η; φ in (−π, π] rad.

    ``constituents``: int64 indices into the particle array that was clustered, in increasing order.
    """

    pt: float
    eta: float
    phi: float
    mass: float
    e: float
    constituents: np.ndarray


def _banner_to_stderr(call: Callable[[], T]) -> T:
    """Run ``call`` with C-level stdout sent to stderr the first time, so FastJet's citation banner
    (printed once per process) does not pollute machine-readable stdout."""
    global _banner_shown
    if _banner_shown:
        return call()
    _banner_shown = True
    try:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
    except (OSError, ValueError):  # no real file descriptors (e.g. some notebooks)
        return call()
    try:
        return call()
    finally:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).fflush(None)  # std::cout shares C stdio's buffer: flush it while redirected
        os.dup2(saved, 1)
        os.close(saved)


def cluster_jets(particles: np.ndarray, radius: float, pt_min: float) -> list[Jet]:
    """Anti-kT jets of radius ``radius`` with pT ≥ ``pt_min`` (GeV), leading first.

    Args:
        particles: structured array with fields ``pt, eta, phi, e`` (GeV, rad), e.g.
            :data:`~mlfastsim.physics.particles.PARTICLE_DTYPE`. All particles are clustered (pile-up
            included); select before calling if that is not wanted.
        radius: jet radius R.
        pt_min: minimum jet pT (GeV).
    """
    fastjet = require("fastjet", "pythia")
    awkward = require("awkward", "pythia")
    if len(particles) == 0:
        return []
    p4 = four_momentum(particles["pt"], particles["eta"], particles["phi"], particles["e"])
    arr = awkward.Array({"px": p4[:, 1], "py": p4[:, 2], "pz": p4[:, 3], "E": p4[:, 0]})
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, float(radius))

    def run() -> tuple[Any, Any]:
        seq = fastjet.ClusterSequence(arr, definition)
        return seq.inclusive_jets(float(pt_min)), seq.constituent_index(float(pt_min))

    jets, indices = _banner_to_stderr(run)
    px, py, pz, e = (awkward.to_numpy(jets[k]).astype(np.float64) for k in ("px", "py", "pz", "E"))
    pt, eta, phi = eta_phi_from_momentum(px, py, pz)
    mass = np.sqrt(np.clip(e**2 - px**2 - py**2 - pz**2, 0.0, None))
    out = [
        Jet(float(pt[i]), float(eta[i]), float(phi[i]), float(mass[i]), float(e[i]),
            np.sort(awkward.to_numpy(indices[i]).astype(np.int64)))
        for i in range(len(pt))
    ]  # fmt: skip
    out.sort(key=lambda jet: -jet.pt)
    return out


def jet_mass(particles: np.ndarray) -> float:
    """Invariant mass (GeV) of the summed four-momenta of ``particles`` (fields ``pt, eta, phi, e``)."""
    if len(particles) == 0:
        return 0.0
    p4 = four_momentum(particles["pt"], particles["eta"], particles["phi"], particles["e"])
    return float(invariant_mass(p4))


def label_quark_gluon(jet: Jet, partons: np.ndarray, radius: float) -> int | None:
    """Quark/gluon label from the nearest outgoing hard-process parton (CMS E2E q/g convention).

    Args:
        partons: structured array with fields ``pdgid, eta, phi`` (the two outgoing partons of the 2→2).
        radius: matching radius; the nearest parton must lie within ΔR < ``radius`` of the jet axis.

    Returns:
        0 for a (anti)quark (|pdgid| 1–6), 1 for a gluon (21), None when unmatched or another species.
    """
    if len(partons) == 0:
        return None
    dr = delta_r(jet.eta, jet.phi, partons["eta"], partons["phi"])
    nearest = int(np.argmin(dr))
    if dr[nearest] >= radius:
        return None
    pid = abs(int(partons["pdgid"][nearest]))
    return 1 if pid == 21 else 0 if 1 <= pid <= 6 else None


def is_fully_merged(jet: Jet, quarks: np.ndarray, radius: float) -> bool:
    """True when every quark (fields ``eta, phi``) lies within ΔR < ``radius`` of the jet axis.

    Used for hadronic tops (b, q, q̄′) and W bosons (q, q̄′), as in the boosted top/W samples of JetNet.
    """
    if len(quarks) == 0:
        return False
    return bool(np.all(delta_r(jet.eta, jet.phi, quarks["eta"], quarks["phi"]) < radius))
