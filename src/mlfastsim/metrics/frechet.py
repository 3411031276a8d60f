"""Fréchet and kernel physics distances (FPD, KPD) between feature samples, computed as JetNet does."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.stats import iqr

from mlfastsim.metrics.result import MetricResult

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["fpd", "frechet_distance", "frechet_distance_torch", "kpd"]


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
    """Fréchet distance ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^{1/2}) between two Gaussians (float64, by
    :func:`frechet_distance_torch`)."""
    import torch

    mus = (torch.as_tensor(np.atleast_1d(m), dtype=torch.float64) for m in (mu1, mu2))
    sigmas = (torch.as_tensor(np.atleast_2d(s), dtype=torch.float64) for s in (sigma1, sigma2))
    (m1, m2), (s1, s2) = mus, sigmas
    return float(frechet_distance_torch(m1, s1, m2, s2))


def frechet_distance_torch(
    mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor, eps: float = 0.0
) -> Tensor:
    """:func:`frechet_distance` in torch, differentiable in ``mu2`` and ``sigma2`` (loss terms use it).

    Tr (Σ₁Σ₂)^{1/2} is computed as Σ √λ over the eigenvalues λ of the symmetric PSD matrix
    Σ₁^{1/2} Σ₂ Σ₁^{1/2} (same spectrum), which stays real and finite for singular covariances (e.g. a
    constant feature); only eigenvalues enter, whose gradient stays finite where they are degenerate.
    ``eps`` > 0 floors λ before the √ (bounded gradients for a loss; 0 for the metric).
    ``mu [F]``, ``sigma [F, F]``; a scalar.
    """
    import torch

    w, v = torch.linalg.eigh((sigma1 + sigma1.T) / 2)
    root1 = (v * w.clamp_min(0.0).sqrt()) @ v.T
    inner = root1 @ sigma2 @ root1
    lam = torch.linalg.eigvalsh((inner + inner.T) / 2)
    tr_covmean = lam.clamp_min(eps).sqrt().sum()
    diff = mu1 - mu2
    return diff @ diff + sigma1.trace() + sigma2.trace() - 2.0 * tr_covmean


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
