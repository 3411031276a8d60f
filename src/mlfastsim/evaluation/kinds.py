"""Observables of the other data kinds a fast simulation produces: particle jets, calorimeter showers and
particle-identification (PID) tables — plain functions on arrays, like :mod:`.observables` for jet images."""

from __future__ import annotations

import numpy as np

from mlfastsim.metrics.binned import efficiency_ratio
from mlfastsim.physics.kinematics import delta_r, jet_pt_mass

__all__ = ["particle_jet_observables", "pid_efficiency_table", "shower_observables"]


def particle_jet_observables(features: np.ndarray, mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-jet observables of jets given as constituent lists (e.g. JetNet, seed 003).

    Args:
        features: float ``[N, n, ≥3]`` constituents (η_rel, φ_rel, pT) in (units of η, rad, GeV),
            relative to the jet axis; extra features are ignored.
        mask: bool ``[N, n]`` real constituents (default: pT > 0).

    Returns:
        ``{name: float64 [N]}``: ``jet_pt``, ``jet_mass`` (GeV; massless constituents, axis at η = 0),
        ``n_constituents``, ``leading_pt_fraction`` and the pT-weighted ``width`` (mean ΔR from the axis).
    """
    f = np.asarray(features, dtype=np.float64)
    m = f[..., 2] > 0 if mask is None else np.asarray(mask, dtype=bool)
    eta, phi, pt = f[..., 0], f[..., 1], np.where(m, f[..., 2], 0.0)
    jet_pt, jet_mass = jet_pt_mass(eta, phi, pt)
    total = pt.sum(1)
    safe = np.where(total > 0, total, 1.0)
    return {
        "jet_pt": jet_pt,
        "jet_mass": jet_mass,
        "n_constituents": m.sum(1).astype(np.float64),
        "leading_pt_fraction": pt.max(1) / safe,
        "width": (pt * delta_r(eta, phi, 0.0, 0.0)).sum(1) / safe,
    }


def shower_observables(
    images: np.ndarray, cell_size: tuple[float, float] = (1.0, 1.0)
) -> dict[str, np.ndarray]:
    """Per-shower observables of calorimeter shower images (e.g. seed 004's 30 × 30 LHCb ECAL showers).

    Args:
        images: float ``[N, H, W]`` cell energies (GeV); rows along y, columns along x.
        cell_size: (x, y) cell pitch; positions and widths come out in its unit (e.g. mm), relative to the
            image centre.

    Returns:
        ``{name: float64 [N]}``: ``energy``; energy-weighted ``centroid_x``, ``centroid_y``; ``width_x``,
        ``width_y`` (energy-weighted standard deviations); ``asymmetry_x``, ``asymmetry_y`` ((E₊ − E₋)/(E₊ + E₋)
        of the halves on either side of the centroid, the physics metric seed 004 enforces); and
        ``max_cell_fraction``.
    """
    img = np.asarray(images, dtype=np.float64)
    n, h, w = img.shape
    x = (np.arange(w) - (w - 1) / 2) * cell_size[0]
    y = (np.arange(h) - (h - 1) / 2) * cell_size[1]
    energy = img.sum((1, 2))
    safe = np.where(energy > 0, energy, 1.0)
    ex, ey = img.sum(1), img.sum(2)  # [N, W], [N, H] projections
    cx, cy = ex @ x / safe, ey @ y / safe
    wx = np.sqrt(np.clip(ex @ x**2 / safe - cx**2, 0.0, None))
    wy = np.sqrt(np.clip(ey @ y**2 / safe - cy**2, 0.0, None))

    def asymmetry(proj: np.ndarray, pos: np.ndarray, centre: np.ndarray) -> np.ndarray:
        plus = (proj * (pos[None] > centre[:, None])).sum(1)
        minus = (proj * (pos[None] < centre[:, None])).sum(1)
        return (plus - minus) / np.where(plus + minus > 0, plus + minus, 1.0)

    return {
        "energy": energy,
        "centroid_x": cx,
        "centroid_y": cy,
        "width_x": wx,
        "width_y": wy,
        "asymmetry_x": asymmetry(ex, x, cx),
        "asymmetry_y": asymmetry(ey, y, cy),
        "max_cell_fraction": img.reshape(n, -1).max(1) / safe,
    }


def pid_efficiency_table(
    dll_ref: np.ndarray,
    dll_gen: np.ndarray,
    inputs: np.ndarray,
    bin_edges: np.ndarray,
    quantiles: tuple[float, ...] = (0.25, 0.5, 0.75),
) -> dict[str, dict[str, np.ndarray]]:
    """Seed 004's PID validation: efficiency ratios of DLL cuts in bins of a kinematic input.

    Args:
        dll_ref: ``[N]`` reference DLL values (e.g. full-simulation RICH DLL(K − π)).
        dll_gen: ``[N]`` generated DLL values for the same tracks (a conditional generator run on the
            same inputs).
        inputs: ``[N]`` the binning variable of each track (momentum, η, nTracks, ...).
        bin_edges: ``[B + 1]`` its bin edges.
        quantiles: cuts at these quantiles of the reference DLL.

    Returns:
        ``{"q<quantile>": efficiency_ratio(...)}``, one table per cut (arrays ``[B]``: efficiencies, ratio
        generated / reference and their binomial errors).
    """
    ref = np.asarray(dll_ref, dtype=np.float64)
    return {
        f"q{q:g}": efficiency_ratio(ref, dll_gen, float(np.quantile(ref, q)), inputs, bin_edges)
        for q in quantiles
    }
