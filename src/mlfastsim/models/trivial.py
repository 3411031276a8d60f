"""``mean-hit``: the trivial reconstruction baseline — every hit of a jet moved to the jet's centroid.

What it does, exactly: for each jet (and, with a ``channel`` feature, for each channel of the jet
separately) it keeps the jet's hit count and mask and replaces every real hit by the same hit, placed at
the energy-weighted mean (Δη, Δφ) of the jet's hits and carrying the jet's mean hit energy (total energy /
number of hits). Painted back into an image, the jet becomes one cell holding its whole energy at its
centroid: the hit count, the total energy and the centroid are exact, all structure is lost.

A reconstructing model that has learned anything must beat it on every reconstruction metric (issue 12:
``gvae-paper`` at regulariser weights 1.0 did not). It has no parameters and is "trained" by
``mlfastsim train mean-hit`` like the library (nothing is fitted; the run stores the codec), reconstructs
with ``mlfastsim sample --reconstruct FILE``, and its anomaly score is the masked MSE of that
reconstruction in normalised units (like ``gvae-paper``'s).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mlfastsim.models.base import Batch

__all__ = ["MeanHit", "MeanHitConfig"]


@dataclass(frozen=True)
class MeanHitConfig:
    """Set from the data (the codec): hit slots, features, channels and the log-energy normalisation
    ``energy_norm = (mean, std)`` of the normalised feature 2 (``(log E − mean) / std``, E in GeV)."""

    n_max: int = 400
    n_features: int = 3
    n_channels: int = 1
    energy_norm: tuple[float, float] = (0.0, 1.0)

    def batch_keys(self) -> frozenset[str]:
        """Hits only."""
        return frozenset(("features", "mask"))


class MeanHit(nn.Module):
    """Every hit at the jet's (channel's) energy-weighted centroid with the mean hit energy."""

    def __init__(self, config: MeanHitConfig) -> None:
        super().__init__()
        self.config = config

    def fit_data(self, data: Mapping[str, Tensor]) -> None:
        """Nothing to fit (the run stores only the codec)."""

    def reconstruct(self, batch: Batch) -> Batch:
        """``features [B, n, F]`` normalised (η, φ linear; feature 2 normalised log E; feature 3 the channel
        index when F > 3) → the same shape: real hits replaced as the module docstring says, padding 0."""
        x, mask = batch["features"], batch["mask"]
        mean, std = self.config.energy_norm
        energy = torch.exp(x[..., 2] * std + mean) * mask  # GeV
        groups = x[..., 3].round().long() if x.shape[-1] > 3 else torch.zeros_like(mask, dtype=torch.long)
        out = torch.zeros_like(x)
        for c in range(max(self.config.n_channels, 1) if x.shape[-1] > 3 else 1):
            sel = mask & (groups == c)
            w = energy * sel
            total = w.sum(1, keepdim=True)  # [B, 1]
            count = sel.sum(1, keepdim=True).clamp_min(1)
            centre = (w.unsqueeze(-1) * x[..., :2]).sum(1, keepdim=True) / total.clamp_min(1e-30)[..., None]
            log_e = ((torch.log((total / count).clamp_min(1e-30)) - mean) / std)[..., None]  # [B, 1, 1]
            hit = torch.cat([centre, log_e], -1).expand(-1, x.shape[1], -1)
            out[..., :3] = torch.where(sel.unsqueeze(-1), hit, out[..., :3])
        if x.shape[-1] > 3:
            out[..., 3:] = x[..., 3:]
        return {"features": out * mask.unsqueeze(-1).to(x.dtype), "mask": mask}

    def score(self, batch: Batch) -> Tensor:
        """Masked MSE of the reconstruction per jet ``[B]`` (normalised units)."""
        m = batch["mask"].to(batch["features"].dtype)
        se = ((self.reconstruct(batch)["features"] - batch["features"]) ** 2).sum(-1) * m
        return se.sum(1) / (m.sum(1).clamp_min(1.0) * batch["features"].shape[-1])
