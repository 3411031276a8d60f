"""Plots of the PID suite: weighted DLL distributions with their ratio to the reference, and seed 004's
efficiency-ratio curves (per species: DLL × binning variable, one line per cut quantile, the truth-vs-truth
floor in grey, the ±tolerance band shaded)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import atomic_path, require
from mlfastsim.data.kinds.pid.container import DLL_NAMES, SPECIES, PIDTable
from mlfastsim.evaluation.pid_efficiency import BIN_VARIABLES, EfficiencyBin
from mlfastsim.evaluation.plots import REFERENCE_STYLE

__all__ = ["plot_dll_distributions", "plot_efficiency_ratios"]


def _save(fig: Any, path: Path) -> Path:
    """PNG, atomically, with fixed margins: ``tight_layout`` on these many-panel grids cost seconds each."""
    plt = require("matplotlib.pyplot", "plot")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.07, top=0.93, wspace=0.25, hspace=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return path


def plot_dll_distributions(
    reference: PIDTable, samples: Mapping[str, PIDTable], path: Path, floor_name: str
) -> Path:
    """Weighted, normalised histograms of each DLL over all tracks; below, each sample / the reference."""
    plt = require("matplotlib.pyplot", "plot")
    fig, axes = plt.subplots(
        2, len(DLL_NAMES), figsize=(3.4 * len(DLL_NAMES), 4.4), sharex="col",
        gridspec_kw={"height_ratios": [3, 1]}, squeeze=False,
    )  # fmt: skip
    for j, name in enumerate(DLL_NAMES):
        lo, hi = np.quantile(reference.dll[:, j], [0.002, 0.998])
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, 41)
        ref_h, _ = np.histogram(reference.dll[:, j], edges, weights=reference.weight, density=True)
        ax, rax = axes[0, j], axes[1, j]
        ax.stairs(ref_h, edges, label="reference", **REFERENCE_STYLE)
        for sample, t in samples.items():
            h, _ = np.histogram(t.dll[:, j], edges, weights=t.weight, density=True)
            style = {"color": "grey", "ls": "--"} if sample == floor_name else {}
            ax.stairs(h, edges, label=sample, **style)
            with np.errstate(divide="ignore", invalid="ignore"):
                rax.stairs(np.where(ref_h > 0, h / ref_h, np.nan), edges, **style)
        ax.set_yscale("log")
        rax.axhline(1.0, color="black", lw=0.8)
        rax.set_ylim(0.5, 1.5)
        rax.set_xlabel(name)
        if j == 0:
            ax.set_ylabel("density (weighted)")
            rax.set_ylabel("ratio")
            ax.legend(fontsize=6)
    return _save(fig, path)


def _curve(bins: Sequence[EfficiencyBin], species: str, dll: str, variable: str, q: float) -> np.ndarray:
    """``[B, 4]`` (bin centre, ratio, error, effective reference tracks) of one curve."""
    rows = [b for b in bins if (b.species, b.dll, b.variable, b.quantile) == (species, dll, variable, q)]
    return np.array([[0.5 * (b.lo + b.hi), b.ratio, b.ratio_err, b.n_eff_ref] for b in rows]).reshape(-1, 4)


def plot_efficiency_ratios(
    bins: Sequence[EfficiencyBin],
    floor: Sequence[EfficiencyBin] | None,
    stem: Path,
    name: str,
    min_tracks: float,
    tolerance: float,
) -> list[Path]:
    """One PNG per species, ``<stem>_<species>.png``: rows DLLs, columns P, η, nTracks; ratio ε_gen/ε_ref with
    errors for each cut quantile (open markers: bins under ``min_tracks`` effective tracks), the floor dashed."""
    plt = require("matplotlib.pyplot", "plot")
    written = []
    quantiles = sorted({b.quantile for b in bins})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for species in SPECIES:
        if not any(b.species == species for b in bins):
            continue
        fig, axes = plt.subplots(
            len(DLL_NAMES), len(BIN_VARIABLES), figsize=(3.3 * len(BIN_VARIABLES), 1.9 * len(DLL_NAMES)),
            sharex="col", squeeze=False,
        )  # fmt: skip
        for i, dll in enumerate(DLL_NAMES):
            for j, (variable, label) in enumerate(BIN_VARIABLES.items()):
                ax = axes[i, j]
                ax.axhspan(1 - tolerance, 1 + tolerance, color="green", alpha=0.12, lw=0)
                ax.axhline(1.0, color="black", lw=0.7)
                for k, q in enumerate(quantiles):
                    c = _curve(bins, species, dll, variable, q)
                    full = c[:, 3] >= min_tracks
                    colour = colours[k % len(colours)]
                    ax.errorbar(c[full, 0], c[full, 1], c[full, 2], fmt="o", ms=3, color=colour,
                                label=f"cut q{q:g}")  # fmt: skip
                    ax.errorbar(c[~full, 0], c[~full, 1], c[~full, 2], fmt="o", ms=3, mfc="none",
                                color=colour, alpha=0.5)  # fmt: skip
                    if floor is not None:
                        f = _curve(floor, species, dll, variable, q)
                        ax.plot(f[:, 0], f[:, 1], ls="--", color="grey", lw=0.8)
                ax.set_ylim(0.7, 1.3)
                if variable == "p":
                    ax.set_xscale("log")
                if j == 0:
                    ax.set_ylabel(f"{dll}\nε ratio", fontsize=8)
                if i == len(DLL_NAMES) - 1:
                    ax.set_xlabel(label)
        axes[0, 0].legend(fontsize=6)
        fig.suptitle(
            f"{name}: efficiency ratio / reference, {species} (grey dashed: truth vs truth)", fontsize=9
        )
        written.append(_save(fig, Path(f"{stem}_{species}.png")))
    return written
