"""PF calorimeter clustering (PF-E, PF-H) of the particle-flow reconstruction (:mod:`.pflow`, whose module
docstring describes it): topological clusters of cells above the gather threshold, seeds at local maxima,
the Gaussian-mixture sharing of each cell's energy among the seeds of its cluster, and log-weighted
positions. Vectorised over cells and (cell, cluster) pairs; the only loop is the sharing iteration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

from mlfastsim.physics.detector import pflow_constants as P
from mlfastsim.physics.kinematics import wrap_phi

__all__ = ["ClusterSpec", "calorimeter_clusters"]

_F64 = NDArray[np.float64]


@dataclass(frozen=True)
class ClusterSpec:
    """One calorimeter's cells and PF clustering parameters (defaults: :mod:`.pflow_constants`).

    Attributes:
        deta: cell size in η; n_phi: cells around φ (Δφ = 2π/n_phi).
        gather, seed: topological-cluster and seed thresholds [GeV].
        seed_neighbours: 8 (seed above all neighbours) or 4 (above the side neighbours only).
        position_cells: cells of the final position: 0 (all of the cluster), 9 (the seed's 3 × 3) or 5 (the
            seed and its side neighbours).
        log_w0: position weights max(0, W0 + ln(E_i/E_cluster)) with this W0; None: max(0, ln(E_i/gather)).
        sigma: Gaussian σ of the energy sharing [rad]. noise: Gaussian noise per cell [GeV] (0: none).
    """

    deta: float
    n_phi: int
    gather: float
    seed: float
    seed_neighbours: int
    position_cells: int
    log_w0: float | None
    sigma: float
    noise: float


def _sum(index: NDArray[np.int64], weights: _F64, n: int) -> _F64:
    """Sums of ``weights`` by ``index`` into ``[n]`` (float64)."""
    return np.bincount(index, weights, minlength=n).astype(np.float64, copy=False)


def _cell_of(eta: _F64, phi: _F64, spec: ClusterSpec) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Global cell indices (iη unbounded, iφ in [0, n_phi)) of points at (η, φ)."""
    ieta = np.floor(eta / spec.deta).astype(np.int64)
    iphi = np.floor(wrap_phi(phi) / (2.0 * math.pi / spec.n_phi)).astype(np.int64) % spec.n_phi
    return ieta, iphi


def _log_weight(energy: _F64, threshold: float, select: NDArray[np.bool_] | None = None) -> _F64:
    """PF position weights max(0, ln(E/threshold)) ``[n]``, zero where ``select`` is False."""
    w = np.log(np.maximum(energy, 1e-300) / threshold)
    return np.where((w > 0) if select is None else select & (w > 0), w, 0.0)


def _share(
    cell_rc: tuple[_F64, _F64],
    pair_cell: NDArray[np.int64],
    pair_seed: NDArray[np.int64],
    e_cell: _F64,
    first: NDArray[np.int64],
    blocked: NDArray[np.bool_],
    seeds: tuple[_F64, _F64, _F64],
    scale: tuple[float, float],
    threshold: float,
) -> _F64:
    """PF Gaussian-mixture energy sharing: the fraction ``[p]`` of each (cell, seed) pair's cell energy.

    Pairs are grouped by cell (``first`` [c] starts each group); f_ij ∝ E_j·exp(−d_ij²/2σ²) with d in units of
    σ via ``scale`` = (Δη/σ, Δφ/σ) per cell; ``blocked`` pairs (a seed cell and another seed) get 0. Cluster
    energies and log-weighted positions are updated until no cluster moves by PF_CLUSTER_TOLERANCE cells.
    ``seeds`` = (energy, row, column) of every seed; only those appearing in ``pair_seed`` are used.
    """
    (row, col), (cl_e, cl_r, cl_c), n = cell_rc, seeds, seeds[0].size
    frac, used = np.ones(pair_cell.size), np.unique(pair_seed)
    for _ in range(P.PF_CLUSTER_MAX_ITERATIONS):
        d2 = ((row - cl_r[pair_seed]) * scale[0]) ** 2 + ((col - cl_c[pair_seed]) * scale[1]) ** 2
        logw = np.where(blocked, -np.inf, np.log(np.maximum(cl_e[pair_seed], 1e-300)) - 0.5 * d2)
        w = np.exp(logw - np.maximum.reduceat(logw, first)[pair_cell])
        frac = w / np.add.reduceat(w, first)[pair_cell]
        e_pair = frac * e_cell[pair_cell]
        lw = _log_weight(e_pair, threshold)
        norm = np.maximum(_sum(pair_seed, lw, n), 1e-300)
        new_r, new_c = _sum(pair_seed, lw * row, n) / norm, _sum(pair_seed, lw * col, n) / norm
        shift = float(np.max(np.maximum(np.abs(new_r - cl_r)[used], np.abs(new_c - cl_c)[used])))
        cl_e, cl_r, cl_c = _sum(pair_seed, e_pair, n), new_r, new_c
        if shift < P.PF_CLUSTER_TOLERANCE:
            break
    return frac


def calorimeter_clusters(
    eta: ArrayLike,
    phi: ArrayLike,
    energy: ArrayLike,
    spec: ClusterSpec,
    rng: np.random.Generator,
    query: tuple[ArrayLike, ArrayLike] | None = None,
) -> tuple[_F64, _F64, _F64, NDArray[np.int64]]:
    """PF clusters of energy deposits ``[m]`` at (η, φ) [rad] with energies [GeV]; see the module docstring.

    Deposits are summed into cells; noise is added to every cell of their bounding box (padded by 2 cells);
    cells below ``spec.gather`` are dropped; topological clusters (8-connected) without a seed are dropped.
    Returns cluster (energy, η, φ), each ``[k]``, and for each ``query`` point ``[q]`` the index of the
    cluster owning its cell (the largest energy fraction) or −1. Draws one normal per box cell from ``rng``
    when ``spec.noise > 0``.
    """
    eta, phi, energy = (np.asarray(a, dtype=np.float64) for a in (eta, phi, energy))
    n_query = 0 if query is None else np.asarray(query[0]).size
    empty = (np.zeros(0), np.zeros(0), np.zeros(0), np.full(n_query, -1, dtype=np.int64))
    if energy.size == 0:
        return empty
    ieta, iphi = _cell_of(eta, phi, spec)
    ref, half, pad = int(iphi[np.argmax(energy)]), spec.n_phi // 2, 2
    dcol = (iphi - ref + half) % spec.n_phi - half
    r0, c0 = int(ieta.min()) - pad, int(dcol.min()) - pad
    shape = (int(ieta.max()) - r0 + 1 + pad, int(dcol.max()) - c0 + 1 + pad)
    flat = (ieta - r0) * shape[1] + (dcol - c0)
    grid: _F64 = (
        np.bincount(flat, weights=energy, minlength=shape[0] * shape[1]).astype(np.float64).reshape(shape)
    )
    if spec.noise > 0:
        grid = grid + spec.noise * rng.standard_normal(shape)
    labels, _ = ndimage.label(grid >= spec.gather, structure=np.ones((3, 3), dtype=bool))
    footprint = np.ones((3, 3), dtype=bool)
    if spec.seed_neighbours == 4:
        footprint[::2, ::2] = False
    local_max = grid >= ndimage.maximum_filter(grid, footprint=footprint, mode="constant", cval=-np.inf)
    lab, e_grid = labels.ravel(), grid.ravel()
    seeds = np.flatnonzero((local_max & (grid >= spec.seed)).ravel())
    if seeds.size == 0:
        return empty
    # (cell, seed) pairs within each topological cluster; pairs are contiguous per cell.
    per_topo = np.bincount(lab[seeds], minlength=int(lab.max()) + 1)
    order = np.argsort(lab[seeds], kind="stable")
    starts = np.cumsum(per_topo) - per_topo
    cells = np.flatnonzero(lab > 0)
    cells = cells[per_topo[lab[cells]] > 0]
    reps = per_topo[lab[cells]]
    first = np.cumsum(reps) - reps
    pair_cell = np.repeat(np.arange(cells.size), reps)
    pair_seed = order[np.repeat(starts[lab[cells]], reps) + np.arange(pair_cell.size) - first[pair_cell]]
    e_cell = e_grid[cells]
    row_c, col_c = (np.divmod(cells, shape[1])[k].astype(np.float64) for k in (0, 1))
    row_s, col_s = (np.divmod(seeds, shape[1])[k].astype(np.float64) for k in (0, 1))
    # A seed cell belongs to its own cluster only (PF excludeOtherSeeds).
    blocked = np.isin(cells, seeds)[pair_cell] & (cells[pair_cell] != seeds[pair_seed])
    dr_pair, dc_pair = row_c[pair_cell], col_c[pair_cell]
    frac = np.ones(pair_cell.size)
    shared = np.repeat(reps > 1, reps)  # pairs of topological clusters with several seeds
    if shared.any():
        scale = (spec.deta / spec.sigma, (2.0 * math.pi / spec.n_phi) / spec.sigma)
        sub_reps = reps[reps > 1]
        frac[shared] = _share(
            (dr_pair[shared], dc_pair[shared]),
            np.repeat(np.arange(sub_reps.size), sub_reps),
            pair_seed[shared],
            e_cell[reps > 1],
            np.cumsum(sub_reps) - sub_reps,
            blocked[shared],
            (e_grid[seeds], row_s, col_s),
            scale,
            spec.gather,
        )
    cl_e = _sum(pair_seed, frac * e_cell[pair_cell], seeds.size)
    # Final position: log weights relative to the cluster energy (W0) over all its cells, or absolute
    # (threshold denominator) over the seed's 3 × 3 (9) or the seed and its side neighbours (5).
    off_r, off_c = np.abs(dr_pair - row_s[pair_seed]), np.abs(dc_pair - col_s[pair_seed])
    near = (off_r <= 1) & (off_c <= 1) if spec.position_cells == 9 else (off_r + off_c <= 1)
    if spec.position_cells == 0:
        near = np.ones(pair_cell.size, dtype=bool)
    if spec.log_w0 is None:
        lw = _log_weight(frac * e_cell[pair_cell], spec.gather, near)
    else:
        lw = _log_weight(frac * e_cell[pair_cell] / cl_e[pair_seed], math.exp(-spec.log_w0), near)
    norm = _sum(pair_seed, lw, seeds.size)
    pos_r = _sum(pair_seed, lw * dr_pair, seeds.size) / norm
    pos_c = _sum(pair_seed, lw * dc_pair, seeds.size) / norm
    cl_eta = (r0 + pos_r + 0.5) * spec.deta
    cl_phi = wrap_phi((ref + c0 + pos_c + 0.5) * (2.0 * math.pi / spec.n_phi))
    owner = np.full(n_query, -1, dtype=np.int64)
    if query is not None and n_query:
        best = frac == np.maximum.reduceat(frac, first)[pair_cell]
        owner_grid = np.full(e_grid.size, -1, dtype=np.int64)
        owner_grid[cells[pair_cell[best]]] = pair_seed[best]
        q_eta, q_phi = _cell_of(np.asarray(query[0], np.float64), np.asarray(query[1], np.float64), spec)
        q_r, q_c = q_eta - r0, (q_phi - ref + half) % spec.n_phi - half - c0
        inside = (q_r >= 0) & (q_r < shape[0]) & (q_c >= 0) & (q_c < shape[1])
        owner[inside] = owner_grid[q_r[inside] * shape[1] + q_c[inside]]
    return cl_e, cl_eta, cl_phi, owner
