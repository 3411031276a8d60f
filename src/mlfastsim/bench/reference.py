"""Speed of a data kind's reference simulation, timed in the same process as the runs it is compared with:
the kind's declared :class:`~mlfastsim.data.kinds.base.Resimulating` capability run on the same events."""

from __future__ import annotations

from typing import Any

from mlfastsim.bench.runs import cycle_events
from mlfastsim.bench.timing import peak_memory, time_call
from mlfastsim.data.kinds.base import DataKind, Resimulating

__all__ = ["bench_reference"]


def bench_reference(
    kind: DataKind, events: Any, n: int = 64, repeats: int = 3, seed: int = 0
) -> dict[str, Any]:
    """Time ``kind.resimulate`` on ``n`` events cycled from ``events`` (median of ``repeats`` after one
    warm-up call): the detector stage of the reference simulation, per event, on the inputs the runs are
    conditioned on. Generation (Pythia) is not re-run; its cost recorded in the events' file
    (``wall_time_per_event_s``) is reported beside it.

    Returns:
        ``{"declared": False}`` for a kind that does not declare the capability; else the timing (s), µs
        per event, events per second, peak memory, the events timed and the recorded costs (s per event).
    """
    recorded = dict(events.attrs.get("wall_time_per_event_s", {}) or {})
    if not isinstance(kind, Resimulating):
        return {"declared": False, "recorded_s_per_event": recorded}
    given = cycle_events(events, n)
    timing = time_call(lambda: kind.resimulate(given, seed), repeats=repeats, warmup=1)
    return {
        "declared": True,
        "stage": "detector (resimulation of stored inputs)",
        "n": n,
        **timing,
        "us_per_event": 1e6 * timing["median_s"] / n,
        "events_per_s": n / timing["median_s"],
        **peak_memory(),
        "recorded_s_per_event": recorded,
    }
