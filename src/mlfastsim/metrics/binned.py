"""Metrics on histograms and bins: separation power (CaloChallenge) and efficiency ratios (seed 004)."""

from __future__ import annotations

import numpy as np

from mlfastsim.metrics.result import MetricResult, bootstrap

__all__ = ["efficiency_ratio", "separation_power", "weighted_quantile"]


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
    weights: np.ndarray | None = None,
    weights_gen: np.ndarray | None = None,
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
        weights: ``[N]`` per-track weights of the reference (e.g. sWeights, which may be negative; None: 1).
        weights_gen: ``[M]`` weights of the generated tracks (None: 1).

    With weights, ε = Σ_pass w / Σ w per bin and its variance is the linearised
    [(1 − ε)² Σ_pass w² + ε² Σ_fail w²] / (Σ w)², which is the binomial ε(1 − ε)/n for unit weights and behaves
    as a binomial of the effective count n_eff = (Σ w)² / Σ w² otherwise.

    Returns:
        dict of float64 ``[B]`` arrays: ``eff_ref``, ``eff_gen`` with (weighted) binomial errors
        ``eff_ref_err``, ``eff_gen_err``; ``ratio`` = eff_gen / eff_ref and ``ratio_err`` (independent errors
        propagated); ``n_ref``, ``n_gen`` tracks per bin and ``n_eff_ref``, ``n_eff_gen`` their effective
        counts. Empty bins (Σ w ≤ 0) and ε_ref = 0 give NaN.
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
    w_ref = _weights(weights, len(x_ref), "weights")
    w_gen = _weights(weights_gen, len(x_gen), "weights_gen")

    def eff(x: np.ndarray, b: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, ...]:
        passed = x > cut
        total, _ = np.histogram(b, bins=edges, weights=w)
        total_w2, _ = np.histogram(b, bins=edges, weights=w * w)
        pass_w, _ = np.histogram(b[passed], bins=edges, weights=w[passed])
        pass_w2, _ = np.histogram(b[passed], bins=edges, weights=(w * w)[passed])
        count, _ = np.histogram(b, bins=edges)
        with np.errstate(invalid="ignore", divide="ignore"):
            e = np.where(total > 0, pass_w / total, np.nan)
            var = ((1.0 - e) ** 2 * pass_w2 + e**2 * (total_w2 - pass_w2)) / total**2
            n_eff = np.where(total_w2 > 0, total**2 / total_w2, 0.0)
        return e, np.sqrt(np.clip(var, 0.0, None)), count.astype(np.float64), n_eff

    e_ref, s_ref, n_ref, neff_ref = eff(x_ref, b_ref, w_ref)
    e_gen, s_gen, n_gen, neff_gen = eff(x_gen, b_gen, w_gen)
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
        "n_eff_ref": neff_ref,
        "n_eff_gen": neff_gen,
    }


def _weights(w: np.ndarray | None, n: int, name: str) -> np.ndarray:
    if w is None:
        return np.ones(n)
    w = np.asarray(w, dtype=np.float64).ravel()
    if len(w) != n:
        raise ValueError(f"{name} must have one weight per track: {len(w)} for {n}")
    return w


def weighted_quantile(x: np.ndarray, q: float | np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The ``q`` quantile(s) of ``x`` with per-value ``weights`` (None: ``np.quantile``, linear interpolation).

    Weighted: the smallest value whose cumulative weight (values sorted) reaches q · Σ w — the inverse of the
    weighted CDF. Signed weights (sWeights) are allowed; the cumulative weight need not be monotone then and
    the first crossing is taken. ``x``, ``weights``: ``[N]``; returns float64 of the shape of ``q``.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    qs = np.asarray(q, dtype=np.float64)
    if weights is None:
        return np.asarray(np.quantile(x, qs))
    w = np.asarray(weights, dtype=np.float64).ravel()
    if len(w) != len(x) or len(x) == 0 or w.sum() <= 0:
        raise ValueError("weighted_quantile: one weight per value, a positive total weight")
    order = np.argsort(x, kind="stable")
    xs, cum = x[order], np.cumsum(w[order])
    # first crossing: running maximum of the cumulative weight, then a sorted search
    index = np.searchsorted(np.maximum.accumulate(cum), qs.ravel() * cum[-1], side="left")
    return xs[np.clip(index, 0, len(xs) - 1)].reshape(qs.shape)
