"""Physics observables of jet images, computed on plain arrays (any sample: ours, a peer's, a public file)."""

from __future__ import annotations

import numpy as np

from mlfastsim.physics.detector.geometry import CHANNELS, pixel_centres
from mlfastsim.physics.kinematics import delta_r, jet_pt_mass_from_energy

__all__ = ["OBSERVABLE_UNITS", "hit_energies", "image_observables", "radial_profile"]

#: Units (for axis labels and tables) of every observable :func:`image_observables` returns.
OBSERVABLE_UNITS = {
    "e_tracks_pt": "GeV",
    "e_ecal": "GeV",
    "e_hcal": "GeV",
    "n_hits_tracks_pt": "",
    "n_hits_ecal": "",
    "n_hits_hcal": "",
    "jet_pt": "GeV",
    "jet_mass": "GeV",
    "jet_pt_ecal": "GeV",
    "jet_mass_ecal": "GeV",
    "width_ecal": "",
    "leading_fraction_ecal": "",
}


def _geometry(size: int) -> tuple[np.ndarray, np.ndarray]:
    deta, dphi = pixel_centres(size)
    return np.broadcast_to(deta[:, None], (size, size)), np.broadcast_to(dphi[None, :], (size, size))


def image_observables(images: np.ndarray, jet_eta: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-jet observables of jet images.

    Args:
        images: float ``[N, 3, S, S]`` energies in GeV (channels tracks pT, ECAL, HCAL; rows along η).
        jet_eta: ``[N]`` jet-axis η, to turn pixel energies into transverse momenta; None or NaN entries
            use η = 0 (the jet mass does not depend on it only through the E → pT conversion).

    Returns:
        ``{name: float64 [N]}``: per-channel energy sums ``e_<channel>`` and hit counts
        ``n_hits_<channel>`` (pixels > 0); ``jet_pt`` and ``jet_mass`` from ECAL + HCAL pixels taken as
        massless particles at their (η, φ) (GeV), and ``jet_pt_ecal``, ``jet_mass_ecal`` from ECAL alone;
        ``width_ecal``, the energy-weighted mean ΔR of ECAL hits
        from the image centre; ``leading_fraction_ecal``, the hottest ECAL pixel's share of the ECAL sum.
    """
    images = np.asarray(images, dtype=np.float64)
    n, _, size, _ = images.shape
    eta_rel, phi_rel = _geometry(size)
    out: dict[str, np.ndarray] = {}
    for c, name in enumerate(CHANNELS):
        out[f"e_{name}"] = images[:, c].sum(axis=(1, 2))
        out[f"n_hits_{name}"] = (images[:, c] > 0).sum(axis=(1, 2)).astype(np.float64)
    eta0 = np.zeros(n) if jet_eta is None else np.nan_to_num(np.asarray(jet_eta, dtype=np.float64))
    eta_abs = eta0[:, None, None] + eta_rel[None]
    for suffix, calo in (("", images[:, 1] + images[:, 2]), ("_ecal", images[:, 1])):
        pt_mass = jet_pt_mass_from_energy(eta_abs, phi_rel, calo, axis=(1, 2))
        out[f"jet_pt{suffix}"], out[f"jet_mass{suffix}"] = pt_mass
    ecal = images[:, 1]
    total = np.where(out["e_ecal"] > 0, out["e_ecal"], 1.0)
    dr = delta_r(eta_rel, phi_rel, 0.0, 0.0)
    out["width_ecal"] = (ecal * dr).sum(axis=(1, 2)) / total
    out["leading_fraction_ecal"] = ecal.reshape(n, -1).max(axis=1) / total
    return out


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
