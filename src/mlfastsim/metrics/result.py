"""A metric value with its uncertainty and sample size, and the resampling helpers that give it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["MetricResult", "batch_means", "bootstrap"]


@dataclass(frozen=True)
class MetricResult:
    """One metric number as reported: value, its uncertainty (one standard deviation) and the sample size.

    Attributes:
        value: the metric (units of the metric).
        uncertainty: one-sigma uncertainty on ``value`` (same units); how it was obtained (bootstrap, batch
            means, fit error, ...) is stated by the function that made it.
        n: the number of samples (events, jets, tracks) the value was computed from; for two-sample metrics
            the smaller of the two sample sizes unless the function says otherwise.
    """

    value: float
    uncertainty: float
    n: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "uncertainty", float(self.uncertainty))
        object.__setattr__(self, "n", int(self.n))

    def to_dict(self) -> dict[str, float | int]:
        """``{"value": float, "uncertainty": float, "n": int}``, ready for JSON."""
        return {"value": self.value, "uncertainty": self.uncertainty, "n": self.n}

    def __str__(self) -> str:
        return f"{self.value:.6g} ± {self.uncertainty:.2g} (n={self.n})"


def bootstrap(
    fn: Callable[..., float],
    *arrays: np.ndarray,
    n_boot: int = 50,
    seed: int | np.random.Generator | None = 0,
    paired: bool = True,
) -> MetricResult:
    """Value of ``fn(*arrays)`` with the bootstrap standard deviation as its uncertainty.

    Args:
        fn: statistic taking the arrays (resampled along axis 0) and returning a float.
        *arrays: inputs of ``fn``; each is resampled along its first axis.
        n_boot: number of bootstrap replicas (0 gives uncertainty NaN).
        seed: int, Generator or None for the resampling.
        paired: True resamples all arrays with the same indices (they must share their length: per-event
            arrays that belong together, e.g. features and masks); False resamples each array on its own
            (two independent samples, e.g. reference and generated).

    Returns:
        :class:`MetricResult` with ``value = fn(*arrays)``, ``uncertainty`` the standard deviation (ddof=1) of
        ``fn`` over the replicas and ``n`` the length of the shortest array.
    """
    if not arrays:
        raise ValueError("bootstrap needs at least one array")
    arrays = tuple(np.asarray(a) for a in arrays)
    lengths = [len(a) for a in arrays]
    if paired and len(set(lengths)) != 1:
        raise ValueError(f"paired bootstrap needs arrays of one length, got {lengths}")
    value = float(fn(*arrays))
    rng = np.random.default_rng(seed)  # a Generator passes through unchanged
    replicas = []
    for _ in range(int(n_boot)):
        if paired:
            idx = rng.integers(0, lengths[0], size=lengths[0])
            resampled = [a[idx] for a in arrays]
        else:
            resampled = [a[rng.integers(0, len(a), size=len(a))] for a in arrays]
        replicas.append(float(fn(*resampled)))
    unc = float(np.std(replicas, ddof=1)) if len(replicas) > 1 else float("nan")
    return MetricResult(value, unc, min(lengths))


def batch_means(values: np.ndarray, n_batches: int = 10) -> MetricResult:
    """Mean of per-sample ``values`` with the batch-means standard error as uncertainty.

    The samples are split, in order, into ``n_batches`` contiguous batches of near-equal size; the
    uncertainty is std(batch means, ddof=1) / sqrt(n_batches), which stays honest when neighbouring values
    are correlated. NaN values are dropped first.

    Args:
        values: ``[N]`` per-sample values.
        n_batches: number of batches (at least 2; reduced to N when N is smaller).

    Returns:
        :class:`MetricResult` (mean, standard error, N).
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[~np.isnan(values)]
    n = len(values)
    if n == 0:
        return MetricResult(float("nan"), float("nan"), 0)
    k = min(max(int(n_batches), 2), n)
    if k < 2:
        return MetricResult(float(values.mean()), float("nan"), n)
    means = np.array([b.mean() for b in np.array_split(values, k)])
    return MetricResult(float(values.mean()), float(means.std(ddof=1) / np.sqrt(k)), n)
