"""Merge the shard files of a batch-system job array (``generate --shard i/n``, or ``sample --conditions`` of
such shards) into one file of their kind, after checking that they are disjoint and complete.

Generation gives event ``index`` of shard ``i`` the id ``i · 2³² + index`` (:func:`~mlfastsim.data.generate.
event_id`), so the ids alone tell which shard an event came from and whether any is missing or repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlfastsim._utils import InputError, provenance

__all__ = ["SHARD_BITS", "check_shards", "merge_shards", "recorded_shard_count"]

#: Bits of the event id below the shard index.
SHARD_BITS = 32


def recorded_shard_count(events: Any) -> int | None:
    """The ``n`` of the ``"i/n"`` shard recorded in the events' provenance (``attrs["config"]["shard"]``)."""
    shard = events.attrs.get("config", {}).get("shard")
    if not isinstance(shard, str) or "/" not in shard:
        return None
    try:
        return int(shard.split("/")[1])
    except ValueError:
        return None


def check_shards(parts: Sequence[Any], names: Sequence[str], n_shards: int | None = None) -> list[int]:
    """The shard index of every part, after checking: each part's ids are of one shard and are its events
    0 … n − 1 (no gap, no repeat); no shard twice; all shards 0 … N − 1 present, N from ``n_shards``, else
    from the shard count recorded in the files (which must agree), else the largest index + 1.

    Raises:
        InputError (one line naming the file) when a check fails.
    """
    indices: dict[int, str] = {}
    counts = {c for c in (recorded_shard_count(p) for p in parts) if c is not None}
    if n_shards is None and len(counts) > 1:
        raise InputError(f"the shard files record different shard counts {sorted(counts)}; not one job")
    for events, name in zip(parts, names, strict=True):
        ids = np.asarray(events.event_id, dtype=np.int64)
        if len(ids) == 0:
            raise InputError(f"{name}: no events")
        if (ids < 0).any():
            raise InputError(f"{name}: events without generation ids (-1, prior samples); nothing to merge")
        shard = np.unique(ids >> SHARD_BITS)
        if len(shard) != 1:
            raise InputError(
                f"{name}: events of {len(shard)} shards ({shard[:4].tolist()}); not one shard file"
            )
        index = int(shard[0])
        if index in indices:
            raise InputError(
                f"{name}: shard {index} again (already in {indices[index]}); shards must be disjoint"
            )
        local = np.sort(ids & ((1 << SHARD_BITS) - 1))
        if not np.array_equal(local, np.arange(len(ids))):
            repeated = int(len(local) - len(np.unique(local)))
            what = f"{repeated} repeated ids" if repeated else f"ids missing below {int(local[-1])}"
            raise InputError(f"{name}: shard {index} is not complete ({what}); regenerate it")
        indices[index] = name
    total = n_shards if n_shards is not None else (counts.pop() if counts else max(indices) + 1)
    missing = sorted(set(range(total)) - set(indices))
    if missing:
        raise InputError(f"shards {missing[:8]} of {total} are missing; merge every shard of the job")
    extra = sorted(i for i in indices if i >= total)
    if extra:
        raise InputError(f"{indices[extra[0]]}: shard {extra[0]} beyond the job's {total} shards")
    return [next(i for i, n in indices.items() if n == name) for name in names]


def merge_shards(kind: Any, parts: Sequence[Any], names: Sequence[str], n_shards: int | None = None) -> Any:
    """The events of every part, in shard order, as one container of ``kind``, with provenance: the
    producer ``mlfastsim merge``, the files and their shard indices, each part's own provenance, and the
    event-weighted mean of their recorded cost per event."""
    order = check_shards(parts, names, n_shards)
    ranked = sorted(zip(order, parts, names, strict=True), key=lambda t: t[0])
    merged = kind.concatenate([p for _, p, _ in ranked])
    n = sum(len(p) for p in parts)
    cost: dict[str, float] = {}
    for _, p, _ in ranked:
        for stage, value in (p.attrs.get("wall_time_per_event_s") or {}).items():
            cost[stage] = cost.get(stage, 0.0) + float(value) * len(p) / n
    merged.attrs = provenance(
        "mlfastsim merge",
        {
            "kind": kind.name,
            "shards": [{"index": i, "file": name, "n_events": len(p)} for i, p, name in ranked],
            "n_shards": len(ranked),
            "parts": [p.attrs for _, p, _ in ranked],
        },
        None,
    )
    merged.attrs["wall_time_per_event_s"] = cost
    return merged
