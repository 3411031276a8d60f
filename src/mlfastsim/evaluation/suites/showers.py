"""The evaluation suite of LHCb-like ECAL showers (seed 004): W1 of shower observables (total energy, response
E_dep/E, centroid, widths along x, y and along / across the incidence direction, the incidence asymmetry,
cells above threshold, hottest-cell fraction) and of the per-cell energy spectrum; FPD/KPD on the observables;
classifier AUCs on the observables (high level) and on the cells (low level), each with the conditions; for
paired candidates, per-shower distances beside the resimulation floor; plots of every distribution, of the
average shower and its residuals, and of the asymmetry against the incidence slope.

Observables: :func:`~mlfastsim.evaluation.kinds.shower_observables` (x, y moments) and
:func:`~mlfastsim.data.kinds.showers.incidence_observables` (along the incidence direction).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from mlfastsim._utils import InputError, require
from mlfastsim.data.kinds.showers import Showers, incidence_observables
from mlfastsim.data.kinds.showers.codec import model_conditions
from mlfastsim.evaluation.kinds import shower_observables
from mlfastsim.evaluation.plots import plot_distribution_with_ratio, plot_per_event, save_png
from mlfastsim.evaluation.table import FLOOR, RESIM
from mlfastsim.metrics import classifier_test, fpd, kpd, w1
from mlfastsim.metrics.result import bootstrap
from mlfastsim.physics.detector.lhcb_ecal_constants import CELL_MM

__all__ = ["OBSERVABLES", "SUITE", "PreparedShowers", "ShowerSuite"]

#: name → (unit, axis label) of every per-shower observable (W1 rows, FPD/KPD and high-level classifier inputs).
OBSERVABLES: dict[str, tuple[str, str]] = {
    "energy": ("GeV", "deposited energy [GeV]"),
    "response": ("E_dep / |p|", "deposited energy / particle energy"),
    "centroid_x": ("mm", "centroid x [mm] (window frame)"),
    "centroid_y": ("mm", "centroid y [mm] (window frame)"),
    "width_x": ("mm", "width along x [mm]"),
    "width_y": ("mm", "width along y [mm]"),
    "width_long": ("mm", "width along the incidence direction [mm]"),
    "width_trans": ("mm", "width across the incidence direction [mm]"),
    "asymmetry": ("(E₊ − E₋)/(E₊ + E₋)", "asymmetry along the incidence direction"),
    "n_cells": ("cells", "cells above threshold"),
    "max_cell_fraction": ("fraction", "hottest cell / deposited energy"),
}
_CELL_FLOOR = 0.01  # GeV: the low-level classifier sees ln(1 + E/ε) per cell


@dataclass
class PreparedShowers:
    """A shower sample with what the metrics need (computed once).

    Attributes:
        events: the showers. observables: ``{name: [N]}`` of :data:`OBSERVABLES`. conditions: ``[N, 5]``
        model conditions (x_cell, y_cell, t_x, t_y, ln E). cells: float32 ``[N, G²]`` ln(1 + E/10 MeV).
        spectrum: ``[M]`` log10 of every non-zero cell energy [GeV].
    """

    events: Showers
    observables: dict[str, np.ndarray]
    conditions: np.ndarray
    cells: np.ndarray
    spectrum: np.ndarray

    def high_level(self) -> np.ndarray:
        """``[N, 11 + 5]`` observables and conditions."""
        return np.column_stack([*(self.observables[k] for k in OBSERVABLES), self.conditions])

    def low_level(self) -> np.ndarray:
        """``[N, G² + 5]`` transformed cells and conditions."""
        return np.column_stack([self.cells, self.conditions])


def _prepare(events: Showers) -> PreparedShowers:
    if not isinstance(events, Showers):
        raise InputError(f"the showers suite needs Showers, got {type(events).__name__}")
    r = np.clip(events.response.astype(np.float64), 0.0, None)
    xy = shower_observables(r, (CELL_MM, CELL_MM))
    inc = incidence_observables(r, events.momentum, CELL_MM)
    obs = {
        "energy": xy["energy"],
        "response": xy["energy"] / events.energy,
        **{k: xy[k] for k in ("centroid_x", "centroid_y", "width_x", "width_y")},
        **inc,
        "n_cells": (r > 0).sum((1, 2)).astype(np.float64),
        "max_cell_fraction": xy["max_cell_fraction"],
    }
    cells = np.log1p(r.reshape(len(r), -1) / _CELL_FLOOR).astype(np.float32)
    nonzero = r[r > 0]
    return PreparedShowers(events, obs, model_conditions(events, CELL_MM), cells, np.log10(nonzero))


def _classifier(x_ref: np.ndarray, x_cand: np.ndarray, seed: int) -> dict[str, Any]:
    """Calibrated test AUC (:func:`~mlfastsim.metrics.classifier_test`), with a note when ≈ 0.5."""
    ok_r, ok_c = np.isfinite(x_ref).all(1), np.isfinite(x_cand).all(1)
    try:
        res = classifier_test(x_ref[ok_r], x_cand[ok_c], seed=seed, n_threads=1)
    except ValueError as err:
        return {"value": float("nan"), "uncertainty": float("nan"), "n": 0, "note": f"not computed: {err}"}
    row: dict[str, Any] = res.to_dict()
    if abs(res.value - 0.5) < 2 * res.uncertainty:
        row["note"] = "compatible with 0.5: indistinguishable to this classifier (or it did not learn)"
    return row


def _map_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ|a − b| / (Σa + Σb) per shower ``[N]`` of two map sets ``[N, G, G]`` (0 identical, 1 disjoint)."""
    num = np.abs(a - b).sum((1, 2))
    den = a.sum((1, 2)) + b.sum((1, 2))
    return num / np.where(den > 0, den, 1.0)


@dataclass(frozen=True)
class ShowerSuite:
    """Suite of the ``showers`` kind (module docstring; definitions in docs/metrics.md, "Showers").

    Attributes:
        classifier_max: showers per sample the classifiers see at most (the rest is not used by them).
        fpd_kpd: compute FPD and KPD on the standardised observables.
    """

    classifier_max: int = 20_000
    fpd_kpd: bool = True
    kind = "showers"
    per_event_label = "map distance Σ|a − b| / (Σa + Σb) to its reference shower"
    notes = (
        "W1 of each shower observable in its unit (bootstrap errors), beside the truth-vs-truth floor (two "
        "independent reference samples, the same size); asymmetry: (E₊ − E₋)/(E₊ + E₋) of the cells on either "
        "side of the line through the window centre perpendicular to the incidence direction (px, py), seed "
        "004's regressor target; widths: energy-weighted standard deviations about the centroid. Cell spectrum: "
        "W1 of log10(E/GeV) of all cells above zero, pooled. FPD/KPD on the 11 observables, each divided by its "
        "largest |value| in the reference (JetNet's normalisation). Classifier AUCs (2 × 512 MLP, isotonic "
        "calibration, held-out test split): high level on the observables, low level on ln(1 + E/10 MeV) of the "
        "900 cells, both with the 5 conditions (x, y in the cell, slopes, ln E): 0.5 = indistinguishable. "
        "Paired candidates (same event ids): per-shower map distance, energy and centroid differences, beside "
        "the resimulation floor (the same particles simulated again)."
    )

    def units(self) -> dict[str, str]:
        u = {f"W1 {k}": unit for k, (unit, _) in OBSERVABLES.items()}
        u.update(
            {
                "W1 cell spectrum": "log10(E / GeV) per cell",
                "FPD (observables)": "squared normalised observables",
                "KPD (observables)": "normalised observables (MMD², quartic kernel)",
                "median map distance": "fraction of Σa + Σb",
                "median |ΔE| / E": "fraction",
                "median centroid distance": "mm",
            }
        )
        return u

    def prepare_all(self, samples: Mapping[str, Showers]) -> dict[str, PreparedShowers]:
        """Every sample's observables, conditions, cells and spectrum (one grid for all)."""
        prepared = {name: _prepare(ev) for name, ev in samples.items()}
        grids = {p.events.grid for p in prepared.values()}
        if len(grids) > 1:
            raise InputError(f"the samples have different grids {sorted(grids)}; compare showers of one grid")
        return prepared

    def distribution_metrics(
        self, reference: PreparedShowers, candidate: PreparedShowers, seed: int
    ) -> dict[str, Any]:
        with threadpool_limits(limits=1, user_api="blas"):
            row: dict[str, Any] = {}
            for k in OBSERVABLES:
                row[f"W1 {k}"] = w1(reference.observables[k], candidate.observables[k], seed=seed).to_dict()
            row["W1 cell spectrum"] = w1(reference.spectrum, candidate.spectrum, seed=seed).to_dict()
            high_r, high_c = reference.high_level(), candidate.high_level()
            if self.fpd_kpd:
                obs_r, obs_c = high_r[:, : len(OBSERVABLES)], high_c[:, : len(OBSERVABLES)]
                row["FPD (observables)"] = fpd(obs_r, obs_c, seed=seed).to_dict()
                row["KPD (observables)"] = kpd(obs_r, obs_c, seed=seed).to_dict()
            m = self.classifier_max
            row["classifier AUC (high-level)"] = _classifier(high_r[:m], high_c[:m], seed)
            row["classifier AUC (low-level cells)"] = _classifier(
                reference.low_level()[:m], candidate.low_level()[:m], seed
            )
        return row

    def paired_metrics(
        self, reference: PreparedShowers, candidate: PreparedShowers, seed: int, n_jobs: int
    ) -> tuple[dict[str, Any], np.ndarray]:
        a, b = reference.events.response.astype(np.float64), candidate.events.response.astype(np.float64)
        dist = _map_distance(a, b)
        ro, co = reference.observables, candidate.observables
        rel = np.abs(co["energy"] - ro["energy"]) / np.where(ro["energy"] > 0, ro["energy"], 1.0)
        shift = np.hypot(co["centroid_x"] - ro["centroid_x"], co["centroid_y"] - ro["centroid_y"])
        row = {
            "median map distance": bootstrap(np.median, dist, n_boot=200, seed=seed).to_dict(),
            "median |ΔE| / E": bootstrap(np.median, rel, n_boot=200, seed=seed).to_dict(),
            "median centroid distance": bootstrap(np.median, shift, n_boot=200, seed=seed).to_dict(),
        }
        return row, dist

    def plots(
        self,
        out_dir: Path,
        reference: PreparedShowers,
        samples: Mapping[str, PreparedShowers],
        per_event: Mapping[str, np.ndarray],
    ) -> list[Path]:
        plots_dir = out_dir / "plots"
        written = [
            plot_distribution_with_ratio(
                reference.observables[k], {n: p.observables[k] for n, p in samples.items()},
                plots_dir / f"{k}.png", label, log_x=k == "energy", floor_name=FLOOR,
            )
            for k, (_, label) in OBSERVABLES.items()
        ]  # fmt: skip
        written.append(
            plot_distribution_with_ratio(
                reference.spectrum, {n: p.spectrum for n, p in samples.items()}, plots_dir / "cell_spectrum.png",
                "log10(cell energy / GeV), cells above zero", floor_name=FLOOR,
            )
        )  # fmt: skip
        written.append(_plot_average(reference, samples, plots_dir / "average_showers.png"))
        written.append(_plot_asymmetry_profile(reference, samples, plots_dir / "asymmetry_vs_slope.png"))
        if per_event:
            written.append(
                plot_per_event(
                    per_event, plots_dir / "map_distance_per_event.png", self.per_event_label, RESIM
                )
            )
        return written


def _slope(p: PreparedShowers) -> np.ndarray:
    return np.hypot(p.conditions[:, 2], p.conditions[:, 3])


def _plot_average(reference: PreparedShowers, samples: Mapping[str, PreparedShowers], path: Path) -> Path:
    """Average shower (log scale) of each sample, and its residual (sample − reference) / reference per cell."""
    plt = require("matplotlib.pyplot", "plot")
    from matplotlib.colors import LogNorm

    rows = [("reference", reference), *samples.items()]
    ref_mean = reference.events.response.astype(np.float64).mean(0)
    half = ref_mean.shape[0] / 2 * CELL_MM
    extent = (-half, half, -half, half)
    fig, axes = plt.subplots(2, len(rows), figsize=(2.9 * len(rows), 5.4), squeeze=False)
    vmax = max(float(ref_mean.max()), 1e-3)
    for j, (name, p) in enumerate(rows):
        mean = p.events.response.astype(np.float64).mean(0)
        im = axes[0, j].imshow(
            np.ma.masked_less_equal(mean, 0), origin="lower", extent=extent, norm=LogNorm(vmax * 1e-5, vmax)
        )
        axes[0, j].set_title(f"{name}: average [GeV]", fontsize=8)
        fig.colorbar(im, ax=axes[0, j], fraction=0.046)
        with np.errstate(divide="ignore", invalid="ignore"):
            resid = np.where(ref_mean > 1e-4 * vmax, mean / ref_mean - 1.0, np.nan)
        im = axes[1, j].imshow(resid, origin="lower", extent=extent, cmap="coolwarm", vmin=-0.5, vmax=0.5)
        axes[1, j].set_title(f"{name}: / reference − 1", fontsize=8)
        fig.colorbar(im, ax=axes[1, j], fraction=0.046)
        for ax in axes[:, j]:
            ax.set_xlabel("x [mm]", fontsize=7)
            ax.tick_params(labelsize=6)
    axes[0, 0].set_ylabel("y [mm]", fontsize=7)
    return save_png(fig, path)


def _plot_asymmetry_profile(
    reference: PreparedShowers, samples: Mapping[str, PreparedShowers], path: Path, bins: int = 8
) -> Path:
    """Mean incidence asymmetry (±σ/√n) in bins of the incidence slope |(p_x, p_y)| / p_z, every sample."""
    plt = require("matplotlib.pyplot", "plot")
    slope_ref = _slope(reference)
    edges = np.quantile(slope_ref, np.linspace(0, 1, bins + 1))
    centres = 0.5 * (edges[1:] + edges[:-1])
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for name, p in [("reference", reference), *samples.items()]:
        idx = np.clip(np.digitize(_slope(p), edges) - 1, 0, bins - 1)
        a = p.observables["asymmetry"]
        mean = np.array([a[idx == i].mean() if (idx == i).any() else np.nan for i in range(bins)])
        err = np.array([a[idx == i].std() / np.sqrt(max((idx == i).sum(), 1)) for i in range(bins)])
        style = (
            {"color": "black"}
            if name == "reference"
            else {"color": "grey", "ls": "--"}
            if name == FLOOR
            else {}
        )
        ax.errorbar(centres, mean, err, label=name, capsize=2, **style)
    ax.set_xlabel("incidence slope |(p_x, p_y)| / p_z")
    ax.set_ylabel("mean asymmetry")
    ax.legend(fontsize=7)
    return save_png(fig, path)


SUITE = ShowerSuite()
