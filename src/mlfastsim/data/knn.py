"""kNN graphs of padded hit clouds built over each jet's real hits only (no work on padding).

:func:`mlfastsim.data.representations.knn_graph` computes all ``n × n`` distances of every jet, padding
included (``[B, n, n]``: for qcd ECAL jets with 139 real hits in 400 slots, 8× the work that matters).
:func:`knn_real_hits` gives the same graph with one k-d tree (scipy's ``cKDTree``) over the real hits of
the whole batch, jets kept apart along a third axis, then ranks each hit's candidates by the same float32
squared distance ``knn_graph`` computes. Ties (hits on a cell grid are often equidistant) go to the lower
slot index, i.e. the more energetic hit, since clouds are sorted by decreasing energy.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

__all__ = ["knn_real_hits"]

#: Candidates asked of the tree beyond ``k`` and the hit itself, so that every hit tied with the k-th
#: neighbour is among them (on a cell grid at most 8 cells share a distance); rows where the last
#: candidate could still tie with the k-th are ranked again over their whole jet.
TIE_MARGIN = 8


def knn_real_hits(positions: Tensor, mask: Tensor, k: int = 4) -> Tensor:
    """k nearest neighbours of every real hit within its own jet, computed on real hits only.

    Args:
        positions: float ``[B, n, 2]`` hit coordinates (both axes in the same units; no φ wrapping).
        mask: bool ``[B, n]``, True for real hits (anywhere among the slots).
        k: neighbours per hit (self excluded).

    Returns:
        int64 ``[B, n, k]`` slot indices, the contract of ``knn_graph``: neighbours by increasing squared
        distance (float32, as ``knn_graph`` computes it), ties to the lower slot; a real hit with fewer than
        ``k`` real neighbours, and every padded slot, points to itself for the missing entries.
    """
    if positions.ndim != 3 or positions.shape[-1] != 2 or mask.shape != positions.shape[:2]:
        raise ValueError(
            f"knn_real_hits: positions must be [B, n, 2] and mask [B, n], got {list(positions.shape)} "
            f"and {list(mask.shape)}"
        )
    b, n, _ = positions.shape
    device = positions.device
    out = torch.arange(n, device=device).view(1, n, 1).expand(b, n, k).clone()
    jet, slot = mask.nonzero(as_tuple=True)  # real hits, jet by jet, in slot order
    total = len(jet)
    if k == 0 or total < 2:
        return out
    pts = positions[jet, slot].detach().float()  # [T, 2]
    p64 = pts.cpu().double().numpy()
    span = float(np.ptp(p64, axis=0).max()) if total else 0.0
    gap = 4.0 * span + 1.0  # jets this far apart: never neighbours, and beyond the distance bound
    tree = cKDTree(np.column_stack([p64, jet.cpu().double().numpy() * gap]))
    m = min(k + 1 + TIE_MARGIN, total)
    dist64, cand_np = tree.query(tree.data, m, distance_upper_bound=gap / 2)
    cand = torch.as_tensor(cand_np.reshape(total, m), device=device)
    row = torch.arange(total, device=device).unsqueeze(1)
    valid = (cand < total) & (cand != row)
    cand = torch.where(valid, cand, row)
    diff = pts.unsqueeze(1) - pts[cand]  # p_i - p_j, as knn_graph
    d32 = (diff * diff).sum(-1).masked_fill(~valid, float("inf"))
    idx, d = _rank(cand, d32, total)
    k_eff = min(k, m - 1)
    idx, d = idx[:, :k_eff], d[:, :k_eff]
    # a row whose last candidate is not clearly beyond its k-th distance may have lost a tie: redo it
    last = torch.as_tensor(np.asarray(dist64).reshape(total, m)[:, -1], device=device, dtype=torch.float64)
    kth = d[:, -1].double()
    redo = torch.isfinite(last) & torch.isfinite(kth) & (last.square() <= kth * (1 + 1e-5) + 1e-30)
    for r in redo.nonzero().flatten().tolist():
        same = (jet == jet[r]).nonzero().flatten()
        dr = ((pts[r] - pts[same]) ** 2).sum(-1)
        dr[same == r] = float("inf")
        o = torch.sort(dr, stable=True)
        take = min(k_eff, len(same))
        idx[r, :take], d[r, :take] = same[o.indices[:take]], o.values[:take]
    neighbours = torch.where(torch.isfinite(d), slot[idx], slot.unsqueeze(1))
    out[jet, slot, :k_eff] = neighbours
    return out


def _rank(cand: Tensor, dist: Tensor, total: int) -> tuple[Tensor, Tensor]:
    """Sort each row's candidates by distance, ties to the lower index (flat indices follow slot order)."""
    key = torch.where(torch.isfinite(dist), cand, torch.full_like(cand, total))
    by_index = torch.sort(key, dim=1, stable=True).indices
    cand, dist = cand.gather(1, by_index), dist.gather(1, by_index)
    by_dist = torch.sort(dist, dim=1, stable=True).indices
    return cand.gather(1, by_dist), dist.gather(1, by_dist)
