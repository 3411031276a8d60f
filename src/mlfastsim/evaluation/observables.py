"""Physics observables of jet images, computed on plain arrays (any sample: ours, a peer's, a public file)."""

from __future__ import annotations

import numpy as np

from mlfastsim.physics.detector.geometry import CHANNEL_CELL_CRYSTALS, CHANNELS, pixel_centres
from mlfastsim.physics.kinematics import delta_r, jet_pt_mass_from_energy

__all__ = ["OBSERVABLE_CHANNELS", "OBSERVABLE_UNITS", "hit_energies", "image_observables", "radial_profile"]

#: Units (for axis labels and tables) of every observable :func:`image_observables` returns.
OBSERVABLE_UNITS = {
    **{f"e_{c}": "GeV" for c in CHANNELS},
    **{f"n_hits_{c}": "" for c in CHANNELS},
    **{f"jet_pt{s}": "GeV" for s in ("", "_all", *(f"_{c}" for c in CHANNELS))},
    **{f"jet_mass{s}": "GeV" for s in ("", "_all", *(f"_{c}" for c in CHANNELS))},
    **{f"width_{c}": "" for c in CHANNELS},
    **{f"leading_fraction_{c}": "" for c in CHANNELS},
}
#: Image channels each observable reads (0 tracks pT, 1 ECAL, 2 HCAL).
OBSERVABLE_CHANNELS: dict[str, tuple[int, ...]] = {
    **{f"{q}_{c}": (i,) for q in ("e", "n_hits", "jet_pt", "jet_mass", "width", "leading_fraction")
       for i, c in enumerate(CHANNELS)},
    "jet_pt": (1, 2),
    "jet_mass": (1, 2),
    "jet_pt_all": (0, 1, 2),
    "jet_mass_all": (0, 1, 2),
}  # fmt: skip


def _geometry(size: int) -> tuple[np.ndarray, np.ndarray]:
    deta, dphi = pixel_centres(size)
    return np.broadcast_to(deta[:, None], (size, size)), np.broadcast_to(dphi[None, :], (size, size))


def _cells(channel_image: np.ndarray, channel: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One channel ``[n, S, S]`` on its own cells (crystals; HCAL towers: 5 × 5 crystals summed):
    energies ``[n, G, G]`` and the cells' centres (Δη ``[G, 1]``, Δφ ``[1, G]``) from the image centre."""
    size = channel_image.shape[-1]
    deta, dphi = pixel_centres(size)
    k = CHANNEL_CELL_CRYSTALS[channel]
    grid = channel_image
    if k > 1 and size % k == 0:
        grid = channel_image.reshape(len(channel_image), size // k, k, size // k, k).sum(axis=(2, 4))
        deta, dphi = deta[k // 2 :: k], dphi[k // 2 :: k]  # tower I is centred on crystal kI + k // 2
    return grid, deta[:, None], dphi[None, :]


def image_observables(
    images: np.ndarray, jet_eta: np.ndarray | None = None, chunk: int = 256
) -> dict[str, np.ndarray]:
    """Per-jet observables of jet images, for every channel and combined.

    Args:
        images: float ``[N, 3, S, S]`` energies in GeV (channels tracks pT, ECAL, HCAL; rows along η).
        jet_eta: ``[N]`` jet-axis η, to turn pixel energies into transverse momenta; None or NaN entries
            use η = 0 (the jet mass does not depend on it only through the E → pT conversion).
        chunk: jets processed at a time (bounds memory; the results do not depend on it).

    Returns:
        ``{name: float64 [N]}``, for each channel ``<c>`` of ``tracks_pt``, ``ecal``, ``hcal``: the sum
        ``e_<c>`` (GeV; for tracks the pT sum) and hit count ``n_hits_<c>`` (pixels > 0; an HCAL tower
        fills 5 × 5 pixels); ``jet_pt_<c>``, ``jet_mass_<c>`` of the channel's pixels taken as massless
        particles at their cells' (η, φ) (GeV; tracks: a pixel's pT at its crystal, HCAL: each tower's energy
        at its centre; ``jet_pt_ecal``, ``jet_mass_ecal`` from the ECAL crystals); ``width_<c>``, the
        energy-weighted mean ΔR of the channel's cells (crystals; HCAL towers) from the image centre;
        ``leading_fraction_<c>``, the hottest cell's share of the channel's sum. Combined: ``jet_pt``,
        ``jet_mass`` from the ECAL + HCAL crystals (the HCAL as the image spreads it), and ``jet_pt_all``,
        ``jet_mass_all`` from every channel on its cells (a charged particle counts in its track and in its
        calorimeter deposits: a comparison observable, not a particle-flow jet mass).
    """
    images = np.asarray(images)
    n = len(images)
    eta0 = np.zeros(n) if jet_eta is None else np.nan_to_num(np.asarray(jet_eta, dtype=np.float64))
    parts = [
        _observables(images[a : a + chunk].astype(np.float64), eta0[a : a + chunk])
        for a in range(0, max(n, 1), max(int(chunk), 1))
    ]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _observables(images: np.ndarray, eta0: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`image_observables` of one chunk ``[n, 3, S, S]`` (float64) with jet η ``[n]``."""
    n, _, size, _ = images.shape
    eta_rel, phi_rel = _geometry(size)
    eta_abs = eta0[:, None, None] + eta_rel[None]
    out: dict[str, np.ndarray] = {}
    for c, name in enumerate(CHANNELS):
        out[f"e_{name}"] = images[:, c].sum(axis=(1, 2))
        out[f"n_hits_{name}"] = (images[:, c] > 0).sum(axis=(1, 2)).astype(np.float64)
    # the calorimeters on crystals, as before: ECAL + HCAL and ECAL alone
    for suffix, calo in (("", images[:, 1] + images[:, 2]), ("_ecal", images[:, 1])):
        out[f"jet_pt{suffix}"], out[f"jet_mass{suffix}"] = jet_pt_mass_from_energy(
            eta_abs, phi_rel, calo, axis=(1, 2)
        )
    total4 = np.zeros((4, n))  # (E, px, py, pz) of all channels on their cells
    for c, name in enumerate(CHANNELS):
        cells, deta, dphi = _cells(images[:, c], c)
        four = _four_momentum(cells, eta0, deta[:, 0], dphi[0], tracks=name == "tracks_pt")
        total4 += four
        if name != "ecal":
            out[f"jet_pt_{name}"], out[f"jet_mass_{name}"] = _pt_mass(four)
        total = cells.sum(axis=(1, 2))
        safe = np.where(total > 0, total, 1.0)
        out[f"width_{name}"] = (cells * delta_r(deta, dphi, 0.0, 0.0)).sum(axis=(1, 2)) / safe
        out[f"leading_fraction_{name}"] = cells.reshape(n, -1).max(axis=1) / safe
    out["jet_pt_all"], out["jet_mass_all"] = _pt_mass(total4)
    return out


def _four_momentum(
    cells: np.ndarray, eta0: np.ndarray, deta: np.ndarray, dphi: np.ndarray, tracks: bool
) -> np.ndarray:
    """Summed (E, px, py, pz) ``[4, n]`` (GeV) of massless particles, one per nonzero cell of ``cells [n, G, G]``
    at (η0 + Δη, Δφ); a cell holds the energy, or for ``tracks`` the pT. Sparse: only the hits are visited."""
    jet, i, j = np.nonzero(cells)
    value = cells[jet, i, j]
    eta, phi = eta0[jet] + deta[i], dphi[j]
    pt = value if tracks else value / np.cosh(eta)
    e = value * np.cosh(eta) if tracks else value
    n = len(cells)
    return np.stack(
        [
            np.bincount(jet, weights=w, minlength=n)
            for w in (e, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta))
        ]
    )


def _pt_mass(four: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pT, mass) ``[n]`` (GeV) of summed four-momenta ``[4, n]``."""
    e, px, py, pz = four
    return np.hypot(px, py), np.sqrt(np.clip(e**2 - px**2 - py**2 - pz**2, 0.0, None))


def radial_profile(images: np.ndarray, channel: int = 1, edges: np.ndarray | None = None) -> np.ndarray:
    """Mean fraction of a channel's energy in rings of ΔR around the image centre.

    Args:
        images: float ``[N, 3, S, S]`` in GeV.
        channel: 0 tracks pT, 1 ECAL, 2 HCAL.
        edges: ring edges in ΔR (default 0 to 0.8 in 16 rings).

    Returns:
        float64 ``[N, len(edges) - 1]``: per jet, the energy fraction in each ring.
    """
    images = np.asarray(images, dtype=np.float64)
    size = images.shape[-1]
    edges = np.linspace(0.0, 0.8, 17) if edges is None else np.asarray(edges, dtype=np.float64)
    eta_rel, phi_rel = _geometry(size)
    ring = np.digitize(delta_r(eta_rel, phi_rel, 0.0, 0.0).ravel(), edges) - 1
    inside = (ring >= 0) & (ring < len(edges) - 1)
    flat = images[:, channel].reshape(len(images), -1)[:, inside]
    onehot = np.eye(len(edges) - 1)[ring[inside]]  # [pixels, rings]
    sums = flat @ onehot
    totals = flat.sum(axis=1, keepdims=True)
    return sums / np.where(totals > 0, totals, 1.0)


def hit_energies(images: np.ndarray, channel: int = 1) -> np.ndarray:
    """All non-zero pixel energies of one channel, flattened over jets (GeV), for the hit-energy spectrum."""
    values = np.asarray(images)[:, channel].ravel()
    return values[values > 0].astype(np.float64)
