"""Comparison plots: overlaid histograms with a ratio panel, and per-event metric distributions (PNG)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import atomic_path, require

__all__ = ["plot_distribution_with_ratio", "plot_per_event", "save_png"]

REFERENCE_STYLE = {"color": "black", "lw": 1.8}


def save_png(fig: Any, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG atomically (folders created) and close it."""
    plt = require("matplotlib.pyplot", "plot")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def _edges(values: list[np.ndarray], bins: int, log: bool) -> np.ndarray:
    data = np.concatenate([v[np.isfinite(v)] for v in values])
    if log:
        data = data[data > 0]
    if len(data) == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    lo, hi = np.quantile(data, [0.001, 0.999])
    if hi <= lo:
        hi = lo + 1.0
    return np.geomspace(max(lo, 1e-6), hi, bins + 1) if log else np.linspace(lo, hi, bins + 1)


def plot_distribution_with_ratio(
    reference: np.ndarray,
    others: Mapping[str, np.ndarray],
    path: str | Path,
    xlabel: str,
    bins: int = 40,
    log_x: bool = False,
    floor_name: str | None = None,
) -> Path:
    """Normalised histograms of ``reference`` and each of ``others``; below, each divided by the reference.

    The sample named ``floor_name`` (truth vs truth) is drawn dashed grey so the eye sees the noise floor.
    """
    plt = require("matplotlib.pyplot", "plot")
    edges = _edges([reference, *others.values()], bins, log_x)
    centres = 0.5 * (edges[1:] + edges[:-1])
    fig, (ax, rax) = plt.subplots(
        2, 1, figsize=(5.2, 4.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ref_h, _ = np.histogram(reference, edges, density=True)
    ax.stairs(ref_h, edges, label=f"reference (N={len(reference)})", **REFERENCE_STYLE)
    for name, values in others.items():
        h, _ = np.histogram(values, edges, density=True)
        style = {"color": "grey", "ls": "--"} if name == floor_name else {}
        ax.stairs(h, edges, label=f"{name} (N={len(values)})", **style)
        with np.errstate(divide="ignore", invalid="ignore"):
            rax.plot(centres, np.where(ref_h > 0, h / ref_h, np.nan), drawstyle="steps-mid", **style)
    if ref_h.max() > 0:
        ax.set_ylim(0.0, 1.6 * ref_h.max())  # a far-off sample must not flatten the reference
    rax.axhline(1.0, color="black", lw=0.8)
    rax.set_ylim(0.0, 2.0)
    rax.set_ylabel("ratio")
    rax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    if log_x:
        ax.set_xscale("log")
    ax.legend(fontsize=7)
    return save_png(fig, path)


def plot_per_event(
    values: Mapping[str, np.ndarray], path: str | Path, xlabel: str, floor_name: str | None = None
) -> Path:
    """Distributions of a per-event metric (e.g. reconstruction EMD) for several samples, the floor dashed."""
    plt = require("matplotlib.pyplot", "plot")
    edges = _edges(list(values.values()), 40, False)
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for name, v in values.items():
        style = {"color": "grey", "ls": "--"} if name == floor_name else {}
        ax.hist(v, edges, histtype="step", density=True, label=f"{name} (median {np.median(v):.3g})", **style)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend(fontsize=7)
    return save_png(fig, path)
