"""Summaries of shower files for ``mlfastsim inspect``: counts, species, energies, angles, response statistics."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim.data.kinds.showers.io import iter_showers
from mlfastsim.data.kinds.showers.observables import incidence_observables

__all__ = ["format_shower_inspection", "inspect_showers"]

_NAMES = {22: "gamma", 11: "e-", -11: "e+", 0: "unknown"}


def _stats(values: np.ndarray) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": float("nan"), "q05": float("nan"), "median": float("nan"), "q95": float("nan")}
    q = np.quantile(v, (0.05, 0.5, 0.95))
    return {"mean": float(v.mean()), "q05": float(q[0]), "median": float(q[1]), "q95": float(q[2])}


def inspect_showers(path: str | os.PathLike[str], max_events: int | None = None) -> dict[str, Any]:
    """Summarise a shower file, streaming it in batches.

    Returns:
        JSON-ready dict: path, format, kind, n_events, grid, species counts, and stats (mean, q05, median, q95)
        of the particle energy [GeV], the slope |p_T|/p_z, the deposited energy / particle energy, the cells
        above zero and the incidence asymmetry; the file's attributes.
    """
    path = Path(path)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("energy", "slope", "ratio", "cells", "asym", "pdg")}
    attrs: dict[str, Any] = {}
    grid = 0
    for batch in iter_showers(path, max_events):
        attrs, grid = batch.attrs, batch.grid
        e = batch.energy
        p = batch.momentum.astype(np.float64)
        cols["energy"].append(e)
        cols["slope"].append(np.hypot(p[:, 0], p[:, 1]) / p[:, 2])
        cols["ratio"].append(batch.response.sum((1, 2)) / e)
        cols["cells"].append((batch.response > 0).sum((1, 2)))
        cols["asym"].append(incidence_observables(batch.response, p)["asymmetry"])
        cols["pdg"].append(batch.pdg)
    arrays = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
    keys, counts = np.unique(arrays["pdg"].astype(np.int64), return_counts=True)
    return {
        "path": str(path),
        "format": "hdf5",
        "kind": "showers",
        "n_events": len(arrays["energy"]),
        "grid": grid,
        "species": {_NAMES.get(int(k), str(k)): int(c) for k, c in zip(keys, counts, strict=True)},
        "energy_gev": _stats(arrays["energy"]),
        "slope": _stats(arrays["slope"]),
        "deposit_over_energy": _stats(arrays["ratio"]),
        "cells_above_zero": _stats(arrays["cells"]),
        "asymmetry": _stats(arrays["asym"]),
        "attrs": attrs,
    }


def format_shower_inspection(summary: Mapping[str, Any]) -> str:
    """A human-readable multi-line rendering of :func:`inspect_showers`'s summary."""

    def row(name: str, s: Mapping[str, float], fmt: str = ".3g") -> str:
        spread = f"q05–q95 {s['q05']:{fmt}}–{s['q95']:{fmt}}"
        return f"  {name:<22} {s['mean']:{fmt}}  (median {s['median']:{fmt}}, {spread})"

    g = summary["grid"]
    lines = [
        f"{summary['path']}  ({summary['format']}, {summary['kind']})",
        f"  showers: {summary['n_events']}   grid: {g} × {g} cells   species: {summary['species']}",
        row("particle energy / GeV", summary["energy_gev"]),
        row("slope |pT|/pz", summary["slope"]),
        row("deposit / energy", summary["deposit_over_energy"]),
        row("cells above zero", summary["cells_above_zero"]),
        row("incidence asymmetry", summary["asymmetry"]),
    ]
    attrs = summary["attrs"]
    if attrs.get("producer"):
        lines.append(
            f"  producer: {attrs['producer']}  version {attrs.get('version', '?')}  seed {attrs.get('seed', '?')}"
        )
        if "wall_time_per_event_s" in attrs:
            times = ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in attrs["wall_time_per_event_s"].items())
            lines.append(f"  wall time per shower: {times}")
    else:
        lines.append("  producer: unknown (no mlfastsim attributes)")
    return "\n".join(lines)
