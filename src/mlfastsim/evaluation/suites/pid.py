"""The evaluation suite of RICH PID tables (seed 004): efficiency ratios of DLL cuts in bins of P, η and nTracks
per species (:mod:`mlfastsim.evaluation.pid_efficiency`), W1 of each DLL, a classifier two-sample test on
(DLLs, inputs) and, for paired candidates (the same tracks), the per-track DLL distance beside the
resimulation floor. Every metric honours the per-track weights (sWeights may be negative)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from mlfastsim._utils import InputError
from mlfastsim.data.kinds.pid.container import DLL_NAMES, SPECIES, PIDTable
from mlfastsim.evaluation.pid_efficiency import EfficiencyBin, efficiency_bins, summarise_bins
from mlfastsim.evaluation.pid_plots import plot_dll_distributions, plot_efficiency_ratios
from mlfastsim.evaluation.plots import plot_per_event
from mlfastsim.evaluation.table import FLOOR, RESIM
from mlfastsim.metrics import MetricResult, classifier_test, w1
from mlfastsim.metrics.binned import weighted_quantile

__all__ = ["SUITE", "PIDSuite", "PreparedPID", "classifier_inputs"]


@dataclass
class PreparedPID:
    """A PID table and, once computed against a reference, its efficiency bins (reused by the plots)."""

    table: PIDTable
    bins: list[EfficiencyBin] | None = None
    bins_against: int | None = None  # id() of the reference table the bins were computed against


def classifier_inputs(t: PIDTable) -> np.ndarray:
    """``[N, 13]`` per track: asinh of the 5 DLLs (monotone, keeps ties, tames the tails), log P, η, nTracks
    and the species one-hot — the classifier judges the DLLs given the inputs."""
    onehot = np.eye(len(SPECIES))[t.species.astype(np.int64)]
    return np.column_stack(
        [np.arcsinh(t.dll.astype(np.float64)), np.log(t.p), t.eta, t.n_tracks, onehot]
    ).astype(np.float64)


def _check(name: str, t: Any) -> PIDTable:
    if not isinstance(t, PIDTable):
        raise InputError(f"{name}: the pid suite needs PID tables, got {type(t).__name__}")
    if not t.has_dll:
        raise InputError(f"{name}: the tracks have no (finite) DLLs to judge; sample or simulate them first")
    if t.species.min() < 0 or not np.isfinite(t.p).all():
        raise InputError(f"{name}: tracks without inputs (species/P unknown); generate with --conditions")
    return t


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    return float(weighted_quantile(values, 0.5, weights))


@dataclass(frozen=True)
class PIDSuite:
    """Suite of the ``pid`` kind (module docstring; definitions in docs/metrics.md, "PID").

    Attributes:
        quantiles: DLL cut quantiles of the reference, per species. n_bins: bins per variable (equal weight).
        min_tracks: bins judged need this many effective reference tracks. tolerance: |ratio − 1| target.
        classifier_tracks: tracks per sample given to the classifier (a random subset; all when fewer).
        classifier_hidden, classifier_epochs: its widths and most epochs.
    """

    quantiles: tuple[float, ...] = (0.25, 0.5, 0.75)
    n_bins: int = 5
    min_tracks: float = 500.0
    tolerance: float = 0.05
    classifier_tracks: int = 30_000
    classifier_hidden: tuple[int, ...] = (256, 256)
    classifier_epochs: int = 30
    kind = "pid"
    per_event_label = "per-track DLL distance to its reference track, |ΔDLL| (5 DLLs)"
    notes = (
        "Efficiency ratio (seed 004): ε = weighted fraction of a species' tracks with DLL > the weighted q "
        "quantile of that species' reference DLL, in bins of equal reference weight of P, η and nTracks; "
        "ratio = ε_candidate / ε_reference with the weighted binomial errors (effective counts); rows judge "
        "the bins whose reference holds ≥ min_tracks effective tracks, every bin is in metrics.json. W1 per "
        "DLL over all tracks, weighted (per species in metrics.json). Classifier AUC: raw calibrated test AUC "
        "of an MLP on asinh(DLLs), log P, η, nTracks, species, weighted; 0.5 = indistinguishable."
    )

    def units(self) -> dict[str, str]:
        return {f"W1 {d}": "DLL (ln L ratio)" for d in DLL_NAMES} | {
            "median per-track |ΔDLL|": "DLL (ln L ratio)"
        }

    def prepare_all(self, samples: Mapping[str, Any]) -> dict[str, PreparedPID]:
        return {name: PreparedPID(_check(name, t)) for name, t in samples.items()}

    def distribution_metrics(
        self, reference: PreparedPID, candidate: PreparedPID, seed: int
    ) -> dict[str, Any]:
        with threadpool_limits(limits=1, user_api="blas"):
            row = self.efficiency(reference.table, candidate.table, self._bins(reference, candidate))
            return {**row, **self._distribution_metrics(reference.table, candidate.table, seed)}

    def _bins(self, reference: PreparedPID, candidate: PreparedPID) -> list[EfficiencyBin]:
        """The candidate's efficiency bins against ``reference``, computed once."""
        if candidate.bins is None or candidate.bins_against != id(reference.table):
            candidate.bins = efficiency_bins(reference.table, candidate.table, self.quantiles, self.n_bins)
            candidate.bins_against = id(reference.table)
        return candidate.bins

    def efficiency(
        self, reference: PIDTable, candidate: PIDTable, bins: list[EfficiencyBin] | None = None
    ) -> dict[str, Any]:
        """The efficiency-ratio rows (:func:`~mlfastsim.evaluation.pid_efficiency.summarise_bins`)."""
        if bins is None:
            bins = efficiency_bins(reference, candidate, self.quantiles, self.n_bins)
        return summarise_bins(bins, self.min_tracks, self.tolerance)

    def _distribution_metrics(self, ref: PIDTable, cand: PIDTable, seed: int) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for j, name in enumerate(DLL_NAMES):
            entry = w1(ref.dll[:, j], cand.dll[:, j], seed=seed, x_weights=ref.weight, y_weights=cand.weight)
            per_species = {}
            for k, s in enumerate(SPECIES):
                r, c = ref.species == k, cand.species == k
                if r.sum() >= 2 and c.sum() >= 2:
                    per_species[s] = w1(
                        ref.dll[r, j], cand.dll[c, j], n_boot=0, x_weights=ref.weight[r],
                        y_weights=cand.weight[c],
                    ).value  # fmt: skip
            row[f"W1 {name}"] = {**entry.to_dict(), "per_species": per_species}
        row["classifier AUC (DLLs | inputs)"] = self._classifier(ref, cand, seed)
        return row

    def _classifier(self, ref: PIDTable, cand: PIDTable, seed: int) -> dict[str, Any]:
        rng = np.random.default_rng(seed)
        picks = [
            np.sort(rng.choice(len(t), self.classifier_tracks, replace=False))
            if len(t) > self.classifier_tracks
            else np.arange(len(t))
            for t in (ref, cand)
        ]
        r, c = ref.subset(picks[0]), cand.subset(picks[1])
        weighted = not (np.all(r.weight == 1) and np.all(c.weight == 1))
        try:
            res = classifier_test(
                classifier_inputs(r), classifier_inputs(c), seed=seed, hidden=self.classifier_hidden,
                epochs=self.classifier_epochs, n_threads=1,
                weights_ref=r.weight if weighted else None, weights_gen=c.weight if weighted else None,
            )  # fmt: skip
        except ValueError as err:
            return {
                "value": float("nan"),
                "uncertainty": float("nan"),
                "n": 0,
                "note": f"not computed: {err}",
            }
        return {**res.to_dict(), "weighted": weighted}

    def paired_metrics(
        self, reference: PreparedPID, candidate: PreparedPID, seed: int, n_jobs: int
    ) -> tuple[dict[str, Any], np.ndarray]:
        ref, cand = reference.table, candidate.table
        dist = np.sqrt(((cand.dll.astype(np.float64) - ref.dll.astype(np.float64)) ** 2).sum(1))
        rng = np.random.default_rng(seed)
        w = ref.weight.astype(np.float64)
        boots = []
        for _ in range(50):
            idx = rng.integers(0, len(dist), len(dist))
            if w[idx].sum() > 0:
                boots.append(_weighted_median(dist[idx], w[idx]))
        med = MetricResult(_weighted_median(dist, w), float(np.std(boots, ddof=1)), len(dist))
        return {"median per-track |ΔDLL|": med.to_dict()}, dist

    def plots(
        self,
        out_dir: Path,
        reference: PreparedPID,
        samples: Mapping[str, PreparedPID],
        per_event: Mapping[str, np.ndarray],
    ) -> list[Path]:
        plots_dir = out_dir / "plots"
        ref = reference.table
        tables = {n: p.table for n, p in samples.items()}
        written = [plot_dll_distributions(ref, tables, plots_dir / "dll_distributions.png", FLOOR)]
        floor = self._bins(reference, samples[FLOOR]) if FLOOR in samples else None
        for name in tables:
            if name == FLOOR:
                continue
            bins = self._bins(reference, samples[name])
            slug = "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")
            written += plot_efficiency_ratios(
                bins, floor, plots_dir / f"efficiency_ratio_{slug}", name, self.min_tracks, self.tolerance
            )
        if per_event:
            written.append(
                plot_per_event(
                    per_event, plots_dir / "dll_distance_per_track.png", self.per_event_label, RESIM
                )
            )
        return written


SUITE = PIDSuite()
