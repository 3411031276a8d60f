"""Representations of calorimeter data: jet image ↔ hit cloud ↔ kNN graph, vectorised over batches."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["knn_graph"]


def knn_graph(positions: Tensor, mask: Tensor, k: int = 4, periodic_phi: bool = False) -> Tensor:
    """k nearest neighbours of every hit within its own jet, never across padding.

    Args:
        positions: float ``[B, n, 2]`` hit coordinates (η_rel, φ_rel) — any units as long as both
            axes share them; with ``periodic_phi`` the φ axis must be in rad.
        mask: bool ``[B, n]``, True for real hits.
        k: neighbours per hit (self excluded).
        periodic_phi: measure Δφ wrapped into (−π, π].

    Returns:
        int64 ``[B, n, k]`` neighbour indices. For a real hit with fewer than ``k`` real neighbours,
        and for every padded slot, the missing entries point to the hit itself (a self-loop), so
        gathering along them never reads padding.
    """
    b, n, _ = positions.shape
    k_eff = min(k, max(n - 1, 0))
    diff = positions.unsqueeze(2) - positions.unsqueeze(1)  # [B, n, n, 2]
    if periodic_phi:
        dphi = torch.remainder(diff[..., 1] + torch.pi, 2 * torch.pi) - torch.pi
        diff = torch.stack([diff[..., 0], dphi], dim=-1)
    dist = (diff * diff).sum(-1)
    eye = torch.eye(n, dtype=torch.bool, device=positions.device)
    valid = mask.unsqueeze(1) & mask.unsqueeze(2) & ~eye
    dist = dist.masked_fill(~valid, float("inf"))
    self_index = torch.arange(n, device=positions.device).view(1, n, 1).expand(b, n, k)
    if k_eff == 0:
        return self_index.clone()
    d, idx = torch.topk(dist, k_eff, dim=-1, largest=False)
    idx = torch.where(torch.isfinite(d), idx, self_index[..., :k_eff])
    if k_eff < k:
        idx = torch.cat([idx, self_index[..., k_eff:]], dim=-1)
    return idx
