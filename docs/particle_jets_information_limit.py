"""How far a detector-mode model that sees only the P leading generator-level constituents can come to the
resimulation floor of the per-jet EMD (README "Particle-cloud jets", detector mode).

The resimulation floor runs the reference detector again on the whole generator-level region around the jet;
a model is given the jet's P leading constituents only. What those do not fix is the share of the reco jet's
pT that its P leading constituents carry (soft and out-of-jet particles reach the reco jet). This script
replaces that share in the resimulated jets — a perfect detector otherwise — by a draw that knows only the P
generator-level constituents (a gradient-boosted regression on them and the gen jet's pT and mass, fitted on
half the training jets, plus a residual of the other half drawn at random) and reports the median per-jet
EMD of both to the reference, and, for each ``--candidate``, the EMD's two parts: the median |ΔΣ pT| of the
constituents and the EMD with the constituents' pT sums equalised. ``--region K`` adds the limit of a model
also given the region's K leading particles with their type (``data.gen_input = region``).

    python docs/particle_jets_information_limit.py --train train.h5 --reference reference.h5 \\
        --resim reference_resim.h5 [--candidate samples.h5 ...] [--region 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from mlfastsim.data.kinds.particle_jets import ParticleJets, ParticleJetsKind
from mlfastsim.data.kinds.particle_jets.region import region_particles
from mlfastsim.evaluation.suites.particle_jets import _energies
from mlfastsim.metrics import emd_pairwise

R = 0.8  # the evaluation's paired_R


def _inputs(ev: ParticleJets, region: int = 0) -> np.ndarray:
    """``[N, 3P + 3 (+ 8K)]``: the P gen constituents (η_rel, φ_rel, pT_rel), their pT_rel sum, gen jet pT and
    mass (and the region's K leading particles with their type)."""
    g = ev.particles("gen")[..., :3]
    x = [g.reshape(len(ev), -1), g[..., 2].sum(1, keepdims=True), ev.jets("gen")[:, [0, 2]]]
    if region:
        x.append(region_particles(ev, region)[0].reshape(len(ev), -1))
    return np.hstack(x)


def _share(ev: ParticleJets) -> np.ndarray:
    """``[N]``: Σ pT_rel of the reco constituents (the share of the reco jet's pT they carry)."""
    return ev.particles("reco")[..., 2].sum(1)


def _median_emd(ref: ParticleJets, cand: ParticleJets) -> float:
    fr, mr = _energies(ref, "reco")
    fc, mc = _energies(cand, "reco")
    return float(np.median(emd_pairwise(fr, mr, fc, mc, R=R, n_jobs=1)))


def _with_share(ev: ParticleJets, share: np.ndarray) -> ParticleJets:
    p = ev.particles("reco").copy()
    p[..., 2] *= (share / np.maximum(_share(ev), 1e-9))[:, None]
    return dataclasses.replace(ev, reco=p)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--resim", required=True)
    ap.add_argument("--candidate", action="append", default=[])
    ap.add_argument(
        "--region", type=int, default=0, help="also the limit given the region's K leading particles"
    )
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    kind = ParticleJetsKind()
    train, ref, resim = kind.read(a.train), kind.read(a.reference), kind.read(a.resim)
    rng = np.random.default_rng(a.seed)
    ok = np.flatnonzero(np.isfinite(_share(train)))
    rng.shuffle(ok)
    fit, held = ok[: len(ok) // 2], ok[len(ok) // 2 :]
    y = _share(train)
    p = ref.n_particles
    runs = np.median(np.abs(np.log(_share(resim) / _share(ref))))
    print(f"share of the reco jet pT in its {p} leading constituents: mean {_share(ref).mean():.4f}")
    print(f"  two detector runs: median |Δ ln share| {runs:.4f}")
    print(f"median per-jet EMD [GeV]: resimulation {_median_emd(ref, resim):.1f}")
    for region in [0, a.region] if a.region else [0]:
        given = f"the {p} gen constituents" + (
            f" and the region's {region} leading particles" if region else ""
        )
        x = _inputs(train, region)
        model = HistGradientBoostingRegressor(max_iter=400, learning_rate=0.05, random_state=a.seed)
        model.fit(x[fit], y[fit])
        residual = y[held] - model.predict(x[held])
        drawn = model.predict(_inputs(ref, region)) + rng.choice(residual, len(ref))
        print(f"  regressed from {given}: median |residual| {np.median(np.abs(residual)):.4f}")
        limited = _median_emd(ref, _with_share(resim, drawn))
        print(f"  resimulation, share drawn given {given}: median per-jet EMD {limited:.1f} GeV")
    fr, mr = _energies(ref, "reco")
    sum_ref = (fr[..., 2] * mr).sum(1)
    for path in [a.resim, *a.candidate]:
        fc, mc = _energies(kind.read(path), "reco")
        sum_c = (fc[..., 2] * mc).sum(1)
        fc[..., 2] *= (sum_ref / np.maximum(sum_c, 1e-9))[:, None]
        equal = np.median(emd_pairwise(fr, mr, fc, mc, R=R, n_jobs=1))
        gap = np.median(np.abs(sum_c - sum_ref))
        print(f"{path}: median |ΔΣ pT| {gap:.1f} GeV, EMD with equal sums {equal:.1f} GeV")


if __name__ == "__main__":
    main()
