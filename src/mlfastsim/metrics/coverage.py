"""Coverage and MMD (Achlioptas et al. 2018, as in JetNet ``cov_mmd``), from distances or with the EMD."""

from __future__ import annotations

import numpy as np

from mlfastsim.metrics.emd import emd_pairs
from mlfastsim.metrics.result import MetricResult

__all__ = ["coverage_mmd", "coverage_mmd_emd"]


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
    ``[gen, real]`` EMD matrix (:func:`~mlfastsim.metrics.emd_pairs`; events as there: ``[N, n_max, F]``
    features with (η, φ, E) in ``cols`` and ``[N, n_max]`` masks; ground distance θ/``R``, JetNet uses R = 1
    on particle jets). All batches' matrices are computed in one process pool of ``n_jobs`` workers.

    Returns:
        (coverage, mmd) as :class:`MetricResult` (mean over batches, std over batches / √num_batches,
        num_eval_samples); mmd in GeV.
    """
    rng = np.random.default_rng(seed)
    nr, ng = len(real_feat), len(gen_feat)
    k = int(num_eval_samples)
    picks_r = rng.integers(0, nr, (num_batches, k))
    picks_g = rng.integers(0, ng, (num_batches, k))
    ig = np.repeat(picks_g, k, axis=1).ravel()  # [batch, gen, real] flattened
    ir = np.tile(picks_r, (1, k)).ravel()
    d = emd_pairs(gen_feat, gen_mask, real_feat, real_mask, ig, ir, R=R, n_jobs=n_jobs, cols=cols)
    d = d.reshape(num_batches, k, k)
    covs, mmds = zip(*(coverage_mmd(d[b]) for b in range(num_batches)), strict=True)
    scale = np.sqrt(num_batches)
    return (
        MetricResult(np.mean(covs), np.std(covs, ddof=1) / scale if num_batches > 1 else np.nan, k),
        MetricResult(np.mean(mmds), np.std(mmds, ddof=1) / scale if num_batches > 1 else np.nan, k),
    )
