"""Representations of calorimeter data: jet image ↔ hit cloud ↔ kNN graph, vectorised over batches."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from mlfastsim.data.schemas import HitCloud
from mlfastsim.physics import torch_kinematics
from mlfastsim.physics.detector.geometry import (
    CHANNEL_CELL_CRYSTALS,
    CHANNELS,
    CRYSTAL_DETA,
    CRYSTAL_DPHI,
    IMAGE_SIZE,
    crystals_to_towers,
    pixel_centres,
    towers_to_crystals,
)
from mlfastsim.physics.detector.tracker import propagate_to_ecal
from mlfastsim.physics.kinematics import delta_phi

__all__ = [
    "GEN_FEATURE_NAMES",
    "channel_cells",
    "cloud_to_image",
    "gen_particles_to_padded",
    "image_to_cloud",
    "knn_graph",
]


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


def channel_cells(channels: tuple[int, ...]) -> tuple[int, ...]:
    """Cell side in crystals of each channel of ``channels`` (1: crystals, 5: HCAL towers)."""
    return tuple(CHANNEL_CELL_CRYSTALS[c] for c in channels)


def _cell_grid(images: np.ndarray, channel: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One channel of ``images [N, 3, S, S]`` on its own cells: energies ``[N, G·G]`` (float32) and the cell
    centres' (Δη, Δφ) ``[G·G]``; a tower's energy is the sum of its crystals, its centre the middle crystal's."""
    size = images.shape[-1]
    deta, dphi = pixel_centres(size)
    k = CHANNEL_CELL_CRYSTALS[channel]
    if k == 1:
        grid = images[:, channel].astype(np.float32)
    else:
        if size % k:
            raise ValueError(f"images of {size} x {size} crystals cannot hold {k} x {k}-crystal HCAL towers")
        grid = crystals_to_towers(images[:, channel]).astype(np.float32)
        deta, dphi = deta[k // 2 :: k], dphi[k // 2 :: k]  # tower I is centred on crystal kI + k // 2
    g = len(deta)
    return grid.reshape(len(images), g * g), np.repeat(deta, g), np.tile(dphi, g)


def _top(energy: np.ndarray, keep: int) -> np.ndarray:
    """Indices ``[N, keep]`` of the ``keep`` largest entries of each row of ``energy [N, P]``, decreasing."""
    width = energy.shape[1]
    keep = min(keep, width)
    top = (
        np.argpartition(-energy, keep - 1, axis=1)[:, :keep]
        if keep < width
        else np.tile(np.arange(width), (len(energy), 1))
    )
    order = np.argsort(-np.take_along_axis(energy, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def image_to_cloud(
    images: np.ndarray,
    n_max: int = 400,
    channels: tuple[int, ...] = (1,),
    chunk: int = 512,
    budget: tuple[int, ...] | None = None,
) -> HitCloud:
    """The most energetic hits of each jet image as a padded hit cloud, every channel on its own cells.

    Tracks and ECAL give one hit per nonzero crystal at the crystal's centre (a track is stored as its pT in
    the crystal of its ECAL impact point, so a cloud built from images places it to the crystal, no
    better); the HCAL gives one hit per nonzero tower (5 × 5 crystals) at the tower's centre carrying the
    tower's energy (the sum of its crystals; the image spreads it evenly over them).

    Args:
        images: float ``[N, 3, S, S]`` energies in GeV (channels tracks pT, ECAL, HCAL; rows along η).
        n_max: hit slots per jet; jets with fewer hits are zero-padded.
        channels: image channels turned into hits (0 tracks, 1 ECAL, 2 HCAL). With more than one,
            a fourth feature ``channel`` holds the channel's position in ``channels`` (0, 1, ...).
        chunk: jets processed at a time (bounds memory).
        budget: hits kept per channel of ``channels`` (the most energetic of each), summing to at most
            ``n_max``, so that one channel cannot starve another. ``None``: the ``n_max`` most energetic hits
            of all channels together.

    Returns:
        :class:`HitCloud` with features (η_rel, φ_rel, E[, channel]) in (units of η, rad, GeV) at the
        cell centres, sorted by decreasing E, and the mask of real hits (E > 0).
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be [N, C, S, S], got {list(images.shape)}")
    channels = tuple(int(c) for c in channels)
    if budget is not None and (len(budget) != len(channels) or sum(budget) > n_max or min(budget) < 0):
        raise ValueError(
            f"budget={list(budget)} must give one count >= 0 per channel of {list(channels)}, "
            f"summing to at most n_max={n_max}"
        )
    n = len(images)
    names = _channel_feature_names(channels)
    features = np.zeros((n, n_max, len(names)), dtype=np.float32)
    mask = np.zeros((n, n_max), dtype=bool)
    for start in range(0, n, chunk):
        grids = [_cell_grid(images[start : start + chunk], c) for c in channels]
        flat = np.concatenate([g[0] for g in grids], axis=1)
        eta = np.concatenate([g[1] for g in grids])
        phi = np.concatenate([g[2] for g in grids])
        slot = np.concatenate([np.full(len(g[1]), i) for i, g in enumerate(grids)])
        if budget is None:
            top = _top(flat, n_max)
        else:
            bounds = np.cumsum([0] + [len(g[1]) for g in grids])
            parts = [
                _top(flat[:, a:b], k) + a for a, b, k in zip(bounds[:-1], bounds[1:], budget, strict=True)
            ]
            top = np.concatenate(parts, axis=1)
            top = np.take_along_axis(top, _top(np.take_along_axis(flat, top, axis=1), top.shape[1]), axis=1)
        keep = top.shape[1]
        e = np.take_along_axis(flat, top, axis=1)
        real = e > 0
        block = features[start : start + len(flat), :keep]
        block[..., 0] = eta[top]
        block[..., 1] = phi[top]
        block[..., 2] = e
        if len(channels) > 1:
            block[..., 3] = slot[top]
        block *= real[..., None]
        mask[start : start + len(flat), :keep] = real
    return HitCloud(features, mask, names)


def cloud_to_image(cloud: HitCloud, channels: tuple[int, ...] = (1,), size: int = IMAGE_SIZE) -> np.ndarray:
    """Paint a hit cloud back into jet images (the inverse of :func:`image_to_cloud` for the hits kept).

    Each real hit adds its energy to the cell of its channel (the ``channel`` feature, rounded; the only
    channel when there is none) containing (η_rel, φ_rel): a crystal for tracks and ECAL, an HCAL tower,
    whose energy is spread evenly over its 5 × 5 crystals as the detector stores it. Hits outside the
    window and negative energies are dropped.

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
    for c in set(channels):
        k = CHANNEL_CELL_CRYSTALS[c]
        sel = ok & (ch == c)
        if k == 1:
            np.add.at(images, (jet[sel], c, row[sel], col[sel]), e[sel])
            continue
        if size % k:
            raise ValueError(f"images of {size} x {size} crystals cannot hold {k} x {k}-crystal HCAL towers")
        towers = np.zeros((n, size // k, size // k), dtype=np.float64)
        np.add.at(towers, (jet[sel], row[sel] // k, col[sel] // k), e[sel])
        images[:, c] = towers_to_crystals(towers)
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
