"""Summaries of PID tables for ``mlfastsim inspect``: tracks, species mix, inputs, DLLs, weights, provenance."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim.data.kinds.pid.container import DLL_NAMES, SPECIES
from mlfastsim.data.kinds.pid.io import read_pid

__all__ = ["format_pid_inspection", "inspect_pid"]


def _stats(values: np.ndarray) -> dict[str, float]:
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return {"mean": float("nan"), "q05": float("nan"), "median": float("nan"), "q95": float("nan")}
    q = np.quantile(finite, (0.05, 0.5, 0.95))
    return {"mean": float(finite.mean()), "q05": float(q[0]), "median": float(q[1]), "q95": float(q[2])}


def inspect_pid(path: str | os.PathLike[str], max_events: int | None = None) -> dict[str, Any]:
    """Summarise a PID table.

    Returns:
        JSON-ready dict: path, format, kind, n_events (tracks), collisions, species counts and fractions,
        stats (mean, q05, median, q95) of P [GeV/c], η and nTracks, per species the median of each DLL,
        whether DLLs were simulated, weights (sum, negative count), and the file's attributes.
    """
    table = read_pid(path, max_events)
    counts = {s: int((table.species == k).sum()) for k, s in enumerate(SPECIES)}
    n = len(table)
    medians = {
        s: {name: float(np.median(table.dll[table.species == k, j])) for j, name in enumerate(DLL_NAMES)}
        for k, s in enumerate(SPECIES)
        if counts[s] and table.has_dll
    }
    return {
        "path": str(Path(path)),
        "format": "hdf5",
        "kind": "pid",
        "n_events": n,
        "collisions": len(np.unique(table.collision[table.collision >= 0])),
        "species": counts,
        "species_fractions": {s: c / n for s, c in counts.items()},
        "inputs": {"p_gev": _stats(table.p), "eta": _stats(table.eta), "n_tracks": _stats(table.n_tracks)},
        "has_dll": table.has_dll,
        "dll_median_by_species": medians,
        "weights": {"sum": float(table.weight.sum()), "negative": int((table.weight < 0).sum())},
        "attrs": table.attrs,
    }


def format_pid_inspection(summary: Mapping[str, Any]) -> str:
    """A human-readable multi-line rendering of :func:`inspect_pid`'s summary."""
    inputs = summary["inputs"]
    lines = [
        f"{summary['path']}  ({summary['format']}, {summary['kind']})",
        f"  tracks: {summary['n_events']}   collisions: {summary['collisions']}   weights: sum "
        f"{summary['weights']['sum']:.6g}, {summary['weights']['negative']} negative",
        "  species: "
        + ", ".join(
            f"{s} {c} ({100 * summary['species_fractions'][s]:.2f} %)" for s, c in summary["species"].items()
        ),
    ]
    for key, label in (("p_gev", "P / GeV"), ("eta", "eta"), ("n_tracks", "nTracks")):
        s = inputs[key]
        lines.append(
            f"  {label:<8} mean {s['mean']:8.3g}   median {s['median']:8.3g}   5–95 %: {s['q05']:.3g}–{s['q95']:.3g}"
        )
    if summary["has_dll"]:
        lines.append("  median DLL  " + " ".join(f"{n:>8}" for n in DLL_NAMES))
        for s, med in summary["dll_median_by_species"].items():
            lines.append(f"    {s:<9} " + " ".join(f"{med[n]:8.2f}" for n in DLL_NAMES))
    else:
        lines.append("  DLLs: not simulated (a table of tracks to condition on)")
    attrs = summary["attrs"]
    if attrs.get("producer"):
        lines.append(
            f"  producer: {attrs['producer']}  version {attrs.get('version', '?')}  seed {attrs.get('seed', '?')}"
        )
        if "wall_time_per_event_s" in attrs:
            times = ", ".join(f"{k} {v * 1e6:.1f} µs" for k, v in attrs["wall_time_per_event_s"].items())
            lines.append(f"  wall time per track: {times}")
    return "\n".join(lines)
