"""Distribution metrics: FPD, KPD (as in JetNet), coverage/MMD, separation power, efficiency ratios, AUC."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.stats import iqr

from mlfastsim.metrics.result import MetricResult, bootstrap

__all__ = [
    "coverage_mmd",
    "coverage_mmd_emd",
    "efficiency_ratio",
    "fpd",
    "frechet_distance",
    "kpd",
    "roc_auc",
    "separation_power",
]


def _features(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must be [N, F], got shape {list(x.shape)}")
    return x


def _normalise(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Divide every feature by its largest |value| in the reference sample (JetNet's normalisation)."""
    maxes = np.abs(x).max(axis=0)
    maxes[maxes == 0] = 1.0
    return x / maxes, y / maxes


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^{1/2}) between two Gaussians.

    Tr (Σ₁Σ₂)^{1/2} is computed as Σ √λ over the eigenvalues λ of the symmetric PSD matrix
    Σ₁^{1/2} Σ₂ Σ₁^{1/2} (same spectrum), which stays real and finite for singular covariances (e.g. a
    constant feature).
    """
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    w, v = np.linalg.eigh((sigma1 + sigma1.T) / 2)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    inner = root1 @ sigma2 @ root1
    lam = np.linalg.eigvalsh((inner + inner.T) / 2)
    tr_covmean = np.sqrt(np.clip(lam, 0.0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def _linear(x: np.ndarray, intercept: float, slope: float) -> np.ndarray:
    return intercept + slope * x


def _two_samples(x: np.ndarray, y: np.ndarray, normalise: bool) -> tuple[np.ndarray, np.ndarray]:
    """Both samples as float64 ``[N, F]`` with the same F, optionally normalised together."""
    x, y = _features(x, "x"), _features(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y need the same features, got {x.shape[1]} and {y.shape[1]}")
    return _normalise(x, y) if normalise else (x, y)


def fpd(
    x: np.ndarray,
    y: np.ndarray,
    min_samples: int | None = None,
    max_samples: int | None = None,
    num_batches: int = 20,
    num_points: int = 10,
    normalise: bool = True,
    seed: int | np.random.Generator | None = 42,
) -> MetricResult:
    """Fréchet physics distance, extrapolated to infinite sample size (JetNet ``fpd``).

    At ``num_points`` batch sizes N evenly spaced in 1/N between ``min_samples`` and ``max_samples``, the
    Fréchet distance between Gaussians fitted to batches drawn with replacement from x and from y is averaged
    over ``num_batches`` batches; a line in 1/N (intercept and slope ≥ 0) is fitted and its intercept is FPD.

    Args:
        x: ``[N_x, F]`` reference features (e.g. the 36 EFPs of :func:`~mlfastsim.metrics.efps`).
        y: ``[N_y, F]`` generated features.
        min_samples, max_samples: batch-size range; JetNet's defaults are 20 000 and 50 000, used here when
            the samples are that large; otherwise ``max_samples = min(N_x, N_y)`` and ``min_samples = 0.4 ×
            max_samples`` (JetNet's ratio).
        num_batches: batches per batch size (JetNet: 20).
        num_points: batch sizes (JetNet: 10).
        normalise: divide every feature by its largest |value| in x, as JetNet does.
        seed: int, Generator or None.

    Returns:
        :class:`MetricResult` (FPD in squared normalised-feature units, the fit's 1σ error on the intercept,
        min(N_x, N_y)).
    """
    x, y = _two_samples(x, y, normalise)
    n = min(len(x), len(y))
    if max_samples is None:
        max_samples = min(50_000, n)
    if min_samples is None:
        min_samples = 20_000 if max_samples >= 50_000 else max(2, int(0.4 * max_samples))
    if not 2 <= min_samples <= max_samples:
        raise ValueError(f"need 2 <= min_samples <= max_samples, got {min_samples} and {max_samples}")
    sizes = (1.0 / np.linspace(1.0 / min_samples, 1.0 / max_samples, num_points)).astype(np.int64)
    rng = np.random.default_rng(seed)
    vals = []
    for size in sizes:
        batch = []
        for _ in range(num_batches):
            xs = x[rng.integers(0, len(x), size)]
            ys = y[rng.integers(0, len(y), size)]
            batch.append(
                frechet_distance(xs.mean(0), np.cov(xs, rowvar=False), ys.mean(0), np.cov(ys, rowvar=False))
            )
        vals.append(np.mean(batch))
    if len(np.unique(sizes)) < 2:
        return MetricResult(float(np.mean(vals)), float(np.std(vals)), n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        params, covs = curve_fit(_linear, 1.0 / sizes, vals, bounds=([0, 0], [np.inf, np.inf]))
    return MetricResult(float(params[0]), float(np.sqrt(np.diag(covs)[0])), n)


def _int_power_(x: np.ndarray, degree: int) -> np.ndarray:
    """x ** degree in place (x is overwritten) for an integer degree ≥ 1, by repeated squaring."""
    if degree == 1:
        return x
    if degree % 2 == 0:
        x *= x
        return _int_power_(x, degree // 2)
    return x * _int_power_(x.copy(), degree - 1)


def _mmd_poly_unbiased(x: np.ndarray, y: np.ndarray, degree: int, block: int = 512) -> float:
    """Unbiased MMD² with k(a, b) = (a·b / F + 1)^degree, summing the kernel matrices block by block."""
    gamma = 1.0 / x.shape[1]

    def ksum(a: np.ndarray, b: np.ndarray, drop_diag: bool) -> float:
        total = 0.0
        for s in range(0, len(a), block):
            base = a[s : s + block] @ b.T
            base *= gamma
            base += 1.0
            k = _int_power_(base, degree) if degree > 0 else np.ones_like(base)
            total += k.sum()
            if drop_diag:
                total -= np.trace(k[:, s : s + block])
        return total

    m, n = len(x), len(y)
    xx, yy, xy = ksum(x, x, True), ksum(y, y, True), ksum(x, y, False)
    return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2.0 * xy / (m * n)


def kpd(
    x: np.ndarray,
    y: np.ndarray,
    num_batches: int = 10,
    batch_size: int = 5_000,
    degree: int = 4,
    normalise: bool = True,
    seed: int = 42,
) -> MetricResult:
    """Kernel physics distance: unbiased MMD² with a polynomial kernel (JetNet ``kpd``).

    k(a, b) = (a·b / F + 1)^degree with F features; JetNet uses degree 4 (the KID of image generation uses 3).
    Batch i draws ``batch_size`` samples with replacement from x and from y with the generator
    ``default_rng(seed + 1000 i)``, as JetNet does.

    Args:
        x: ``[N_x, F]`` reference features; y: ``[N_y, F]`` generated features.
        num_batches: number of batches (JetNet: 10).
        batch_size: samples per batch (JetNet: 5 000; capped at min(N_x, N_y)).
        degree: polynomial degree of the kernel.
        normalise: divide every feature by its largest |value| in x.
        seed: base seed.

    Returns:
        :class:`MetricResult` (median MMD² over batches, half the 16.275–83.725 % inter-quantile range as in
        JetNet, min(N_x, N_y)).
    """
    x, y = _two_samples(x, y, normalise)
    n = min(len(x), len(y))
    size = min(int(batch_size), n)
    if size < 2:
        raise ValueError("kpd needs at least 2 samples in each set")
    vals = []
    for i in range(num_batches):
        rng = np.random.default_rng(int(seed) + i * 1000)
        xs = x[rng.choice(len(x), size=size)]
        ys = y[rng.choice(len(y), size=size)]
        vals.append(_mmd_poly_unbiased(xs, ys, int(degree)))
    return MetricResult(float(np.median(vals)), float(iqr(vals, rng=(16.275, 83.725)) / 2), n)


def coverage_mmd(distances: np.ndarray) -> tuple[float, float]:
    """Coverage and MMD (Achlioptas et al. 2018, as in JetNet ``cov_mmd``) from a distance matrix.

    Args:
        distances: ``[N_gen, N_real]`` distances (e.g. EMDs in GeV) between generated and real samples.

    Returns:
        (coverage, mmd): coverage = fraction of real samples that are the nearest real neighbour of at least
        one generated sample (1 is best); mmd = mean over real samples of the distance to the nearest
        generated sample (units of ``distances``; 0 is best).
    """
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 2 or d.size == 0:
        raise ValueError(f"distances must be a non-empty [N_gen, N_real] matrix, got {list(d.shape)}")
    coverage = np.unique(np.argmin(d, axis=1)).size / d.shape[1]
    mmd = float(np.mean(np.min(d, axis=0)))
    return float(coverage), mmd


def coverage_mmd_emd(
    real_feat: np.ndarray,
    real_mask: np.ndarray | None,
    gen_feat: np.ndarray,
    gen_mask: np.ndarray | None,
    num_eval_samples: int = 100,
    num_batches: int = 10,
    R: float = 0.4,
    n_jobs: int | None = 2,
    seed: int | np.random.Generator | None = 0,
    cols: tuple[int, int, int] = (0, 1, 2),
) -> tuple[MetricResult, MetricResult]:
    """Coverage and MMD with the EMD as distance, averaged over random batches (JetNet ``cov_mmd``).

    Each batch draws ``num_eval_samples`` real and generated events with replacement and computes the
    ``[gen, real]`` EMD matrix (:func:`~mlfastsim.metrics.emd_matrix`; events as there: ``[N, n_max, F]``
    features with (η, φ, E) in ``cols`` and ``[N, n_max]`` masks). All batches' matrices are computed in one
    process pool.

    Returns:
        (coverage, mmd) as :class:`MetricResult` (mean over batches, std over batches / √num_batches,
        num_eval_samples); mmd in GeV.
    """
    from mlfastsim.metrics.emd import _emd_pairs, _ragged

    rng = np.random.default_rng(seed)
    data_r, data_g = _ragged(real_feat, real_mask, cols), _ragged(gen_feat, gen_mask, cols)
    nr, ng = len(data_r[2]) - 1, len(data_g[2]) - 1
    k = int(num_eval_samples)
    picks_r = rng.integers(0, nr, (num_batches, k))
    picks_g = rng.integers(0, ng, (num_batches, k))
    ig = np.repeat(picks_g, k, axis=1).ravel()  # [batch, gen, real] flattened
    ir = np.tile(picks_r, (1, k)).ravel()
    d = _emd_pairs(data_g, data_r, ig, ir, R, n_jobs).reshape(num_batches, k, k)
    covs, mmds = zip(*(coverage_mmd(d[b]) for b in range(num_batches)), strict=True)
    scale = np.sqrt(num_batches)
    return (
        MetricResult(np.mean(covs), np.std(covs, ddof=1) / scale if num_batches > 1 else np.nan, k),
        MetricResult(np.mean(mmds), np.std(mmds, ddof=1) / scale if num_batches > 1 else np.nan, k),
    )


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


def roc_auc(scores_bkg: np.ndarray, scores_sig: np.ndarray) -> MetricResult:
    """Area under the ROC curve for separating signal (label 1) from background (label 0) by score.

    Args:
        scores_bkg: ``[N_b]`` scores of the background (e.g. reference) sample.
        scores_sig: ``[N_s]`` scores of the signal (e.g. generated) sample.

    Returns:
        :class:`MetricResult` (AUC from sklearn, Hanley & McNeil 1982 standard error, N_b + N_s).
    """
    from sklearn.metrics import roc_auc_score

    b = np.asarray(scores_bkg, dtype=np.float64).ravel()
    s = np.asarray(scores_sig, dtype=np.float64).ravel()
    if len(b) == 0 or len(s) == 0:
        raise ValueError("roc_auc needs both samples non-empty")
    labels = np.concatenate([np.zeros(len(b)), np.ones(len(s))])
    auc = float(roc_auc_score(labels, np.concatenate([b, s])))
    q1, q2 = auc / (2.0 - auc), 2.0 * auc**2 / (1.0 + auc)
    var = (auc * (1 - auc) + (len(s) - 1) * (q1 - auc**2) + (len(b) - 1) * (q2 - auc**2)) / (len(s) * len(b))
    return MetricResult(auc, float(np.sqrt(max(var, 0.0))), len(b) + len(s))
