"""Representations of calorimeter data: jet image ↔ hit cloud ↔ kNN graph, vectorised over batches."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from mlfastsim.data.schemas import HitCloud
from mlfastsim.physics import torch_kinematics
from mlfastsim.physics.detector.geometry import (
    CHANNELS,
    CRYSTAL_DETA,
    CRYSTAL_DPHI,
    IMAGE_SIZE,
    pixel_centres,
)
from mlfastsim.physics.detector.tracker import propagate_to_ecal
from mlfastsim.physics.kinematics import delta_phi

__all__ = ["GEN_FEATURE_NAMES", "cloud_to_image", "gen_particles_to_padded", "image_to_cloud", "knn_graph"]


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
        dphi = torch_kinematics.wrap_phi(diff[..., 1])
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


def _channel_feature_names(channels: tuple[int, ...]) -> tuple[str, ...]:
    return ("eta_rel", "phi_rel", "e") + (("channel",) if len(channels) > 1 else ())


def image_to_cloud(
    images: np.ndarray, n_max: int = 400, channels: tuple[int, ...] = (1,), chunk: int = 512
) -> HitCloud:
    """The ``n_max`` most energetic hits of each jet image as a padded hit cloud.

    Args:
        images: float ``[N, 3, S, S]`` energies in GeV (channels tracks pT, ECAL, HCAL; rows along η).
        n_max: hits kept per jet, highest energy first; jets with fewer hits are zero-padded.
        channels: image channels turned into hits (0 tracks, 1 ECAL, 2 HCAL). With more than one,
            a fourth feature ``channel`` holds the channel's position in ``channels`` (0, 1, ...).
        chunk: jets processed at a time (bounds memory).

    Returns:
        :class:`HitCloud` with features (η_rel, φ_rel, E[, channel]) in (units of η, rad, GeV) at the
        pixel centres, sorted by decreasing E, and the mask of real hits (E > 0).
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be [N, C, S, S], got {list(images.shape)}")
    channels = tuple(int(c) for c in channels)
    n, _, size, _ = images.shape
    deta, dphi = pixel_centres(size)
    n_ch = len(channels)
    per_jet = n_ch * size * size
    keep = min(n_max, per_jet)
    names = _channel_feature_names(channels)
    features = np.zeros((n, n_max, len(names)), dtype=np.float32)
    mask = np.zeros((n, n_max), dtype=bool)
    for start in range(0, n, chunk):
        flat = images[start : start + chunk][:, list(channels)].reshape(-1, per_jet).astype(np.float32)
        top = (
            np.argpartition(-flat, keep - 1, axis=1)[:, :keep]
            if keep < per_jet
            else np.tile(np.arange(per_jet), (len(flat), 1))
        )
        e = np.take_along_axis(flat, top, axis=1)
        order = np.argsort(-e, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        e = np.take_along_axis(e, order, axis=1)
        ch, pix = np.divmod(top, size * size)
        row, col = np.divmod(pix, size)
        real = e > 0
        block = features[start : start + len(flat), :keep]
        block[..., 0] = deta[row]
        block[..., 1] = dphi[col]
        block[..., 2] = e
        if n_ch > 1:
            block[..., 3] = ch
        block *= real[..., None]
        mask[start : start + len(flat), :keep] = real
    return HitCloud(features, mask, names)


def cloud_to_image(cloud: HitCloud, channels: tuple[int, ...] = (1,), size: int = IMAGE_SIZE) -> np.ndarray:
    """Paint a hit cloud back into jet images (the inverse of :func:`image_to_cloud` for the hits kept).

    Each real hit adds its energy to the pixel containing (η_rel, φ_rel) of the channel named by its
    ``channel`` feature (rounded; the only channel when there is none). Hits outside the window and
    negative energies are dropped.

    Returns:
        float32 ``[N, 3, size, size]`` images in GeV; channels not in ``channels`` are zero.
    """
    feats, mask = cloud.features, cloud.mask
    n = len(feats)
    images = np.zeros((n, len(CHANNELS), size, size), dtype=np.float32)
    half = size // 2
    row = np.rint(feats[..., 0] / CRYSTAL_DETA).astype(np.int64) + half
    col = np.rint(feats[..., 1] / CRYSTAL_DPHI).astype(np.int64) + half
    if len(channels) > 1 and feats.shape[-1] > 3:
        slot = np.clip(np.rint(feats[..., 3]).astype(np.int64), 0, len(channels) - 1)
        ch = np.asarray(channels, dtype=np.int64)[slot]
    else:
        ch = np.full(row.shape, channels[0], dtype=np.int64)
    e = feats[..., 2]
    ok = mask & (row >= 0) & (row < size) & (col >= 0) & (col < size) & (e > 0)
    jet = np.broadcast_to(np.arange(n)[:, None], row.shape)
    np.add.at(images, (jet[ok], ch[ok], row[ok], col[ok]), e[ok])
    return images


#: Generator-level particle features produced by :func:`gen_particles_to_padded`.
GEN_FEATURE_NAMES = (
    "eta_rel",
    "phi_rel",
    "log_pt",
    "charge",
    "is_em",
    "log_e",
    "eta_ecal_rel",
    "phi_ecal_rel",
    "reaches_ecal",
)


def gen_particles_to_padded(
    gen: list[np.ndarray], jet_eta: np.ndarray, jet_phi: np.ndarray, m_max: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Generator-level particles of each jet as padded features relative to the jet axis.

    Args:
        gen: N structured arrays of :data:`~mlfastsim.physics.particles.PARTICLE_DTYPE`.
        jet_eta, jet_phi: ``[N]`` jet axis (NaN: the particles' pT-weighted centroid is used).
        m_max: particles kept per jet, highest pT first.

    Returns:
        features float32 ``[N, m_max, 9]`` = :data:`GEN_FEATURE_NAMES`: η_rel, φ_rel wrapped to (−π, π],
        log(pT / GeV), charge, is_em (photon or electron), log(E / GeV) with E = pT cosh η (what a
        calorimeter measures), the impact point on the ECAL face relative to the jet axis (charged
        particles bend in the solenoid field: :func:`~mlfastsim.physics.detector.tracker.propagate_to_ecal`)
        and whether the particle reaches the ECAL (1/0); and mask bool ``[N, m_max]``.
    """
    n = len(gen)
    feats = np.zeros((n, m_max, len(GEN_FEATURE_NAMES)), dtype=np.float32)
    mask = np.zeros((n, m_max), dtype=bool)
    for i, parts in enumerate(gen):
        if len(parts) == 0:
            continue
        p = parts[np.argsort(-parts["pt"], kind="stable")[:m_max]]
        pt = np.maximum(p["pt"].astype(np.float64), 1e-6)
        eta0, phi0 = float(jet_eta[i]), float(jet_phi[i])
        if not np.isfinite(eta0) or not np.isfinite(phi0):
            eta0 = float(np.average(p["eta"], weights=pt))
            phi0 = float(np.angle(np.average(np.exp(1j * p["phi"]), weights=pt)))
        k = len(p)
        feats[i, :k, 0] = p["eta"] - eta0
        feats[i, :k, 1] = delta_phi(p["phi"], phi0)
        feats[i, :k, 2] = np.log(pt)
        feats[i, :k, 3] = p["charge"]
        feats[i, :k, 4] = np.isin(np.abs(p["pdgid"]), (11, 22))
        feats[i, :k, 5] = np.log(pt * np.cosh(p["eta"].astype(np.float64)))
        eta_ecal, phi_ecal, reaches = propagate_to_ecal(pt, p["eta"], p["phi"], p["charge"])
        feats[i, :k, 6] = eta_ecal - eta0
        feats[i, :k, 7] = delta_phi(phi_ecal, phi0)
        feats[i, :k, 8] = reaches
        mask[i, :k] = True
    return feats, mask
