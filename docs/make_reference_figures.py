"""Regenerate the figures of docs/reference-simulation.md (PNG, matplotlib Agg); ≈ 10 s on one core.

Usage: ``python docs/make_reference_figures.py [--out docs/figures]``. Prints the numbers quoted on the page.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import curve_fit
from scipy.stats import norm, poisson

from mlfastsim.physics.detector import (
    DetectorConfig,
    em_shower_deposits,
    hadron_deposits,
    hadron_response,
    propagate_to_ecal,
    simulate_particles,
)
from mlfastsim.physics.detector import constants as K
from mlfastsim.physics.particles import empty_particles

QUIET = DetectorConfig(noise=False, zero_suppression=False)
RM = K.MOLIERE_RADIUS_CM / 100 / K.ECAL_RADIUS


def single(pdgid: int, energy: float, charge: float) -> np.ndarray:
    p = empty_particles(1)
    p[0] = (energy, 0.0, 0.0, energy, pdgid, charge, True, False)
    return p


def res(e: np.ndarray, s: float, c: float, n: float = 0.0) -> np.ndarray:
    return np.sqrt((s / np.sqrt(e)) ** 2 + c**2 + (n / e) ** 2)


def around_max(ecal: np.ndarray, half: int = 2) -> float:
    """Sum of the (2·half + 1)² crystals around the hottest one (GeV)."""
    i, j = np.unravel_index(ecal.argmax(), ecal.shape)
    return float(ecal[max(i - half, 0) : i + half + 1, max(j - half, 0) : j + half + 1].sum())


def em_response(out: Path, rng: np.random.Generator) -> None:
    energies = np.array([2.0, 5.0, 10.0, 20.0, 50.0, 100.0])
    rows = {"window, no noise": ([], []), "5×5 around max, noise + ZS": ([], [])}
    for e in energies:
        q = np.array(
            [simulate_particles(single(11, e, -1), 0, 0, rng, QUIET)[0][1].sum() for _ in range(500)]
        )
        n = np.array([around_max(simulate_particles(single(11, e, -1), 0, 0, rng)[0][1]) for _ in range(500)])
        for key, s in zip(rows, (q, n), strict=True):
            rows[key][0].append(s.mean() / e)
            rows[key][1].append(s.std() / s.mean())
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    grid = np.geomspace(1.5, 150, 100)
    for key, (mean, sig) in rows.items():
        p0 = (0.03, 0.003) if "no noise" in key else (0.03, 0.003, 0.1)
        fit, cov = curve_fit(res, energies, sig, p0=p0, sigma=np.asarray(sig) / np.sqrt(1000))
        s, c, noise = (*np.abs(fit), 0.0)[:3]
        err = np.sqrt(np.diag(cov))
        print(
            f"e- {key}: response {np.round(mean, 4)}; "
            f"fit S={s:.4f}±{err[0]:.4f} C={c:.4f}±{err[1]:.4f} N={noise:.3f}"
        )
        ax[0].plot(energies, mean, "o-", label=key)
        ax[1].plot(energies, sig, "o", label=f"{key}: fit S={s:.3f}, C={c:.4f}, N={noise:.2f} GeV")
        ax[1].plot(grid, res(grid, *fit), ":", color=ax[1].lines[-1].get_color())
    ax[1].plot(grid, res(grid, K.ECAL_STOCHASTIC, K.ECAL_CONSTANT), "k--", label="TB07: 2.8 %/√E ⊕ 0.3 %")
    ax[0].set(xscale="log", xlabel="E [GeV]", ylabel="⟨E_ECAL⟩ / E", title="Electron response, η = 0")
    ax[1].set(xscale="log", yscale="log", xlabel="E [GeV]", ylabel="σ/E", title="Electron resolution")
    for a in ax:
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "em_response.png", dpi=110)


def em_lateral(out: Path, rng: np.random.Generator) -> None:
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    r_grid = np.linspace(0, 5, 101)
    for e in (1.0, 10.0, 100.0):
        deta, dphi, w, _ = em_shower_deposits(np.full(300, e), rng)
        r = np.hypot(deta, dphi) / RM
        cont = [w[r < x].sum() / w.sum() for x in r_grid]
        print(
            f"γ/e {e:g} GeV: containment 1 R_M {np.interp(1, r_grid, cont):.3f}, "
            f"3.5 R_M {np.interp(3.5, r_grid, cont):.3f}"
        )
        ax[0].plot(r_grid, cont, label=f"{e:g} GeV")
    ax[0].plot([1, 3.5], [0.90, 0.99], "ks", label="PDG34: 90 % / 99 %")
    ax[0].set(xlabel="r / R_M", ylabel="contained fraction", title="EM lateral containment (GFlash spots)")
    ax[0].legend()
    img = simulate_particles(single(11, 50.0, -1), 0, 0, rng)[0][1, 52:73, 52:73]
    shown = ax[1].imshow(np.where(img > 0, img, np.nan), norm=matplotlib.colors.LogNorm(), origin="lower")
    ax[1].set(title="50 GeV e⁻ (noise + ZS), 21×21 crystals", xlabel="φ crystal", ylabel="η crystal")
    fig.colorbar(shown, ax=ax[1], label="GeV")
    fig.tight_layout()
    fig.savefig(out / "em_lateral.png", dpi=110)


def pions(out: Path, rng: np.random.Generator) -> None:
    e_ecal, e_hcal, starts = hadron_deposits(np.full(20000, 20.0), np.ones(20000, bool), rng)
    print(f"π± 20 GeV: ECAL-start fraction {starts.mean():.4f} (1 − e^-1.1 = {1 - np.exp(-1.1):.4f})")
    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    ax[0].hist(
        [e_ecal[starts], e_ecal[~starts]],
        bins=60,
        range=(0, 20),
        stacked=True,
        label=["start in ECAL", "MIP"],
    )
    ax[0].set(
        yscale="log", xlabel="E_ECAL [GeV]", title=f"20 GeV π±: ECAL-start fraction {starts.mean():.3f}"
    )
    ax[0].legend()
    ax[1].hist2d(
        e_ecal, e_hcal, bins=60, range=((0, 25), (0, 25)), cmap="viridis", norm=matplotlib.colors.LogNorm()
    )
    ax[1].set(xlabel="E_ECAL [GeV]", ylabel="E_HCAL [GeV]", title="ECAL / HCAL split, 20 GeV π±")
    energies = np.array([2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 300.0])
    mean = []
    for e in energies:
        sums = [simulate_particles(single(211, e, 1), 0, 0, rng, QUIET)[0][1:].sum() for _ in range(300)]
        mean.append(np.mean(sums) / e)
    grid = np.geomspace(1.5, 400, 100)
    ax[2].plot(energies, mean, "o", label="simulated ECAL + HCAL (window)")
    ax[2].plot(grid, hadron_response(grid) / grid, "k--", label="FS-HR old: 0.95/(1 + 3/E)")
    tab_e, tab_r = (
        [1, 2, 5, 9, 20, 50, 100, 300, 1000],
        [0.50, 0.79, 0.76, 0.81, 0.87, 0.91, 0.92, 0.93, 0.93],
    )
    ax[2].plot(tab_e, tab_r, "s", mfc="none", label="FS-HR full-sim table (not used)")
    ax[2].set(xscale="log", xlabel="E [GeV]", ylabel="⟨E_calo⟩ / E", title="π± calorimeter response, η = 0")
    ax[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "pions.png", dpi=110)


def tracks_and_noise(out: Path, rng: np.random.Generator) -> None:
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    pt = np.geomspace(0.5, 100, 200)
    for q in (-1.0, 1.0):
        _, phi, reach = propagate_to_ecal(pt, np.zeros_like(pt), np.zeros_like(pt), np.full_like(pt, q))
        ax[0].plot(pt[reach], phi[reach], label=f"q = {q:+g} (propagated)")
        ok = pt > 0.735
        ax[0].plot(pt[ok][::15], -q * np.arcsin(0.2998 * 3.8 * 1.29 / (2 * pt[ok][::15])), "k.")
    ax[0].axvline(0.735, color="grey", ls=":", label="pT_min = 0.735 GeV")
    ax[0].set(
        xscale="log", xlabel="pT [GeV]", ylabel="φ_impact − φ0 [rad]", title="Helix bending to R = 1.29 m"
    )
    ax[0].legend(fontsize=8)
    hits = [(simulate_particles(empty_particles(0), 0, 0, rng)[0][1] > 0).sum() for _ in range(1000)]
    mu = 125**2 * norm.sf(K.ECAL_THRESHOLD / K.ECAL_NOISE)
    print(f"noise-only: mean ECAL hits {np.mean(hits):.2f} (Gaussian tail expects {mu:.2f})")
    k = np.arange(0, 45)
    ax[1].hist(hits, bins=k - 0.5, density=True, label=f"simulated, mean {np.mean(hits):.1f}")
    ax[1].plot(k, poisson.pmf(k, mu), "k.-", label=f"Poisson({mu:.1f}) expectation")
    ax[1].set(xlabel="ECAL hits > 0.111 GeV per image", title="Noise-only images")
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "tracks_noise.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "figures")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2024)
    for make in (em_response, em_lateral, pions, tracks_and_noise):
        make(args.out, rng)


if __name__ == "__main__":
    main()
