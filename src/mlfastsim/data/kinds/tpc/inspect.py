"""Summaries of TPC window files for ``mlfastsim inspect``: segments, rows, conditions, ADC occupancy and
charge, the simulation's cost per segment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim.data.kinds.particle_jets.inspect import stats
from mlfastsim.data.kinds.tpc.container import CONDITIONS
from mlfastsim.data.kinds.tpc.io import read_tpc_windows
from mlfastsim.physics.detector.tpc_constants import ADC_MAX, ROW_NAMES

__all__ = ["format_tpc_inspection", "inspect_tpc"]

_UNITS = {"crossing_angle": "rad", "dip_angle": "rad", "position": "cm", "drift_length": "cm", "row": ""}


def inspect_tpc(path: str | os.PathLike[str], max_events: int | None = None) -> dict[str, Any]:
    """Summarise a TPC window file.

    Returns:
        JSON-ready dict: path, format, kind, n_events, window shape, segments per row type, stats (mean,
        q05, median, q95) of every condition, of the cells above threshold per window, of the window's
        total charge [ADC] and of its largest sample; the fractions of empty windows and of saturated
        samples; the file's attributes.
    """
    path = Path(path)
    ev = read_tpc_windows(path, max_events)
    adc = ev.adc.astype(np.float64)
    rows = ev.conditions[:, 4]
    return {
        "path": str(path),
        "format": "hdf5",
        "kind": "tpc",
        "n_events": len(ev),
        "window": list(ev.adc.shape[1:]),
        "rows": {name: int((rows == i).sum()) for i, name in enumerate(ROW_NAMES)},
        "conditions": {
            name: stats(ev.conditions[:, i]) for i, name in enumerate(CONDITIONS) if name != "row"
        },
        "cells_above_threshold": stats((adc > 0).sum((1, 2)).astype(float)),
        "total_charge_adc": stats(adc.sum((1, 2))),
        "max_sample_adc": stats(adc.max((1, 2)) if len(ev) else np.zeros(0)),
        "empty_windows": float((adc.sum((1, 2)) == 0).mean()) if len(ev) else float("nan"),
        "saturated_samples": float((adc >= ADC_MAX).mean()) if len(ev) else float("nan"),
        "attrs": ev.attrs,
    }


def format_tpc_inspection(summary: Mapping[str, Any]) -> str:
    """A human-readable multi-line rendering of :func:`inspect_tpc`'s summary."""
    lines = [
        f"{summary['path']}  ({summary['format']}, {summary['kind']})",
        f"  segments: {summary['n_events']}   window: {' × '.join(map(str, summary['window']))} (pads × 100 ns buckets)"
        f"   rows: {summary['rows']}",
        f"  {'condition':<21} {'mean':>9} {'q05':>9} {'median':>9} {'q95':>9}",
    ]
    for name, s in summary["conditions"].items():
        unit = f" [{_UNITS[name]}]" if _UNITS[name] else ""
        lines.append(
            f"  {name + unit:<21} {s['mean']:9.3f} {s['q05']:9.3f} {s['median']:9.3f} {s['q95']:9.3f}"
        )
    for key, label in (
        ("cells_above_threshold", "cells > threshold"),
        ("total_charge_adc", "charge [ADC]"),
        ("max_sample_adc", "max sample [ADC]"),
    ):
        s = summary[key]
        lines.append(f"  {label:<21} {s['mean']:9.1f} {s['q05']:9.1f} {s['median']:9.1f} {s['q95']:9.1f}")
    lines.append(
        f"  empty windows: {summary['empty_windows']:.4f}   saturated samples: {summary['saturated_samples']:.2e}"
    )
    attrs = summary["attrs"]
    if attrs.get("producer"):
        lines.append(
            f"  producer: {attrs['producer']}  version {attrs.get('version', '?')}  seed {attrs.get('seed', '?')}"
        )
    if "wall_time_per_event_s" in attrs:
        times = ", ".join(f"{k} {v * 1e6:.0f} µs" for k, v in attrs["wall_time_per_event_s"].items())
        lines.append(f"  wall time per segment: {times}")
    return "\n".join(lines)
