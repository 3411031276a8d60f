"""Summaries of jet-image files for ``mlfastsim inspect``: counts, shapes, energies, hits, labels, provenance."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim.physics.detector.geometry import CHANNELS

__all__ = ["format_inspection", "inspect_file"]

_QUANTILES = (0.05, 0.5, 0.95)


def _stats(values: np.ndarray) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"mean": float("nan"), "q05": float("nan"), "median": float("nan"), "q95": float("nan")}
    q = np.quantile(finite, _QUANTILES)
    return {"mean": float(finite.mean()), "q05": float(q[0]), "median": float(q[1]), "q95": float(q[2])}


def inspect_file(path: str | os.PathLike[str], max_events: int | None = None) -> dict[str, Any]:
    """Summarise a jet-image file, streaming it in batches.

    Returns:
        JSON-ready dict: path, format, kind, n_events, image_shape, per-channel energy sums (GeV) and
        hit counts (pixels above zero) as mean/q05/median/q95, jet pT and mass stats, label counts,
        whether generator-level particles are stored, and the producer attributes.
    """
    from mlfastsim.data.io import detect_format, iter_jet_images

    path = Path(path)
    fmt = detect_format(path)
    sums: list[np.ndarray] = []
    hits: list[np.ndarray] = []
    pt, m0, y = [], [], []
    n_gen: list[int] = []
    has_gen = True
    attrs: dict[str, Any] = {}
    for batch in iter_jet_images(path, 0, max_events):
        sums.append(batch.images.sum(axis=(2, 3)))
        hits.append((batch.images > 0).sum(axis=(2, 3)))
        pt.append(batch.pt)
        m0.append(batch.m0)
        y.append(batch.y)
        attrs = batch.attrs
        if batch.gen is None:
            has_gen = False
        else:
            n_gen.extend(len(g) for g in batch.gen)
    n = int(sum(len(s) for s in sums))
    energy = np.concatenate(sums) if sums else np.zeros((0, len(CHANNELS)))
    counts = np.concatenate(hits) if hits else np.zeros((0, len(CHANNELS)))
    labels = np.concatenate(y) if y else np.zeros(0)
    label_counts = {
        ("nan" if np.isnan(v) else f"{v:g}"): int(c)
        for v, c in zip(*np.unique(labels, return_counts=True), strict=True)
    }
    return {
        "path": str(path),
        "format": fmt,
        "kind": "jet-images",
        "n_events": n,
        "image_shape": [len(CHANNELS), 125, 125],
        "channels": {
            name: {"energy_sum_gev": _stats(energy[:, i]), "hits": _stats(counts[:, i].astype(float))}
            for i, name in enumerate(CHANNELS)
        },
        "jet_pt_gev": _stats(np.concatenate(pt) if pt else np.zeros(0)),
        "jet_mass_gev": _stats(np.concatenate(m0) if m0 else np.zeros(0)),
        "labels": label_counts,
        "gen_particles": {
            "stored": has_gen and n > 0,
            **({"per_jet": _stats(np.array(n_gen, float))} if has_gen and n_gen else {}),
        },
        "attrs": attrs,
    }


def format_inspection(summary: dict[str, Any]) -> str:
    """A human-readable multi-line rendering of :func:`inspect_file`'s summary."""
    lines = [
        f"{summary['path']}  ({summary['format']}, {summary['kind']})",
        f"  events: {summary['n_events']}   image: {' × '.join(map(str, summary['image_shape']))}"
        f"   labels: {summary['labels']}",
        f"  {'channel':<10} {'energy sum / GeV (mean, q05–q95)':<36} {'hits (mean, median, q05–q95)'}",
    ]
    for name, ch in summary["channels"].items():
        e, h = ch["energy_sum_gev"], ch["hits"]
        lines.append(
            f"  {name:<10} {e['mean']:9.2f}  ({e['q05']:.2f}–{e['q95']:.2f}){'':<12}"
            f"{h['mean']:7.1f}  {h['median']:6.0f}  ({h['q05']:.0f}–{h['q95']:.0f})"
        )
    p, m = summary["jet_pt_gev"], summary["jet_mass_gev"]
    lines.append(
        f"  jet pT / GeV: median {p['median']:.1f} ({p['q05']:.1f}–{p['q95']:.1f});"
        f"  jet mass / GeV: median {m['median']:.1f} ({m['q05']:.1f}–{m['q95']:.1f})"
    )
    gen = summary["gen_particles"]
    lines.append(
        f"  generator-level particles stored: {'yes' if gen['stored'] else 'no'}"
        + (f" (median {gen['per_jet']['median']:.0f} per jet)" if "per_jet" in gen else "")
    )
    attrs = summary["attrs"]
    if attrs:
        config = attrs.get("config", {})
        lines.append(
            f"  producer: {attrs.get('producer', '?')}  version {attrs.get('version', '?')}"
            f"  seed {attrs.get('seed', '?')}  process {config.get('process', config.get('family', '?'))}"
        )
        if "wall_time_per_event_s" in attrs:
            times = ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in attrs["wall_time_per_event_s"].items())
            lines.append(f"  wall time per event: {times}")
    else:
        lines.append("  producer attributes: none (a file not written by mlfastsim)")
    return "\n".join(lines)
