"""Energy-flow polynomials (Komiske, Metodiev, Thaler 2018) of degree ≤ 4: the 36 jet features of FPD/KPD.

For a multigraph G with vertices 1..n and edge multiset E, the EFP of a jet with hits i is

    EFP_G = Σ_{i_1..i_n} z_{i_1} ⋯ z_{i_n} Π_{(k,l)∈E} θ_{i_k i_l},

summing over all index tuples (repeated indices included), with z_i = E_i / Σ_j E_j (κ = 1, normed) and
θ_ij = (Δη² + Δφ²)^{β/2}, Δφ wrapped into (−π, π] — the 'hadr' measure with β = 1 that JetNet's
``get_fpd_kpd_jet_features`` uses (``EFPSet("d<=4", measure="hadr", beta=1)``), with energies in place of pT.
The degree d is the number of edges. There are 36 multigraphs without isolated vertices and d ≤ 4 (1, 1, 3, 8
and 23 for d = 0..4, the d = 0 graph being a single vertex with value Σz = 1); disconnected graphs are
products of their connected components, and the 20 connected ones are evaluated here in closed form with
matrix products (one O(n³) product per jet, the rest O(n²)), vectorised over jets.

The graph behind every output column is given by :func:`efp_graphs`. Column order: by degree, then number
of vertices, then number of components, then canonical edge list.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from itertools import combinations, combinations_with_replacement, permutations
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["efp_graphs", "efps", "efps_torch"]

Graph = tuple[int, tuple[tuple[int, int], ...]]  # (number of vertices, sorted edge list with repeats)


def _canonical(n: int, edges: tuple[tuple[int, int], ...]) -> Graph:
    """Canonical form of a multigraph: the smallest sorted edge list over all vertex relabellings."""
    best: tuple[tuple[int, int], ...] | None = None
    for perm in permutations(range(n)):
        key = tuple(sorted((min(perm[u], perm[v]), max(perm[u], perm[v])) for u, v in edges))
        if best is None or key < best:
            best = key
    return n, best if best is not None else ()


def _connected(n: int, edges: tuple[tuple[int, int], ...]) -> bool:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for u, v in edges:
        parent[find(u)] = find(v)
    return len({find(x) for x in range(n)}) == 1


@cache
def _connected_graphs(max_degree: int) -> tuple[Graph, ...]:
    """All connected multigraphs (no loops) with 1..max_degree edges, canonical, sorted by (d, n, edges)."""
    found: set[Graph] = set()
    for d in range(1, max_degree + 1):
        for n in range(2, d + 2):
            pairs = list(combinations(range(n), 2))
            for edges in combinations_with_replacement(pairs, d):
                if {v for e in edges for v in e} == set(range(n)) and _connected(n, edges):
                    found.add(_canonical(n, edges))
    return tuple(sorted(found, key=lambda g: (len(g[1]), g[0], g[1])))


@cache
def _all_graphs(max_degree: int) -> tuple[tuple[int, ...], ...]:
    """Every multigraph with d ≤ max_degree as a sorted tuple of connected-component indices (() is d = 0)."""
    conn = _connected_graphs(max_degree)
    degree = [len(g[1]) for g in conn]
    out: list[tuple[int, ...]] = [()]

    def extend(prefix: tuple[int, ...], start: int, d_left: int) -> None:
        for c in range(start, len(conn)):
            if degree[c] <= d_left:
                graph = (*prefix, c)
                out.append(graph)
                extend(graph, c, d_left - degree[c])

    extend((), 0, max_degree)

    def key(comps: tuple[int, ...]) -> tuple:
        return (sum(degree[c] for c in comps), sum(conn[c][0] for c in comps) or 1, len(comps), comps)

    return tuple(sorted(out, key=key))


def efp_graphs(max_degree: int = 4) -> list[Graph]:
    """The multigraph of each column of :func:`efps`, as ``(n_vertices, edges)`` with repeated edges listed
    repeatedly; the d = 0 graph is ``(1, ())``. 36 graphs for ``max_degree=4``."""
    if not 0 <= max_degree <= 4:
        raise ValueError(f"max_degree must be in 0..4, got {max_degree}")
    conn = _connected_graphs(max_degree)
    graphs: list[Graph] = []
    for comps in _all_graphs(max_degree):
        if not comps:
            graphs.append((1, ()))
            continue
        edges: list[tuple[int, int]] = []
        offset = 0
        for c in comps:
            n, es = conn[c]
            edges.extend((u + offset, v + offset) for u, v in es)
            offset += n
        graphs.append((offset, tuple(edges)))
    return graphs


class _Jets:
    """Cached building blocks of the closed forms for a chunk of jets (float64 torch tensors: batched GEMM and
    multithreaded elementwise work): z [B, n], θ^k [B, n, n], s_k [B, n], W [B, n, n]."""

    def __init__(self, z: Tensor, theta: Tensor) -> None:
        self.z = z
        self._t = {1: theta}
        self._s: dict[int, Tensor] = {}
        self._w: Tensor | None = None

    def t(self, k: int) -> Tensor:
        if k not in self._t:
            self._t[k] = self._t[1] ** k
        return self._t[k]

    def mv(self, m: Tensor, v: Tensor) -> Tensor:
        """Batched matrix-vector product [B, n, n] × [B, n] → [B, n]."""
        return (m @ v.unsqueeze(-1)).squeeze(-1)

    def s(self, k: int) -> Tensor:
        """s_k[a] = Σ_b θ_ab^k z_b, [B, n]."""
        if k not in self._s:
            self._s[k] = self.mv(self.t(k), self.z)
        return self._s[k]

    def w(self) -> Tensor:
        """W[a, c] = Σ_b θ_ab z_b θ_bc, [B, n, n] (the one O(n³) product)."""
        if self._w is None:
            t1 = self.t(1)
            self._w = t1 @ (self.z.unsqueeze(-1) * t1)
        return self._w

    def zsum(self, x: Tensor) -> Tensor:
        """Σ_a z_a x_a, [B]."""
        return (self.z * x).sum(-1)

    def quad(self, m: Tensor, u: Tensor | float, v: Tensor | float) -> Tensor:
        """Σ_ab z_a u_a M_ab z_b v_b, [B]."""
        return (self.z * u * self.mv(m, self.z * v)).sum(-1)


def _formulas() -> dict[Graph, Callable[[_Jets], Tensor]]:
    """Closed forms of the 20 connected multigraphs with d ≤ 4, keyed by canonical graph."""
    hand: list[tuple[int, list[tuple[int, int]], Callable[[_Jets], Tensor]]] = [
        # d = 1, 2
        (2, [(0, 1)], lambda j: j.zsum(j.s(1))),
        (2, [(0, 1)] * 2, lambda j: j.zsum(j.s(2))),
        (3, [(0, 1), (1, 2)], lambda j: j.zsum(j.s(1) ** 2)),
        # d = 3
        (2, [(0, 1)] * 3, lambda j: j.zsum(j.s(3))),
        (3, [(0, 1), (0, 1), (1, 2)], lambda j: j.zsum(j.s(2) * j.s(1))),
        (4, [(0, 1), (1, 2), (2, 3)], lambda j: j.quad(j.t(1), j.s(1), j.s(1))),
        (4, [(0, 1), (0, 2), (0, 3)], lambda j: j.zsum(j.s(1) ** 3)),
        (3, [(0, 1), (1, 2), (0, 2)], lambda j: j.quad(j.t(1) * j.w(), 1.0, 1.0)),
        # d = 4
        (2, [(0, 1)] * 4, lambda j: j.zsum(j.s(4))),
        (3, [(0, 1)] * 3 + [(1, 2)], lambda j: j.zsum(j.s(3) * j.s(1))),
        (3, [(0, 1), (0, 1), (1, 2), (1, 2)], lambda j: j.zsum(j.s(2) ** 2)),
        (3, [(0, 1), (0, 1), (1, 2), (0, 2)], lambda j: j.quad(j.t(2) * j.w(), 1.0, 1.0)),
        (4, [(0, 1), (0, 1), (1, 2), (2, 3)], lambda j: j.quad(j.t(1), j.s(2), j.s(1))),
        (4, [(0, 1), (1, 2), (1, 2), (2, 3)], lambda j: j.quad(j.t(2), j.s(1), j.s(1))),
        (4, [(0, 1), (0, 1), (0, 2), (0, 3)], lambda j: j.zsum(j.s(2) * j.s(1) ** 2)),
        (4, [(0, 1), (1, 2), (2, 3), (0, 3)], lambda j: j.quad(j.w() ** 2, 1.0, 1.0)),
        (4, [(0, 1), (1, 2), (0, 2), (0, 3)], lambda j: j.quad(j.t(1) * j.w(), j.s(1), 1.0)),
        (
            5,
            [(0, 1), (1, 2), (2, 3), (3, 4)],
            lambda j: j.zsum(j.mv(j.t(1), j.z * j.s(1)) ** 2),
        ),
        (5, [(0, 1), (0, 2), (0, 3), (0, 4)], lambda j: j.zsum(j.s(1) ** 4)),
        (5, [(0, 1), (1, 2), (1, 3), (3, 4)], lambda j: j.quad(j.t(1), j.s(1) ** 2, j.s(1))),
    ]
    table = {_canonical(n, tuple(edges)): fn for n, edges, fn in hand}
    if set(table) != set(_connected_graphs(4)):  # pragma: no cover - guards the hand-written table
        raise RuntimeError("EFP closed forms do not match the enumerated connected multigraphs")
    return table


_FORMULAS = _formulas()


def _theta(eta: Tensor, phi: Tensor, beta: float, soft: float) -> Tensor:
    """θ_ab = ΔR_ab^β ``[B, n, n]`` of ``eta, phi [B, n]``, differentiable: 0 (gradient 0) where ΔR = 0 (the
    diagonal, coincident padding), where √ has no finite gradient; with ``soft`` > 0, ΔR is replaced by
    √(ΔR² + soft²) − soft (bounded gradients for particles that nearly coincide; values change by < soft)."""
    import torch

    from mlfastsim.physics.torch_kinematics import wrap_phi

    d_eta = eta.unsqueeze(2) - eta.unsqueeze(1)
    d_phi = phi.unsqueeze(2) - phi.unsqueeze(1)
    d_phi = torch.where(d_phi.abs() > math.pi, wrap_phi(d_phi), d_phi)
    d2 = d_eta * d_eta + d_phi * d_phi
    if soft > 0:
        dr = (d2 + soft * soft).sqrt() - soft
        return dr if beta == 1.0 else dr.clamp_min(1e-30) ** beta
    safe = d2.clamp_min(1e-30)
    return torch.where(d2 > 0, safe.sqrt() if beta == 1.0 else safe ** (0.5 * beta), 0.0)


def efps_torch(
    z: Tensor, eta: Tensor, phi: Tensor, max_degree: int = 4, beta: float = 1.0, soft: float = 0.0
) -> Tensor:
    """The EFPs of :func:`efps` for padded torch jets, differentiable in all three inputs (the loss terms of
    generative models use it).

    Args:
        z: ``[B, n]`` energy (or pT) weights, 0 for padding (normalise beforehand for normed EFPs).
        eta, phi: ``[B, n]`` coordinates (η units, rad; Δφ is wrapped).
        max_degree: 0..4. beta: angular exponent β.
        soft: 0 (exact) or a small angle (rad): ΔR → √(ΔR² + soft²) − soft, for losses whose particles may
            nearly coincide (the exact √ has unbounded gradients there).

    Returns:
        ``[B, n_efp]`` in the dtype of ``z`` (36 columns for max_degree 4), columns as :func:`efp_graphs`.
    """
    import torch

    if not 0 <= max_degree <= 4:
        raise ValueError(f"max_degree must be in 0..4, got {max_degree}")
    conn = _connected_graphs(max_degree)
    jets = _Jets(z, _theta(eta, phi, beta, soft))
    values = [_FORMULAS[g](jets) for g in conn]
    cols = []
    for comps in _all_graphs(max_degree):
        val = z.sum(-1) if not comps else values[comps[0]]
        for c in comps[1:]:
            val = val * values[c]
        cols.append(val)
    return torch.stack(cols, -1)


def efps(
    feat: np.ndarray,
    mask: np.ndarray | None = None,
    max_degree: int = 4,
    beta: float = 1.0,
    normed: bool = True,
    cols: tuple[int, int, int] = (0, 1, 2),
    chunk_elements: int = 2_000_000,
) -> np.ndarray:
    """Energy-flow polynomials with degree ≤ ``max_degree`` of every jet (or event) of a padded batch.

    Args:
        feat: float ``[N, n_max, F]`` padded hits or particles; columns ``cols`` hold (η, φ, E) in (η units,
            rad, GeV). E may be pT (JetNet uses pT); negative values count as zero.
        mask: bool ``[N, n_max]``, True for real entries (None: all real).
        max_degree: 0..4; 4 gives the 36 EFPs of JetNet's FPD/KPD features.
        beta: angular exponent β of θ_ij = ΔR_ij^β.
        normed: z_i = E_i / Σ E (True) or z_i = E_i in GeV (False).
        cols: indices of the (η, φ, E) features.
        chunk_elements: bound on jets × n² per chunk (memory: about 8 such float64 arrays at a time).

    Returns:
        float64 ``[N, n_efp]`` (36 for max_degree 4), columns as in :func:`efp_graphs`. An empty jet gives 0s.
    """
    feat = np.asarray(feat)
    if feat.ndim != 3:
        raise ValueError(f"features must be [N, n_max, F], got shape {list(feat.shape)}")
    import torch

    graphs = _all_graphs(max_degree) if 0 <= max_degree <= 4 else None
    if graphs is None:
        raise ValueError(f"max_degree must be in 0..4, got {max_degree}")
    n_jets, n_max, _ = feat.shape
    mask = np.ones((n_jets, n_max), dtype=bool) if mask is None else np.asarray(mask).astype(bool)
    if mask.shape != (n_jets, n_max):
        raise ValueError(f"mask must be [N, n_max] = {[n_jets, n_max]}, got {list(mask.shape)}")
    out = np.zeros((n_jets, len(graphs)))
    counts = mask.sum(axis=1)
    order = np.argsort(counts, kind="stable")  # similar multiplicities share a chunk: little padding
    real_first = np.argsort(~mask, axis=1, kind="stable")
    start = 0
    while start < n_jets:
        stop = start + 1
        while stop < n_jets and (stop + 1 - start) * max(int(counts[order[stop]]), 1) ** 2 <= chunk_elements:
            stop += 1
        idx = order[start:stop]
        nc = max(int(counts[idx].max()), 1)
        sel = real_first[idx, :nc]
        f = np.take_along_axis(feat[idx], sel[:, :, None], axis=1).astype(np.float64)
        m = np.take_along_axis(mask[idx], sel, axis=1)
        e = np.where(m, np.clip(np.nan_to_num(f[..., cols[2]]), 0.0, None), 0.0)
        eta = np.where(m, f[..., cols[0]], 0.0)
        phi = np.where(m, f[..., cols[1]], 0.0)
        total = e.sum(axis=1, keepdims=True)
        z = e / np.where(total > 0, total, 1.0) if normed else e
        t_z, t_eta, t_phi = torch.from_numpy(z), torch.from_numpy(eta), torch.from_numpy(phi)
        out[idx] = efps_torch(t_z, t_eta, t_phi, max_degree, beta).numpy()
        start = stop
    return out
