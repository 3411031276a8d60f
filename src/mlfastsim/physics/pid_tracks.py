"""Tracks for the RICH reference simulation: Pythia 8 minimum-bias pp collisions at 13 TeV → the charged
particles in the LHCb acceptance, with their species and the event's track multiplicity.

Generator: Pythia 8.3 (``pythia8mc``, :class:`~mlfastsim.physics.generation.pythia.PythiaGenerator`), Monash
tune, ``SoftQCD:nonDiffractive``. Why non-diffractive minimum bias: the PID of LHCb is calibrated on tracks of
ordinary collisions, and the non-diffractive part is where nearly all of them come from. In 2000 events each
(seed 5), ``SoftQCD:inelastic`` (which adds single and double diffraction) gave 12.9 tracks per event against
16.5 and the same species mix within 0.1 % absolute (π 81.1 / 81.0 %, K 10.5 / 10.9 %, p 7.8 / 7.6 %,
e 0.50 / 0.47 %, μ 0.06 / 0.05 %), at 0.53 against 0.40 ms of Pythia per track; the diffractive events add
cost, not different tracks.

A *track*: a final-state charged particle (Pythia's default stable set: π±, K±, p, e±, μ± — π± and K± do not
decay in flight here) with 2 < η < 5 (LHCb14), p > 3 GeV/c and a polar angle inside at least one radiator's
acceptance (θ ≥ 15 mrad, η < 4.89: LHCb's calibration samples require RICH information). Other charged
species (Σ±, Ξ−, Ω−, deuterons: under 0.1 %) are dropped and counted. *nTracks* of a track is the number of
charged particles of its event with 2 < η < 5 and p > 3 GeV/c (its own included; beam-hole tracks count):
the multiplicity that drives the RICH's background. LHCb's nTracks also counts VELO-only and downstream
tracks and pile-up; ours is a minimum-bias, single-interaction analogue (median 12).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mlfastsim.physics.detector.rich import RICHConfig, in_acceptance
from mlfastsim.physics.detector.rich_constants import ETA_RANGE, P_MIN, PDG_IDS, SPECIES
from mlfastsim.physics.generation.presets import ProcessPreset

__all__ = ["MINIMUM_BIAS", "TRACK_DTYPE", "TrackBatch", "generate_tracks", "select_tracks"]

#: One track: momentum [GeV/c], pseudorapidity, its event's multiplicity, charge [e], species index
#: (:data:`~mlfastsim.physics.detector.rich_constants.SPECIES`) and the collision it came from.
TRACK_DTYPE = np.dtype(
    [("p", "f8"), ("eta", "f8"), ("n_tracks", "i4"), ("charge", "i1"), ("species", "i1"), ("collision", "i8")]
)

#: The generator settings (module docstring). Jet fields of the preset are unused here.
MINIMUM_BIAS = ProcessPreset(
    name="minimum-bias",
    description="Pythia 8 SoftQCD:nonDiffractive pp at 13 TeV, Monash tune: LHCb-acceptance tracks for the RICH",
    settings=("Beams:eCM = 13000.", "Tune:pp = 14", "SoftQCD:nonDiffractive = on"),
    jet_radius=0.4,
    jet_pt_min=0.0,
    jet_pt_max=float("inf"),
    jet_abs_eta_max=float("inf"),
    label_rule="background",
)
_SPECIES_OF_PDG = {pdg: k for k, pdg in enumerate(PDG_IDS[s] for s in SPECIES)}


@dataclass
class TrackBatch:
    """The tracks of some collisions (TRACK_DTYPE), the other charged particles dropped, and Pythia's time."""

    tracks: np.ndarray
    dropped: int
    generation_seconds: float


def select_tracks(
    particles: np.ndarray, collision: int, rich: RICHConfig | None = None
) -> tuple[np.ndarray, int]:
    """The tracks of one collision (module docstring) from its final-state particles (PARTICLE_DTYPE).

    Returns the tracks (TRACK_DTYPE) and how many charged particles of another species were dropped.
    """
    rich = rich or RICHConfig()
    p = particles["pt"] * np.cosh(particles["eta"])
    charged = (
        (particles["charge"] != 0) & (particles["eta"] > ETA_RANGE[0]) & (particles["eta"] < ETA_RANGE[1])
    )
    charged &= p > P_MIN
    n_tracks = int(charged.sum())
    seen = in_acceptance(particles["eta"], rich.rich1) | in_acceptance(particles["eta"], rich.rich2)
    chosen = np.flatnonzero(charged & seen)
    species = np.array([_SPECIES_OF_PDG.get(abs(int(i)), -1) for i in particles["pdgid"][chosen]], np.int64)
    known = species >= 0
    chosen, species = chosen[known], species[known]
    out = np.zeros(len(chosen), TRACK_DTYPE)
    out["p"], out["eta"] = p[chosen], particles["eta"][chosen]
    out["n_tracks"], out["charge"] = n_tracks, np.sign(particles["charge"][chosen])
    out["species"], out["collision"] = species, collision
    return out, int((~known).sum())


def generate_tracks(
    n_tracks: int, seed: int, batch_tracks: int = 4096, rich: RICHConfig | None = None
) -> Iterator[TrackBatch]:
    """Tracks of successive minimum-bias collisions (Pythia ``Random:seed = seed``), ``n_tracks`` in all (the
    last collision's tracks cut to the total), in batches of about ``batch_tracks``."""
    from mlfastsim.physics.generation.pythia import PythiaGenerator

    generator = PythiaGenerator(MINIMUM_BIAS, seed)
    done, collision = 0, 0
    while done < n_tracks:
        parts, dropped, seconds, size = [], 0, 0.0, 0
        while size < batch_tracks and done + size < n_tracks:
            start = time.perf_counter()
            event = generator.next_event()
            seconds += time.perf_counter() - start
            tracks, lost = select_tracks(event.particles, collision, rich)
            collision += 1
            tracks = tracks[: n_tracks - done - size]
            parts.append(tracks)
            size, dropped = size + len(tracks), dropped + lost
        done += size
        yield TrackBatch(np.concatenate(parts), dropped, seconds)
