"""The cluster finder of TPC pad-row windows (seed 004's reconstruction-level view): connected samples above
threshold, the charge-weighted centroid in pad and time, the cluster's charge and widths, and whether it
is found at the true crossing point.

A cluster is a 4-connected set of non-zero samples of one window (pads × buckets; zero suppression has
removed the rest). The window's cluster is its largest by charge; it is *found* when it spans at least
``min_pads`` pads (a position along the row needs two) and its centroid lies within ``max_pad`` pads and
``max_time`` buckets of the true crossing point. Residuals are centroid − truth, in window units and in µm
(pad pitch 5 mm; one bucket is v_drift · 100 ns = 5.5 mm of drift).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from mlfastsim.physics.detector import tpc_constants as C

__all__ = [
    "BIN_STATS", "PAD_UM", "TIME_UM", "Clusters", "bin_edges", "bin_stats", "find_clusters", "mean_width",
]  # fmt: skip

#: Micrometres per pad (along the row) and per time bucket (along the drift, at the nominal drift velocity).
PAD_UM = C.PAD_WIDTH * 1e4
TIME_UM = C.DRIFT_VELOCITY * C.TIME_BIN * 1e4


@dataclass
class Clusters:
    """The cluster of every window (all ``[N]``; NaN where a window has no cluster).

    Attributes:
        found: bool, found at the true crossing point (module docstring).
        pad, time: charge-weighted centroid (window pads, buckets).
        charge: summed ADC counts of the cluster. pad_width, time_width: charge-weighted RMS (pads,
            buckets). n_pads, n_cells: pads and samples of the cluster (0 without one). n_clusters: clusters
            in the window.
        pad_residual, time_residual: centroid − true crossing point (pads, buckets).
    """

    found: np.ndarray
    pad: np.ndarray
    time: np.ndarray
    charge: np.ndarray
    pad_width: np.ndarray
    time_width: np.ndarray
    n_pads: np.ndarray
    n_cells: np.ndarray
    n_clusters: np.ndarray
    pad_residual: np.ndarray
    time_residual: np.ndarray

    def __len__(self) -> int:
        return len(self.found)


def find_clusters(
    adc: np.ndarray,
    crossing: np.ndarray,
    min_pads: int = 2,
    max_pad: float = 1.0,
    max_time: float = 2.0,
) -> Clusters:
    """Find the cluster of every window (module docstring).

    Args:
        adc: ``[N, P, T]`` ADC counts (zero below threshold).
        crossing: ``[N, 2]`` true crossing point (pad, bucket) in window coordinates (NaN: never found).
        min_pads: pads a found cluster spans at least. max_pad, max_time: largest |centroid − truth| of a
            found cluster (pads, buckets).

    Returns:
        :class:`Clusters`.
    """
    a = np.asarray(adc, dtype=np.float64)
    n, n_p, _ = a.shape
    structure = np.zeros((3, 3, 3), bool)
    structure[1] = ndimage.generate_binary_structure(2, 1)  # 4-connected within a window, never across
    labels, n_lab = ndimage.label(a > 0, structure=structure)
    flat = labels.ravel()
    on = flat > 0
    lab = flat[on] - 1
    q = a.ravel()[on]
    win, pad, time = np.unravel_index(np.flatnonzero(on), a.shape)

    def per_label(weights: np.ndarray) -> np.ndarray:
        return np.bincount(lab, weights=weights, minlength=n_lab)

    charge = per_label(q)
    mp, mt = per_label(q * pad), per_label(q * time)
    mpp, mtt = per_label(q * pad**2), per_label(q * time**2)
    cells = np.bincount(lab, minlength=n_lab)
    pads_hit = np.bincount(np.unique(lab * n_p + pad) // n_p, minlength=n_lab)
    owner = np.zeros(n_lab, np.int64)
    owner[lab] = win
    # the largest cluster of each window: labels sorted by (window, −charge), first of each window
    order = np.lexsort((-charge, owner))
    first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]] if n_lab else order

    out = {k: np.full(n, np.nan) for k in ("pad", "time", "charge", "pad_width", "time_width")}
    n_pads, n_cells = np.zeros(n, np.int64), np.zeros(n, np.int64)
    w, best = owner[first], first
    with np.errstate(invalid="ignore", divide="ignore"):
        out["charge"][w] = charge[best]
        out["pad"][w] = mp[best] / charge[best]
        out["time"][w] = mt[best] / charge[best]
        out["pad_width"][w] = np.sqrt(np.clip(mpp[best] / charge[best] - out["pad"][w] ** 2, 0.0, None))
        out["time_width"][w] = np.sqrt(np.clip(mtt[best] / charge[best] - out["time"][w] ** 2, 0.0, None))
    n_pads[w], n_cells[w] = pads_hit[best], cells[best]
    cross = np.asarray(crossing, dtype=np.float64)
    dp, dt = out["pad"] - cross[:, 0], out["time"] - cross[:, 1]
    with np.errstate(invalid="ignore"):
        found = (n_pads >= min_pads) & (np.abs(dp) < max_pad) & (np.abs(dt) < max_time)
    return Clusters(
        found=found, n_pads=n_pads, n_cells=n_cells, n_clusters=np.bincount(owner, minlength=n),
        pad_residual=dp, time_residual=dt, **out,
    )  # fmt: skip


#: The per-bin statistics of :func:`bin_stats` (each with an ``_err`` twin): efficiencies, residual means
#: and widths [µm] of found clusters, and their charge [ADC] and width [pads, buckets] means.
BIN_STATS = (
    "efficiency", "efficiency_3pad", "pad_mean", "pad_width", "time_mean", "time_width",
    "charge", "cluster_pad_width", "cluster_time_width",
)  # fmt: skip


def bin_edges(reference: np.ndarray, n_bins: int, discrete: bool = False) -> np.ndarray:
    """Edges ``[B + 1]`` of ``n_bins`` equally populated bins of the reference's values (outer edges ±∞, so
    every value of every sample falls in a bin); ``discrete``: one bin per distinct value (the row type)."""
    x = np.asarray(reference, dtype=np.float64)
    x = x[np.isfinite(x)]
    if discrete:
        levels = np.unique(x)
        inner = 0.5 * (levels[1:] + levels[:-1])
    else:
        inner = np.unique(np.quantile(x, np.linspace(0, 1, n_bins + 1)[1:-1])) if len(x) else np.zeros(0)
    return np.concatenate([[-np.inf], inner, [np.inf]])


def mean_width(x: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, its error σ/√n, standard deviation σ and its error of ``x`` (NaN below 2 values).

    The error of σ is the large-n one for any distribution, σ √((κ − 1) / 4n) with κ = m₄/m₂² the kurtosis
    (σ/√(2n) for a Gaussian): the residuals have tails (δ-electron clusters pull the centroid), for which the
    Gaussian formula understates it several-fold.
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n < 2:
        return (float("nan"),) * 4
    d = x - x.mean()
    m2 = float((d**2).mean())
    sd = float(x.std(ddof=1))
    kurt = float((d**4).mean()) / m2**2 if m2 > 0 else 3.0
    return float(x.mean()), sd / np.sqrt(n), sd, sd * np.sqrt(max(kurt - 1.0, 0.0) / (4.0 * n))


def bin_stats(clusters: Clusters, values: np.ndarray, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Per-bin cluster statistics of one sample in bins of ``values [N]`` (a condition).

    Returns float64 ``[B]`` arrays: ``n`` (segments), ``centre`` (median value), every :data:`BIN_STATS`
    entry and its ``<name>_err``: binomial errors for the efficiencies, σ/√n for means and the kurtosis-aware
    error of the widths (standard deviations of the residuals, µm; :func:`mean_width`). Residuals, charges
    and widths are of found clusters.
    """
    idx = np.digitize(np.asarray(values, dtype=np.float64), edges[1:-1])
    b = len(edges) - 1
    out = {k: np.full(b, np.nan) for k in ("n", "centre", *BIN_STATS, *(f"{s}_err" for s in BIN_STATS))}
    three = clusters.found & (clusters.n_pads >= 3)
    for i in range(b):
        sel = idx == i
        n = int(sel.sum())
        out["n"][i] = n
        if n == 0:
            continue
        out["centre"][i] = float(np.median(values[sel]))
        for name, passed in (("efficiency", clusters.found[sel]), ("efficiency_3pad", three[sel])):
            e = float(passed.mean())
            out[name][i], out[f"{name}_err"][i] = e, np.sqrt(e * (1 - e) / n)
        f = sel & clusters.found
        for name, x, scale in (
            ("pad", clusters.pad_residual, PAD_UM),
            ("time", clusters.time_residual, TIME_UM),
        ):
            m, m_err, w, w_err = mean_width(x[f] * scale)
            out[f"{name}_mean"][i], out[f"{name}_mean_err"][i] = m, m_err
            out[f"{name}_width"][i], out[f"{name}_width_err"][i] = w, w_err
        for name, x in (
            ("charge", clusters.charge), ("cluster_pad_width", clusters.pad_width),
            ("cluster_time_width", clusters.time_width),
        ):  # fmt: skip
            m, m_err, _, _ = mean_width(x[f])
            out[name][i], out[f"{name}_err"][i] = m, m_err
    return out
