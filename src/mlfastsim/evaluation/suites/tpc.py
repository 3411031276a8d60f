"""The evaluation suite of TPC pad-row windows (seed 004; Maevskiy et al., EPJC 81 (2021) 599): judged at
reconstruction level. The cluster finder (:mod:`mlfastsim.evaluation.tpc_clusters`) runs on every window;
then, in bins of each condition (crossing angle, dip angle, pad fraction of the position along the row,
drift length, row type), the cluster-finding efficiency and its ratio to the reference's
(:func:`mlfastsim.metrics.efficiency_ratio`), the centroid residuals' mean and width in pad and time, and the
cluster charge and widths, generated vs reference; classifier AUCs on the windows with their conditions.

Targets (issue 10): efficiency ratio within 1 ± 0.03 and residual widths within 5 % of the reference in every
bin with at least ``min_bin_count`` segments; classifier AUC ≤ 0.65.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import InputError
from mlfastsim.data.kinds.tpc import TPCWindows, model_conditions
from mlfastsim.evaluation.tpc_clusters import (
    PAD_UM,
    TIME_UM,
    Clusters,
    bin_edges,
    bin_stats,
    find_clusters,
    mean_width,
)
from mlfastsim.metrics import MetricResult, classifier_test, efficiency_ratio, w1

__all__ = ["BINNED_BY", "SUITE", "PreparedTPC", "TPCSuite", "compare_bins"]

#: Conditions the reconstruction metrics are binned in, and their column in the model conditions.
BINNED_BY = {"crossing_angle": 0, "dip_angle": 1, "pad_fraction": 2, "drift_length": 3, "row": 5}
_RATIOS = ("pad_width", "time_width", "charge", "cluster_pad_width", "cluster_time_width")


@dataclass
class PreparedTPC:
    """A sample with its clusters and the values of :data:`BINNED_BY` (computed once)."""

    events: TPCWindows
    clusters: Clusters
    binning: dict[str, np.ndarray]
    cond: np.ndarray = field(repr=False)


def _ratio(a: np.ndarray, ea: np.ndarray, b: np.ndarray, eb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """a / b with independent errors propagated (NaN where b is 0 or missing)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(b != 0, a / b, np.nan)
        return r, np.abs(r) * np.hypot(ea / a, eb / b)


def compare_bins(
    reference: PreparedTPC, candidate: PreparedTPC, n_bins: int = 6
) -> dict[str, dict[str, list[float]]]:
    """Per condition of :data:`BINNED_BY`, per bin: both samples' statistics (``ref_``/``cand_`` +
    :data:`~mlfastsim.evaluation.tpc_clusters.BIN_STATS`), the efficiency ratios (``efficiency_ratio``,
    ``efficiency_3pad_ratio`` with ``_err``), the ratios of residual widths, cluster charge and widths
    (``<stat>_ratio``) and the residual mean differences in µm (``pad_mean_diff``, ``time_mean_diff``)."""
    out: dict[str, dict[str, list[float]]] = {}
    for name in BINNED_BY:
        edges = bin_edges(reference.binning[name], n_bins, discrete=name == "row")
        ref = bin_stats(reference.clusters, reference.binning[name], edges)
        cand = bin_stats(candidate.clusters, candidate.binning[name], edges)
        row: dict[str, np.ndarray] = {"edges": edges, **{f"ref_{k}": v for k, v in ref.items()}}
        row.update({f"cand_{k}": v for k, v in cand.items()})
        for eff, passed in (("efficiency", "found"), ("efficiency_3pad", "three")):
            x_ref, x_cand = (_passed(p.clusters, passed) for p in (reference, candidate))
            e = efficiency_ratio(
                x_ref, x_cand, 0.5, reference.binning[name], edges, bins_of_gen=candidate.binning[name]
            )
            row[f"{eff}_ratio"], row[f"{eff}_ratio_err"] = e["ratio"], e["ratio_err"]
        for stat in _RATIOS:
            row[f"{stat}_ratio"], row[f"{stat}_ratio_err"] = _ratio(
                cand[stat], cand[f"{stat}_err"], ref[stat], ref[f"{stat}_err"]
            )
        for stat in ("pad_mean", "time_mean"):
            row[f"{stat}_diff"] = cand[stat] - ref[stat]
            row[f"{stat}_diff_err"] = np.hypot(cand[f"{stat}_err"], ref[f"{stat}_err"])
        out[name] = {k: [float(x) for x in v] for k, v in row.items()}
    return out


def _passed(c: Clusters, which: str) -> np.ndarray:
    return (c.found if which == "found" else c.found & (c.n_pads >= 3)).astype(np.float64)


def _worst(
    bins: Mapping[str, Mapping[str, list[float]]], key: str, min_count: int, target: float = 1.0
) -> dict[str, Any]:
    """The bin (of every condition, both samples ≥ ``min_count`` segments) whose ``key`` is farthest from
    ``target``, as a metric row with its place."""
    best: dict[str, Any] = {
        "value": float("nan"),
        "uncertainty": float("nan"),
        "n": 0,
        "bin": "none eligible",
    }
    for name, row in bins.items():
        for i, value in enumerate(row[key]):
            n = int(min(row["ref_n"][i], row["cand_n"][i]))
            if n < min_count or not np.isfinite(value):
                continue
            if not np.isfinite(best["value"]) or abs(value - target) > abs(best["value"] - target):
                lo, hi = row["edges"][i], row["edges"][i + 1]
                best = {
                    "value": value,
                    "uncertainty": row[f"{key}_err"][i],
                    "n": n,
                    "bin": f"{name} [{lo:.3g}, {hi:.3g})",
                }
    return best


def _classifier(x_ref: np.ndarray, x_cand: np.ndarray, seed: int, limit: int, epochs: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    x_ref, x_cand = (x[rng.permutation(len(x))[:limit]] for x in (x_ref, x_cand))
    try:
        return classifier_test(
            x_ref, x_cand, seed=seed, hidden=(256, 256), epochs=epochs, n_threads=1
        ).to_dict()
    except ValueError as err:
        return {"value": float("nan"), "uncertainty": float("nan"), "n": 0, "note": f"not computed: {err}"}


def _cluster_features(p: PreparedTPC) -> np.ndarray:
    c = p.clusters
    found = c.found.astype(np.float64)
    cols = [np.log1p(np.nan_to_num(c.charge)), c.pad_residual, c.time_residual, c.pad_width, c.time_width]
    feats = np.stack([np.where(c.found, x, 0.0) for x in cols] + [found, c.n_pads, c.n_cells], axis=1)
    return np.concatenate([feats, p.cond], axis=1)


def _window_features(p: PreparedTPC) -> np.ndarray:
    return np.concatenate([np.log1p(p.events.adc.reshape(len(p.events), -1) / 30.0), p.cond], axis=1)


@dataclass(frozen=True)
class TPCSuite:
    """Suite of the ``tpc`` kind (module docstring; definitions in docs/metrics.md, "TPC windows").

    Attributes:
        n_bins: equally populated bins of each continuous condition (quantiles of the reference).
        min_bin_count: segments a bin needs in both samples to count for the worst-bin rows and targets.
        classifier_max: segments per sample given to each classifier (a random subset; bounds its cost).
        classifier_epochs: the classifiers' largest number of epochs (early stopping on validation loss).
    """

    n_bins: int = 6
    min_bin_count: int = 500
    classifier_max: int = 20_000
    classifier_epochs: int = 30
    kind = "tpc"
    per_event_label = "|pad centroid − the reference window's| [µm] (both clusters found)"
    notes = (
        "Cluster finder: 4-connected samples above threshold, the largest cluster by charge; found when it "
        "spans ≥ 2 pads and its charge-weighted centroid is within 1 pad and 2 buckets of the true crossing "
        "point; 3-pad efficiency: found with ≥ 3 pads (the three-pad Gaussian method's need). Residuals: "
        "centroid − truth of found clusters, µm (5000 µm per pad, 5500 µm per bucket); widths are standard "
        "deviations (errors σ√((κ−1)/4n), κ the kurtosis: the residuals have tails). Bins: 6 equally "
        "populated bins of crossing angle, dip angle, pad fraction of the position, drift length, and the 2 "
        "row types; 'worst bin' rows are the bin farthest from 1 among bins with ≥ 500 segments in both "
        "samples (bin and all bins in metrics.json). Efficiency ratios from "
        "mlfastsim.metrics.efficiency_ratio (binomial errors). Classifier AUCs: the CaloChallenge-style "
        "calibrated classifier (2 × 256 MLP) on the windows (log ADC) or on the cluster observables, each with the "
        "segment's conditions, at most 20,000 segments per sample; 0.5 = indistinguishable."
    )

    def units(self) -> dict[str, str]:
        return {
            "pad residual mean": "µm",
            "pad residual width": "µm",
            "time residual mean": "µm (along the drift)",
            "time residual width": "µm (along the drift)",
            "W1 cluster charge": "ADC counts",
            "pad residual mean − reference, worst bin": "µm",
            "time residual mean − reference, worst bin": "µm",
        }

    def prepare(self, events: TPCWindows) -> PreparedTPC:
        if not isinstance(events, TPCWindows):
            raise InputError(f"the tpc suite needs TPCWindows, got {type(events).__name__}")
        if np.isnan(events.crossing).all() and len(events):
            raise InputError(
                "a TPC sample has no true crossing points (e.g. a prior sample without conditions); "
                "evaluate windows generated with 'mlfastsim sample --conditions'"
            )
        cond = model_conditions(events.conditions)
        binning = {name: cond[:, col] for name, col in BINNED_BY.items()}
        return PreparedTPC(events, find_clusters(events.adc, events.crossing), binning, cond)

    def prepare_all(self, samples: Mapping[str, TPCWindows]) -> dict[str, PreparedTPC]:
        return {name: self.prepare(ev) for name, ev in samples.items()}

    def distribution_metrics(
        self, reference: PreparedTPC, candidate: PreparedTPC, seed: int
    ) -> dict[str, Any]:
        r, c = reference.clusters, candidate.clusters
        row: dict[str, Any] = {}
        for label, passed in (("cluster-finding efficiency", "found"), ("3-pad efficiency", "three")):
            xr, xc = _passed(r, passed), _passed(c, passed)
            eff = efficiency_ratio(xr, xc, 0.5, np.zeros(len(xr)), np.array([-1.0, 1.0]), np.zeros(len(xc)))
            row[label] = MetricResult(eff["eff_gen"][0], eff["eff_gen_err"][0], len(xc)).to_dict()
            row[f"{label} ratio"] = MetricResult(
                eff["ratio"][0], eff["ratio_err"][0], min(len(xr), len(xc))
            ).to_dict()
        for name, res, scale in (("pad", "pad_residual", PAD_UM), ("time", "time_residual", TIME_UM)):
            xr, xc = getattr(r, res)[r.found] * scale, getattr(c, res)[c.found] * scale
            if len(xr) < 2 or len(xc) < 2:
                continue
            _, _, wr, wr_err = mean_width(xr)
            mc, mc_err, wc, wc_err = mean_width(xc)
            n = min(len(xr), len(xc))
            row[f"{name} residual mean"] = MetricResult(mc, mc_err, len(xc)).to_dict()
            row[f"{name} residual width"] = MetricResult(wc, wc_err, len(xc)).to_dict()
            ratio, err = _ratio(np.array(wc), np.array(wc_err), np.array(wr), np.array(wr_err))
            row[f"{name} residual width ratio"] = MetricResult(float(ratio), float(err), n).to_dict()
        if r.found.sum() > 1 and c.found.sum() > 1:
            row["W1 cluster charge"] = w1(r.charge[r.found], c.charge[c.found], seed=seed).to_dict()
        bins = compare_bins(reference, candidate, self.n_bins)
        m = self.min_bin_count
        for label, key, target in (
            ("efficiency ratio, worst bin", "efficiency_ratio", 1.0),
            ("3-pad efficiency ratio, worst bin", "efficiency_3pad_ratio", 1.0),
            ("pad residual width ratio, worst bin", "pad_width_ratio", 1.0),
            ("time residual width ratio, worst bin", "time_width_ratio", 1.0),
            ("pad residual mean − reference, worst bin", "pad_mean_diff", 0.0),
            ("time residual mean − reference, worst bin", "time_mean_diff", 0.0),
            ("cluster charge mean ratio, worst bin", "charge_ratio", 1.0),
            ("cluster pad width ratio, worst bin", "cluster_pad_width_ratio", 1.0),
            ("cluster time width ratio, worst bin", "cluster_time_width_ratio", 1.0),
        ):
            row[label] = _worst(bins, key, m, target)
        row["fraction of bins meeting the targets"] = {**self.targets(bins), "bins": bins}
        row["classifier AUC (windows + conditions)"] = _classifier(
            _window_features(reference),
            _window_features(candidate),
            seed,
            self.classifier_max,
            self.classifier_epochs,
        )
        row["classifier AUC (clusters + conditions)"] = _classifier(
            _cluster_features(reference),
            _cluster_features(candidate),
            seed,
            self.classifier_max,
            self.classifier_epochs,
        )
        return row

    def targets(self, bins: Mapping[str, Mapping[str, list[float]]]) -> dict[str, Any]:
        """The fraction (``value``; ``met``: "k of n") of the bins with ≥ ``min_bin_count`` segments in both
        samples whose efficiency ratio is within 1 ± 0.03 and both residual width ratios within 1 ± 0.05."""
        ok = total = 0
        for row in bins.values():
            for i in range(len(row["ref_n"])):
                if min(row["ref_n"][i], row["cand_n"][i]) < self.min_bin_count:
                    continue
                total += 1
                eff, pw, tw = (row[k][i] for k in ("efficiency_ratio", "pad_width_ratio", "time_width_ratio"))
                ok += bool(abs(eff - 1) <= 0.03 and abs(pw - 1) <= 0.05 and abs(tw - 1) <= 0.05)
        value = ok / total if total else float("nan")
        return {
            "value": value,
            "uncertainty": float("nan"),
            "n": total,
            "met": f"{ok} of {total}",
            "min_bin_count": self.min_bin_count,
        }

    def paired_metrics(
        self, reference: PreparedTPC, candidate: PreparedTPC, seed: int, n_jobs: int
    ) -> tuple[dict[str, Any], np.ndarray]:
        r, c = reference.clusters, candidate.clusters
        both = r.found & c.found
        dp = np.abs(c.pad - r.pad)[both] * PAD_UM
        dt = np.abs(c.time - r.time)[both] * TIME_UM
        row: dict[str, Any] = {}
        if len(dp) > 1:
            from mlfastsim.metrics.result import bootstrap

            row["median |Δ pad centroid| to its reference window"] = bootstrap(
                np.median, dp, n_boot=100, seed=seed
            ).to_dict()
            row["median |Δ time centroid| to its reference window"] = bootstrap(
                np.median, dt, n_boot=100, seed=seed
            ).to_dict()
        return row, dp

    def plots(
        self,
        out_dir: Path,
        reference: PreparedTPC,
        samples: Mapping[str, PreparedTPC],
        per_event: Mapping[str, np.ndarray],
    ) -> list[Path]:
        from mlfastsim.evaluation.tpc_plots import tpc_plots

        bins = {name: compare_bins(reference, p, self.n_bins) for name, p in samples.items()}
        return tpc_plots(out_dir / "plots", reference, samples, bins, per_event, self.per_event_label)


SUITE = TPCSuite()
