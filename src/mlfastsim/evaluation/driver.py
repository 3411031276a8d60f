"""The generic evaluation driver: every metric of a kind's suite beside its floor, as JSON, plots, HTML and
a table.

Floors: *truth vs truth* compares the reference with a second, independent reference sample (or, when
none is given, its two disjoint halves); the *resimulation* floor compares each reference event with the
same generator-level event passed through the detector again. A surrogate cannot be expected to beat the
floors; it is good when it is within a small factor of them. Candidates are paired with the reference
event by event only when they carry the same event ids in the same order (never by float equality).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import InputError, atomic_write_text, jsonable, package_version, progress
from mlfastsim.evaluation.suites import SUITES, Suite
from mlfastsim.evaluation.table import FLOOR, RESIM, format_table

__all__ = ["copied_fraction", "evaluate", "paired"]


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
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    ref = reference
    if second_reference is None:
        perm = np.random.default_rng(seed).permutation(len(reference))
        half = len(reference) // 2
        ref, second_reference = reference.subset(np.sort(perm[:half])), reference.subset(np.sort(perm[half:]))
        floor_note = "two disjoint halves of the reference"
    else:
        n = min(len(reference), len(second_reference))
        second_reference = second_reference.subset(slice(0, n))
        floor_note = "an independent second reference sample"
    samples: dict[str, Any] = {FLOOR: second_reference, **candidates}
    pairs = {name: ev for name, ev in candidates.items() if paired(reference, ev)}
    if resim is not None and paired(reference, resim):
        pairs = {RESIM: resim, **pairs}
    full_name = "reference (all events)"
    to_prepare = {"reference": ref, **samples, **({RESIM: pairs[RESIM]} if RESIM in pairs else {})}
    if ref is not reference and pairs:
        to_prepare[full_name] = reference
    prepared = suite.prepare_all(to_prepare)

    table: dict[str, dict[str, Any]] = {}
    for name in progress(list(samples), desc="evaluate"):
        table[name] = suite.distribution_metrics(prepared["reference"], prepared[name], seed)

    # event-level metrics for paired samples, beside the resimulation floor
    per_event: dict[str, np.ndarray] = {}
    full = prepared[full_name] if full_name in prepared else prepared["reference"]
    for name in pairs:
        rows, per_event[name] = suite.paired_metrics(full, prepared[name], seed, n_jobs)
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
        "samples": {name: {"n": len(ev), "provenance": ev.attrs} for name, ev in samples.items()},
        "metrics": table,
        "warnings": warnings,
        "wall_time_s": 0.0,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    if plots:
        from mlfastsim.evaluation.report import render_html

        written = suite.plots(out_dir, prepared["reference"], {n: prepared[n] for n in samples}, per_event)
        result["plots"] = [str(p.relative_to(out_dir)) for p in written]
        atomic_write_text(out_dir / "report.html", render_html(result, out_dir, result["plots"], suite.notes))
    result["wall_time_s"] = time.perf_counter() - start
    atomic_write_text(out_dir / "metrics.json", json.dumps(jsonable(result), indent=2))
    print(format_table(result))
    return result
