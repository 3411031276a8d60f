"""Evaluation suites, one per data kind: ``SUITES[kind]``. A new kind's suite is one module and one line."""

from mlfastsim.evaluation.suites.base import Suite
from mlfastsim.evaluation.suites.jet_images import SUITE as JET_IMAGES
from mlfastsim.evaluation.suites.particle_jets import SUITE as PARTICLE_JETS
from mlfastsim.evaluation.suites.pid import SUITE as PID
from mlfastsim.evaluation.suites.showers import SUITE as SHOWERS
from mlfastsim.evaluation.suites.tpc import SUITE as TPC

__all__ = ["SUITES", "Suite"]

_ALL: tuple[Suite, ...] = (JET_IMAGES, PARTICLE_JETS, PID, SHOWERS, TPC)
SUITES: dict[str, Suite] = {s.kind: s for s in _ALL}
