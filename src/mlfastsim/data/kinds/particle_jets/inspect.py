"""Summaries of particle-jet files for ``mlfastsim inspect``: levels, jets, particles, kinematics, labels."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim.data.kinds.particle_jets.io import file_layout, iter_particle_jets, jet_classes, region_counts

__all__ = ["format_particle_jet_inspection", "inspect_particle_jets", "stats"]

_QUANTILES = (0.05, 0.5, 0.95)


def stats(values: np.ndarray) -> dict[str, float]:
    """Mean, 5 %, 50 % and 95 % quantiles of the finite ``values`` (NaN when there are none)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return {"mean": float("nan"), "q05": float("nan"), "median": float("nan"), "q95": float("nan")}
    q = np.quantile(finite, _QUANTILES)
    return {"mean": float(finite.mean()), "q05": float(q[0]), "median": float(q[1]), "q95": float(q[2])}


def _counts(values: np.ndarray) -> dict[str, int]:
    keys, counts = np.unique(values, return_counts=True)
    name = (lambda v: "nan" if np.isnan(v) else f"{v:g}") if values.dtype.kind == "f" else str
    return {name(k): int(c) for k, c in zip(keys, counts, strict=True)}


def inspect_particle_jets(path: str | os.PathLike[str], max_events: int | None = None) -> dict[str, Any]:
    """Summarise a particle-jet file (any layout), streaming it in batches without the regions.

    Returns:
        JSON-ready dict: path, format, kind, layout (mlfastsim, jetnet, hls4ml), n_events, n_particles (P),
        levels, and per level the matched jets (finite jet features) and, over those, stats (mean, q05,
        median, q95) of the particles per jet, jet pT (GeV), η and mass (GeV); label counts, jet-class
        counts, whether regions are stored (and their particles per jet), and the file's attributes.
    """
    path = Path(path)
    layout = file_layout(path)
    columns: dict[str, list[np.ndarray]] = {}
    labels, classes = [], []
    attrs: dict[str, Any] = {}
    levels: tuple[str, ...] = ()
    p = 0
    for batch in iter_particle_jets(path, max_events, regions=False):
        levels, p, attrs = batch.levels, batch.n_particles, batch.attrs
        for level in levels:
            columns.setdefault(level, []).append(batch.jets(level))
            columns.setdefault(f"{level}_n", []).append(batch.particles(level)[..., 3].sum(axis=1))
        labels.append(batch.y)
        classes.append(jet_classes(batch))
    per_level = {}
    for level in levels:
        jets = np.concatenate(columns[level])
        matched = np.isfinite(jets).all(axis=1)
        per_level[level] = {
            "matched_jets": int(matched.sum()),
            "particles_per_jet": stats(np.concatenate(columns[f"{level}_n"])[matched]),
            "jet_pt_gev": stats(jets[matched, 0]),
            "jet_eta": stats(jets[matched, 1]),
            "jet_mass_gev": stats(jets[matched, 2]),
        }
    y = np.concatenate(labels) if labels else np.zeros(0, np.float32)
    cls = np.concatenate(classes) if classes else np.zeros(0, str)
    counts = region_counts(path, max_events)
    return {
        "path": str(path),
        "format": "hdf5",
        "kind": "particle-jets",
        "layout": layout,
        "n_events": len(y),
        "n_particles": p,
        "levels": list(levels),
        "per_level": per_level,
        "labels": _counts(y),
        "jet_classes": _counts(cls[cls != ""]) if cls.size else {},
        "regions": {
            "stored": counts is not None,
            **({"particles_per_jet": stats(counts.astype(float))} if counts is not None else {}),
        },
        "attrs": attrs,
    }


def format_particle_jet_inspection(summary: Mapping[str, Any]) -> str:
    """A human-readable multi-line rendering of :func:`inspect_particle_jets`'s summary."""
    lines = [
        f"{summary['path']}  ({summary['format']}, {summary['kind']}, {summary['layout']} layout)",
        f"  jets: {summary['n_events']}   particle slots P: {summary['n_particles']}"
        f"   levels: {', '.join(summary['levels'])}   labels: {summary['labels']}",
    ]
    if summary.get("jet_classes"):
        lines.append(f"  jet classes: {summary['jet_classes']}")
    lines.append(
        f"  {'level':<6} {'matched':>8}  {'particles (mean, q05–q95)':<27} {'jet pT / GeV':<22} mass / GeV"
    )
    for level, s in summary["per_level"].items():
        n, pt, m = s["particles_per_jet"], s["jet_pt_gev"], s["jet_mass_gev"]
        lines.append(
            f"  {level:<6} {s['matched_jets']:>8}  {n['mean']:6.1f}  ({n['q05']:.0f}–{n['q95']:.0f}){'':<12}"
            f" {pt['mean']:8.1f} ({pt['q05']:.0f}–{pt['q95']:.0f})   {m['mean']:7.1f} ({m['q05']:.0f}–{m['q95']:.0f})"
        )
    regions = summary["regions"]
    lines.append(
        "  regions (detector input) stored: "
        + (f"yes (mean {regions['particles_per_jet']['mean']:.0f} particles)" if regions["stored"] else "no")
    )
    attrs = summary["attrs"]
    if attrs.get("producer"):
        config = attrs.get("config", {})
        lines.append(
            f"  producer: {attrs['producer']}  version {attrs.get('version', '?')}  seed {attrs.get('seed', '?')}"
            f"  process {config.get('process', '?')}"
        )
        if "wall_time_per_event_s" in attrs:
            times = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in attrs["wall_time_per_event_s"].items())
            lines.append(f"  wall time per jet: {times}")
    else:
        source = attrs.get("source_layout")
        lines.append(
            f"  producer attributes: none (a public {source} file)" if source else "  producer: unknown"
        )
    return "\n".join(lines)
