"""Per-event and one-dimensional distances: masked Chamfer, masked per-feature MSE, 1-Wasserstein."""

from __future__ import annotations

import numpy as np
from scipy.stats import wasserstein_distance

from mlfastsim.metrics.result import MetricResult, bootstrap

__all__ = ["chamfer", "masked_mse", "w1", "w1_signed"]


def _as_mask(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if mask is None:
        return np.ones(shape, dtype=bool)
    mask = np.asarray(mask).astype(bool)
    if mask.shape != shape:
        raise ValueError(f"mask must have shape {list(shape)}, got {list(mask.shape)}")
    return mask


def chamfer(
    a_feat: np.ndarray,
    a_mask: np.ndarray | None,
    b_feat: np.ndarray,
    b_mask: np.ndarray | None,
    reduction: str = "mean",
    chunk_elements: int = 4_000_000,
) -> np.ndarray:
    """Symmetric Chamfer distance between the point sets of event i of a and event i of b.

    d(A, B) = red_{a∈A} min_{b∈B} ‖a − b‖² + red_{b∈B} min_{a∈A} ‖a − b‖², summed over all F features as given
    (scale them first if their units differ), with red = mean over real points (``reduction="mean"``, which
    does not grow with the multiplicity) or sum (``"sum"``, the reconstruction loss of seed 003).

    Args:
        a_feat: float ``[N, n, F]`` padded points; b_feat: ``[N, m, F]`` (m may differ from n).
        a_mask: bool ``[N, n]`` True for real points (None: all real); b_mask: ``[N, m]``.
        reduction: "mean" or "sum".
        chunk_elements: bound on events × n × m per chunk (memory).

    Returns:
        float64 ``[N]`` in squared feature units. An event pair where both sets are empty gives 0; where only
        one is empty, inf.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    a_feat = np.asarray(a_feat, dtype=np.float64)
    b_feat = np.asarray(b_feat, dtype=np.float64)
    if a_feat.ndim != 3 or b_feat.ndim != 3 or a_feat.shape[::2] != b_feat.shape[::2]:
        raise ValueError(
            f"need [N, n, F] and [N, m, F] features, got {list(a_feat.shape)} and {list(b_feat.shape)}"
        )
    a_mask = _as_mask(a_mask, a_feat.shape[:2])
    b_mask = _as_mask(b_mask, b_feat.shape[:2])
    n_ev, n, m = len(a_feat), a_feat.shape[1], b_feat.shape[1]
    out = np.empty(n_ev)
    step = max(1, chunk_elements // max(n * m, 1))
    for s in range(0, n_ev, step):
        a, b = (
            np.where(a_mask[s : s + step, :, None], a_feat[s : s + step], 0.0),
            np.where(b_mask[s : s + step, :, None], b_feat[s : s + step], 0.0),
        )
        ma, mb = a_mask[s : s + step], b_mask[s : s + step]
        d2 = (a * a).sum(-1)[:, :, None] + (b * b).sum(-1)[:, None, :] - 2.0 * np.einsum("bif,bjf->bij", a, b)
        d2 = np.clip(d2, 0.0, None)
        valid = ma[:, :, None] & mb[:, None, :]
        d2 = np.where(valid, d2, np.inf)
        a_to_b = np.where(ma, d2.min(axis=2), 0.0)  # [B, n]
        b_to_a = np.where(mb, d2.min(axis=1), 0.0)  # [B, m]
        na, nb = ma.sum(1), mb.sum(1)
        if reduction == "mean":
            term_a, term_b = a_to_b.sum(1) / np.maximum(na, 1), b_to_a.sum(1) / np.maximum(nb, 1)
        else:
            term_a, term_b = a_to_b.sum(1), b_to_a.sum(1)
        val = term_a + term_b
        val = np.where((na == 0) & (nb == 0), 0.0, np.where((na == 0) | (nb == 0), np.inf, val))
        out[s : s + step] = val
    return out


def masked_mse(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Mean squared difference per feature over the real entries only (padding never counts).

    Args:
        a, b: float ``[..., F]`` of one shape, e.g. ``[N, n_max, F]`` input and reconstruction, slot-aligned.
        mask: bool of shape ``a.shape[:-1]`` (e.g. ``[N, n_max]``), True for entries that count (None: all).

    Returns:
        float64 ``[F]`` in squared feature units; NaN where no entry is real.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must share a shape, got {list(a.shape)} and {list(b.shape)}")
    mask = _as_mask(mask, a.shape[:-1])
    diff2 = (a - b) ** 2
    count = mask.sum()
    if count == 0:
        return np.full(a.shape[-1], np.nan)
    return diff2[mask].sum(axis=0) / count


def w1(
    x: np.ndarray,
    y: np.ndarray,
    n_boot: int = 20,
    seed: int | np.random.Generator | None = 0,
    x_weights: np.ndarray | None = None,
    y_weights: np.ndarray | None = None,
) -> MetricResult:
    """1-Wasserstein distance between two one-dimensional samples (scipy.stats.wasserstein_distance).

    Args:
        x: ``[N]`` reference values; y: ``[M]`` generated values (same units). NaNs are dropped.
        n_boot: bootstrap replicas (each sample resampled on its own) for the uncertainty.
        seed: int, Generator or None for the bootstrap.
        x_weights, y_weights: optional weights ``[N]``, ``[M]`` (resampled with the values). Negative weights
            (sWeights) are allowed: then W1 = ∫ |F_x − F_y| dt with the weighted CDFs F (:func:`w1_signed`),
            which is what scipy computes for non-negative weights.

    Returns:
        :class:`MetricResult` (W1 in the units of x, bootstrap std, min(N, M)).
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    xw = np.ones_like(x) if x_weights is None else np.asarray(x_weights, dtype=np.float64).ravel()
    yw = np.ones_like(y) if y_weights is None else np.asarray(y_weights, dtype=np.float64).ravel()
    keep_x, keep_y = ~np.isnan(x), ~np.isnan(y)
    x, xw, y, yw = x[keep_x], xw[keep_x], y[keep_y], yw[keep_y]
    if len(x) == 0 or len(y) == 0:
        return MetricResult(float("nan"), float("nan"), 0)
    xs = np.column_stack([x, xw])
    ys = np.column_stack([y, yw])

    signed = bool((xw < 0).any() or (yw < 0).any())

    def stat(a: np.ndarray, b: np.ndarray) -> float:
        if signed:
            return w1_signed(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
        return float(wasserstein_distance(a[:, 0], b[:, 0], a[:, 1], b[:, 1]))

    return bootstrap(stat, xs, ys, n_boot=n_boot, seed=seed, paired=False)


def w1_signed(x: np.ndarray, xw: np.ndarray, y: np.ndarray, yw: np.ndarray) -> float:
    """∫ |F_x(t) − F_y(t)| dt with F the CDFs of the weighted samples, each normalised to its total weight.

    The 1-Wasserstein distance for non-negative weights; with signed weights (sWeights) the same integral
    of the background-subtracted CDFs. ``x``, ``xw``: ``[N]`` values and weights; ``y``, ``yw``: ``[M]``.
    NaN when a total weight is not positive.
    """
    tx, ty = float(np.sum(xw)), float(np.sum(yw))
    if tx <= 0 or ty <= 0:
        return float("nan")
    values = np.concatenate([x, y])
    mass = np.concatenate([np.asarray(xw, np.float64) / tx, -np.asarray(yw, np.float64) / ty])
    order = np.argsort(values, kind="stable")
    values, diff = values[order], np.cumsum(mass[order])
    return float(np.sum(np.abs(diff[:-1]) * np.diff(values)))
