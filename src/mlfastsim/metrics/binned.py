"""Metrics on histograms and bins: separation power (CaloChallenge) and efficiency ratios (seed 004)."""

from __future__ import annotations

import numpy as np

from mlfastsim.metrics.result import MetricResult, bootstrap

__all__ = ["efficiency_ratio", "separation_power"]


def _hist_prob(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    h, _ = np.histogram(x, bins=edges)
    total = h.sum()
    return h / total if total > 0 else h.astype(np.float64)


def separation_power(
    x: np.ndarray,
    y: np.ndarray,
    bins: int | np.ndarray = 50,
    n_boot: int = 20,
    seed: int | np.random.Generator | None = 0,
) -> MetricResult:
    """Separation power ½ Σ_b (h₁ − h₂)² / (h₁ + h₂) of two histograms normalised to unit sum.

    0 for identical histograms, 1 for histograms with no bin in common (CaloChallenge convention).

    Args:
        x: ``[N]`` reference values; y: ``[M]`` generated values (NaNs dropped).
        bins: number of equal bins over the range of x and y together, or explicit edges ``[B + 1]``. Values
            outside explicit edges are not counted.
        n_boot: bootstrap replicas (each sample on its own, bin edges fixed) for the uncertainty.
        seed: int, Generator or None.

    Returns:
        :class:`MetricResult` (separation power, dimensionless; bootstrap std; min(N, M)).
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if len(x) == 0 or len(y) == 0:
        return MetricResult(float("nan"), float("nan"), 0)
    if np.ndim(bins) == 0:
        lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
        if hi <= lo:
            hi = lo + 1.0
        edges = np.linspace(lo, hi, int(bins) + 1)
    else:
        edges = np.asarray(bins, dtype=np.float64)

    def stat(a: np.ndarray, b: np.ndarray) -> float:
        h1, h2 = _hist_prob(a, edges), _hist_prob(b, edges)
        s = h1 + h2
        nz = s > 0
        return float(0.5 * np.sum((h1[nz] - h2[nz]) ** 2 / s[nz]))

    return bootstrap(stat, x, y, n_boot=n_boot, seed=seed, paired=False)


def efficiency_ratio(
    x_ref: np.ndarray,
    x_gen: np.ndarray,
    cut: float,
    bins_of: np.ndarray,
    bin_edges: np.ndarray,
    bins_of_gen: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Efficiency of the cut x > ``cut`` in bins of another variable, and the ratio generated / reference.

    Seed 004: ε = (number of tracks above the threshold) / (number of tracks), as a function of an input
    (P, η, nTracks, ...); efficiency ratio = ε_generated / ε_reference. For the cut at the x % quantile of the
    reference distribution pass ``cut = np.quantile(x_ref, x / 100)``.

    Args:
        x_ref: ``[N]`` reference values of the cut variable (e.g. a DLL).
        x_gen: ``[M]`` generated values.
        cut: threshold; a track passes when its value is > cut.
        bins_of: ``[N]`` values of the binning variable for the reference tracks (and for the generated ones
            when ``bins_of_gen`` is None — the usual case of a conditional generator run on the same inputs).
        bin_edges: ``[B + 1]`` edges of the binning variable.
        bins_of_gen: ``[M]`` binning-variable values for the generated tracks, if they differ.

    Returns:
        dict of float64 ``[B]`` arrays: ``eff_ref``, ``eff_gen`` with binomial errors ``eff_ref_err``,
        ``eff_gen_err``; ``ratio`` = eff_gen / eff_ref and ``ratio_err`` (independent errors propagated);
        ``n_ref``, ``n_gen`` tracks per bin. Empty bins and ε_ref = 0 give NaN.
    """
    x_ref = np.asarray(x_ref, dtype=np.float64).ravel()
    x_gen = np.asarray(x_gen, dtype=np.float64).ravel()
    b_ref = np.asarray(bins_of, dtype=np.float64).ravel()
    b_gen = b_ref if bins_of_gen is None else np.asarray(bins_of_gen, dtype=np.float64).ravel()
    if len(b_ref) != len(x_ref) or len(b_gen) != len(x_gen):
        raise ValueError(
            f"binning values must match the samples: {len(b_ref)} vs {len(x_ref)} reference, "
            f"{len(b_gen)} vs {len(x_gen)} generated (pass bins_of_gen when the generated inputs differ)"
        )
    edges = np.asarray(bin_edges, dtype=np.float64)

    def eff(x: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        total, _ = np.histogram(b, bins=edges)
        passed, _ = np.histogram(b[x > cut], bins=edges)
        with np.errstate(invalid="ignore", divide="ignore"):
            e = passed / total
            err = np.sqrt(e * (1.0 - e) / total)
        return e, err, total.astype(np.float64)

    e_ref, s_ref, n_ref = eff(x_ref, b_ref)
    e_gen, s_gen, n_gen = eff(x_gen, b_gen)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(e_ref > 0, e_gen / e_ref, np.nan)
        ratio_err = np.abs(ratio) * np.sqrt((s_gen / e_gen) ** 2 + (s_ref / e_ref) ** 2)
        ratio_err = np.where(e_gen > 0, ratio_err, np.where(e_ref > 0, s_gen / e_ref, np.nan))
    return {
        "eff_ref": e_ref,
        "eff_ref_err": s_ref,
        "eff_gen": e_gen,
        "eff_gen_err": s_gen,
        "ratio": ratio,
        "ratio_err": ratio_err,
        "n_ref": n_ref,
        "n_gen": n_gen,
    }
