"""The generic evaluation driver: every metric of a kind's suite beside its floor, as JSON, plots, HTML and
a table.

Floors: *truth vs truth* compares the reference with a second, independent reference sample (or, when
none is given, its two disjoint halves); the *resimulation* floor compares each reference event with the
same generator-level event passed through the detector again. A surrogate cannot be expected to beat the
floors; it is good when it is within a small factor of them. Candidates are paired with the reference
event by event only when they carry the same event ids in the same order (never by float equality).

Every candidate's distribution metrics use exactly as many events as the floor's sample (:func:`at_floor_size`),
so that a large candidate cannot score below the floor through its smaller statistical noise alone; paired
(event-level) metrics use every paired event. A candidate paired with the reference (made from its events)
is compared with the sample it was not made from: the reference's other half, or the second reference.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import InputError, atomic_write_text, jsonable, package_version, progress
from mlfastsim.evaluation.suites import SUITES, Suite
from mlfastsim.evaluation.table import FLOOR, RESIM, format_table

__all__ = ["at_floor_size", "copied_fraction", "evaluate", "paired"]


def paired(reference: Any, candidate: Any) -> bool:
    """True when ``candidate`` holds the reference's events, one for one, in order (same event ids, all ≥ 0)."""
    ids = reference.event_id
    return (
        len(candidate) == len(reference)
        and bool((ids >= 0).all())
        and np.array_equal(candidate.event_id, ids)
    )


def copied_fraction(reference: Any, candidate: Any) -> float:
    """Fraction of ``candidate``'s events that are reference events: the same event id (≥ 0) and equal
    values (NaN equal to NaN) in every per-event array field of the container. 1.0 for the reference or a
    subset of it; 0 for a generated sample, even one paired with the reference by id."""
    ids, cids = np.asarray(reference.event_id), np.asarray(candidate.event_id)
    n_ref, n_cand = len(reference), len(candidate)
    order = np.argsort(ids, kind="stable")
    pos = np.clip(np.searchsorted(ids[order], cids), 0, max(len(ids) - 1, 0))
    match = (cids >= 0) & (len(ids) > 0) & (ids[order][pos] == cids)
    same = match.copy()
    if not same.any() or not dataclasses.is_dataclass(candidate):
        return 0.0
    rows = order[pos]
    for f in dataclasses.fields(candidate):
        a, b = getattr(candidate, f.name), getattr(reference, f.name, None)
        if f.name == "event_id" or not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray):
            continue
        if a.ndim == 0 or len(a) != n_cand or len(b) != n_ref or a.shape[1:] != b.shape[1:]:
            continue
        x, y = a[same].reshape(int(same.sum()), -1), b[rows[same]].reshape(int(same.sum()), -1)
        eq = (x == y) | ((x != x) & (y != y)) if a.dtype.kind == "f" else x == y
        same[same] = eq.all(axis=1)
        if not same.any():
            return 0.0
    return float(same.mean())


def at_floor_size(
    name: str, events: Any, n_floor: int, seed: int, floor_index: np.ndarray | None = None
) -> tuple[Any, str, str | None]:
    """The events of candidate ``name`` that its distribution metrics use, how they were chosen, and a warning.

    Args:
        name: the candidate's name (it seeds its subsample, so that each candidate's draw is reproducible and
            independent of the others' order).
        events: the candidate's events (any container with ``len`` and ``subset``).
        n_floor: events in the floor's sample (the truth-vs-truth sample compared with the reference).
        seed: the evaluation's seed.
        floor_index: for a candidate paired with the reference when the floor is the reference's other half:
            the indices ``[n_floor]`` of that half. The candidate's events there are used — those made from the
            floor's events, independent of the half it is compared with, exactly as the floor is.

    Returns:
        ``(events used, selection, warning or None)``: all events when there are ``n_floor``; the paired half;
        else a seeded subsample of ``n_floor`` events in file order; a candidate with fewer events than the
        floor is used whole, with a warning (its metrics carry more statistical noise than the floor's).
    """
    n = len(events)
    if floor_index is not None and n > n_floor:
        return events.subset(floor_index), "the events paired with the floor's half", None
    if n == n_floor:
        return events, "all", None
    if n < n_floor:
        warning = (
            f"candidate {name!r}: {n} events, fewer than the floor's {n_floor}; its metrics carry more "
            f"statistical noise than the floor's, so they read high — give it at least {n_floor} events"
        )
        return events, "all (fewer than the floor's)", warning
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    index = np.sort(rng.choice(n, size=n_floor, replace=False))
    return events.subset(index), f"a seeded subsample of {n_floor} of {n} events", None


def evaluate(
    kind: str,
    reference: Any,
    candidates: Mapping[str, Any],
    out_dir: str | Path,
    resim: Any | None = None,
    second_reference: Any | None = None,
    seed: int = 0,
    n_jobs: int = 2,
    plots: bool = True,
) -> dict[str, Any]:
    """Compare each candidate with the reference; write ``metrics.json``, ``plots/`` and ``report.html``.

    Args:
        kind: the data kind of every sample (chooses the suite, :data:`~mlfastsim.evaluation.suites.SUITES`).
        reference: held-out reference events (the truth).
        candidates: name → events to judge (generated, reconstructed, another simulation, ...). Candidates
            paired with the reference (:func:`paired`) also get the suite's event-level metrics.
        out_dir: output folder.
        resim: the reference's events resimulated (same generator-level input, new detector seed): the
            per-event floor.
        second_reference: an independent reference sample for the truth-vs-truth floor (default: the
            reference's two disjoint halves).
        seed: seed of bootstraps, halves and classifiers. n_jobs: processes for event-level distances.
        plots: write PNGs and the HTML report.

    Returns:
        The content of ``metrics.json`` (schema in ``docs/metrics.md``).
    """
    if kind not in SUITES:
        raise InputError(f"no evaluation suite for {kind} data yet (suites: {', '.join(SUITES)})")
    suite: Suite = SUITES[kind]
    for name, sample in {"reference": reference, **candidates}.items():
        if len(sample) < 2:
            raise InputError(f"{name}: {len(sample)} event(s); evaluation needs at least 2 per sample")
    start = time.perf_counter()
    out_dir = Path(out_dir)
    warnings: list[str] = []
    for name, sample in candidates.items():
        copied = copied_fraction(reference, sample)
        if copied > 0.5:
            warnings.append(
                f"candidate {name!r}: {copied:.0%} of its events are reference events (same id, same values) — "
                "it is (a subset of) the reference, so its metrics measure no fidelity"
            )
    ref, floor_index = reference, None
    if second_reference is None:
        perm = np.random.default_rng(seed).permutation(len(reference))
        half = len(reference) // 2
        floor_index = np.sort(perm[half:])
        ref, second_reference = reference.subset(np.sort(perm[:half])), reference.subset(floor_index)
        floor_note = "two disjoint halves of the reference"
    else:
        n = min(len(reference), len(second_reference))
        second_reference = second_reference.subset(slice(0, n))
        floor_note = "an independent second reference sample"
    pairs = {name: ev for name, ev in candidates.items() if paired(reference, ev)}
    n_floor = len(second_reference)
    used: dict[str, Any] = {FLOOR: second_reference}
    selection: dict[str, str] = {FLOOR: "all"}
    for name, ev in candidates.items():
        used[name], selection[name], note = at_floor_size(
            name, ev, n_floor, seed, floor_index if name in pairs else None
        )
        if note is not None:
            warnings.append(note)
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    if resim is not None and paired(reference, resim):
        pairs = {RESIM: resim, **pairs}
    full_name = "reference (all events)"
    to_prepare = {"reference": ref, **used, **({RESIM: pairs[RESIM]} if RESIM in pairs else {})}
    if ref is not reference and pairs:
        to_prepare[full_name] = reference
    # a paired candidate compared on a part of its events gets its event-level metrics on all of them
    whole = {
        name: f"{name} (all paired events)"
        for name in pairs
        if name in used and used[name] is not pairs[name]
    }
    to_prepare.update({whole[name]: pairs[name] for name in whole})
    prepared = suite.prepare_all(to_prepare)

    # A candidate paired with the reference was made from the reference's own events (its conditions or its
    # generator-level input) and inherits that sample's fluctuations; beside an independent second reference
    # it is judged against that second sample, as the floor judges the reference, so that a perfect
    # surrogate scores the floor rather than below it. (With the halves floor it already uses the other half.)
    judge = {name: FLOOR if floor_index is None and name in pairs else "reference" for name in used}
    judge[FLOOR] = "reference"
    table: dict[str, dict[str, Any]] = {}
    for name in progress(list(used), desc="evaluate"):
        table[name] = suite.distribution_metrics(prepared[judge[name]], prepared[name], seed)

    # event-level metrics for paired samples (all their events), beside the resimulation floor
    per_event: dict[str, np.ndarray] = {}
    full = prepared[full_name] if full_name in prepared else prepared["reference"]
    for name in pairs:
        rows, per_event[name] = suite.paired_metrics(full, prepared[whole.get(name, name)], seed, n_jobs)
        table.setdefault(name, {}).update(rows)

    result: dict[str, Any] = {
        "schema": "mlfastsim.evaluation/1",
        "kind": kind,
        "version": package_version(),
        "seed": seed,
        "n_reference": len(ref),
        "floors": {
            FLOOR: floor_note,
            RESIM: "reference events resimulated (same generator-level input, new detector seed)"
            if RESIM in table
            else None,
        },
        "units": suite.units(),
        "n_floor": n_floor,
        "samples": {
            name: {
                "n": len(candidates.get(name, ev)),
                "n_used": len(ev),
                "selection": selection[name],
                **({"n_paired": len(pairs[name])} if name in pairs else {}),
                "compared_with": "second reference" if judge.get(name) == FLOOR else "reference",
                "provenance": ev.attrs,
            }
            for name, ev in used.items()
        },
        "metrics": table,
        "warnings": warnings,
        "wall_time_s": 0.0,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    if plots:
        from mlfastsim.evaluation.report import render_html

        written = suite.plots(out_dir, prepared["reference"], {n: prepared[n] for n in used}, per_event)
        result["plots"] = [str(p.relative_to(out_dir)) for p in written]
        atomic_write_text(out_dir / "report.html", render_html(result, out_dir, result["plots"], suite.notes))
    result["wall_time_s"] = time.perf_counter() - start
    atomic_write_text(out_dir / "metrics.json", json.dumps(jsonable(result), indent=2))
    print(format_table(result))
    return result
