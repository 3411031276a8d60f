"""The plots of the TPC suite: reconstruction metrics profiled against each condition (generated vs reference,
with ratios), cluster distributions, residual distributions and window displays (PNG)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import require
from mlfastsim.evaluation.plots import plot_distribution_with_ratio, plot_per_event, save_png
from mlfastsim.evaluation.table import FLOOR, RESIM
from mlfastsim.evaluation.tpc_clusters import PAD_UM, TIME_UM

__all__ = ["plot_binned", "plot_windows", "tpc_plots"]

#: Profiled quantity → (axis label, comparison key, comparison label).
_PROFILES = {
    "efficiency": ("cluster-finding efficiency", "efficiency_ratio", "ratio"),
    "efficiency_3pad": ("3-pad efficiency", "efficiency_3pad_ratio", "ratio"),
    "pad_width": ("pad residual width [µm]", "pad_width_ratio", "ratio"),
    "time_width": ("time residual width [µm]", "time_width_ratio", "ratio"),
    "pad_mean": ("pad residual mean [µm]", "pad_mean_diff", "− ref [µm]"),
    "time_mean": ("time residual mean [µm]", "time_mean_diff", "− ref [µm]"),
    "charge": ("cluster charge [ADC]", "charge_ratio", "ratio"),
    "cluster_pad_width": ("cluster RMS in pads", "cluster_pad_width_ratio", "ratio"),
}
_LABELS = {
    "crossing_angle": "crossing angle [rad]",
    "dip_angle": "dip angle [rad]",
    "pad_fraction": "position in pad (fraction)",
    "drift_length": "drift length [cm]",
    "row": "row (0 inner, 1 outer)",
}


def _style(name: str) -> dict[str, Any]:
    return {"color": "grey", "ls": "--"} if name in (FLOOR, RESIM) else {}


def plot_binned(
    bins: Mapping[str, Mapping[str, Mapping[str, list[float]]]], quantity: str, path: Path
) -> Path:
    """One profiled quantity against every condition: top, the reference and each sample per bin (x at the
    bin's median condition, errors as computed); bottom, their ratio (or difference) with errors."""
    plt = require("matplotlib.pyplot", "plot")
    label, key, comparison = _PROFILES[quantity]
    conditions = list(_LABELS)
    fig, axes = plt.subplots(
        2, len(conditions), figsize=(3.0 * len(conditions), 4.6), sharex="col",
        gridspec_kw={"height_ratios": [2, 1]}, squeeze=False,
    )  # fmt: skip
    first = next(iter(bins.values()), {})
    for j, cond in enumerate(conditions):
        ax, rax = axes[0, j], axes[1, j]
        if cond in first:
            ref = first[cond]
            ax.errorbar(
                ref["ref_centre"], ref[f"ref_{quantity}"], ref[f"ref_{quantity}_err"],
                color="black", marker="o", ms=3, label="reference",
            )  # fmt: skip
        for k, (name, per_cond) in enumerate(bins.items()):
            row = per_cond[cond]
            x = np.asarray(row["cand_centre"]) + 0.01 * (k + 1) * np.nanstd(row["cand_centre"] or [0.0])
            ax.errorbar(
                x, row[f"cand_{quantity}"], row[f"cand_{quantity}_err"], marker=".", ms=3, label=name,
                **_style(name),
            )  # fmt: skip
            rax.errorbar(x, row[key], row[f"{key}_err"], marker=".", ms=3, **_style(name))
        rax.axhline(0.0 if comparison.startswith("−") else 1.0, color="black", lw=0.8)
        rax.set_xlabel(_LABELS[cond])
        if j == 0:
            ax.set_ylabel(label)
            rax.set_ylabel(comparison)
    axes[0, 0].legend(fontsize=6)
    return save_png(fig, path)


def plot_windows(rows: list[tuple[str, np.ndarray]], path: Path, n: int = 3) -> Path:
    """The first ``n`` windows of each sample (pads × buckets, ADC colour scale); paired samples show the same
    segments in each column."""
    plt = require("matplotlib.pyplot", "plot")
    fig, axes = plt.subplots(len(rows), n, figsize=(2.8 * n, 1.9 * len(rows)), squeeze=False)
    for r, (name, adc) in enumerate(rows):
        for j in range(n):
            ax = axes[r, j]
            if j < len(adc):
                ax.imshow(adc[j], origin="lower", aspect="auto", cmap="viridis", vmin=0)
            ax.set_title(f"{name} #{j}", fontsize=7)
            ax.tick_params(labelsize=6)
            if j == 0:
                ax.set_ylabel("pad", fontsize=7)
            if r == len(rows) - 1:
                ax.set_xlabel("time bucket (100 ns)", fontsize=7)
    return save_png(fig, path)


def tpc_plots(
    plots_dir: Path,
    reference: Any,
    samples: Mapping[str, Any],
    bins: Mapping[str, Mapping[str, Mapping[str, list[float]]]],
    per_event: Mapping[str, np.ndarray],
    per_event_label: str,
) -> list[Path]:
    """Every TPC plot (module docstring); ``reference``/``samples``: prepared samples of the suite, ``bins``:
    :func:`~mlfastsim.evaluation.suites.tpc.compare_bins` of each sample against the reference."""
    written = [plot_binned(bins, q, plots_dir / f"binned_{q}.png") for q in _PROFILES]
    r = reference.clusters
    views = {
        "cluster_charge": ("cluster charge [ADC]", lambda c: c.charge[c.found], True),
        "cluster_pad_width": ("cluster RMS in pads", lambda c: c.pad_width[c.found], False),
        "cluster_time_width": ("cluster RMS in buckets", lambda c: c.time_width[c.found], False),
        "pad_residual": ("pad residual [µm]", lambda c: c.pad_residual[c.found] * PAD_UM, False),
        "time_residual": ("time residual [µm]", lambda c: c.time_residual[c.found] * TIME_UM, False),
        "cluster_pads": ("pads in the cluster", lambda c: c.n_pads[c.found].astype(float), False),
    }
    for key, (label, get, log_x) in views.items():
        written.append(
            plot_distribution_with_ratio(
                get(r), {n: get(p.clusters) for n, p in samples.items()}, plots_dir / f"{key}.png", label,
                log_x=log_x, floor_name=FLOOR,
            )
        )  # fmt: skip
    shown = [("reference", reference.events.adc)] + [
        (n, p.events.adc) for n, p in samples.items() if n != FLOOR
    ]
    written.append(plot_windows(shown, plots_dir / "window_displays.png"))
    if per_event:
        written.append(
            plot_per_event(
                per_event, plots_dir / "pad_centroid_per_event.png", per_event_label, floor_name=RESIM
            )
        )
    return written
