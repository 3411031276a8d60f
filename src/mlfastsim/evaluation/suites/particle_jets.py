"""The evaluation suite of particle-cloud jets (JetNet convention; seed 003): JetNet's W1M, W1P, W1EFP, FPD,
KPD and coverage/MMD, W1 of jet observables, high-level and particle-level classifier tests and, for paired
candidates, the per-jet EMD and (detector mode) the jet pT and mass response reco/gen.

The level compared is the one both samples hold, ``reco`` when both have it, else ``gen``; it is a row of the
table. JetNet's definitions are in :mod:`mlfastsim.metrics.jetnet` (verified against jetnet 0.2.5). The per-level
views of a sample (what the metrics read, computed once) are :mod:`.particle_jet_views`, re-exported here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import iqr
from threadpoolctl import threadpool_limits

from mlfastsim._utils import InputError, require
from mlfastsim.data.kinds.particle_jets.container import ParticleJets
from mlfastsim.evaluation.plots import plot_distribution_with_ratio, plot_per_event, save_png
from mlfastsim.evaluation.suites.particle_jet_views import (
    HIGH_LEVEL,
    LevelView,
    PreparedParticleJets,
    _level,
    _view,  # noqa: F401  (re-exported: the tests read a view)
    common_level,
)
from mlfastsim.evaluation.table import FLOOR, RESIM
from mlfastsim.metrics import MetricResult, classifier_test, coverage_mmd_emd, emd_pairwise, fpd, kpd, w1
from mlfastsim.metrics.jetnet import (
    batched_w1,
    batched_w1_particles,
    jetnet_jets,
    w1efp_columns,
)
from mlfastsim.metrics.result import bootstrap

__all__ = ["HIGH_LEVEL", "SUITE", "LevelView", "ParticleJetSuite", "PreparedParticleJets", "common_level"]

_FEATURES = ("eta_rel", "phi_rel", "pt_rel")
_FEATURE_UNITS = {"eta_rel": "η units", "phi_rel": "rad", "pt_rel": "fraction of jet pT"}
_RESPONSE = {"pT": 0, "mass": 2}  # jet_features column of each response


def _sorted_constituents(v: LevelView) -> np.ndarray:
    """Particle-level classifier input: constituents by decreasing pT_rel, flattened ``[N, P × 3]``."""
    order = np.argsort(-np.where(v.mask, v.particles[..., 2], -np.inf), axis=1, kind="stable")
    return np.take_along_axis(v.particles, order[..., None], axis=1).reshape(len(v.particles), -1)


def _classifier(x_ref: np.ndarray, x_cand: np.ndarray, seed: int) -> dict[str, Any]:
    """Raw calibrated test AUC (:func:`~mlfastsim.metrics.classifier_test`), with a note when ≈ 0.5."""
    try:
        res = classifier_test(x_ref, x_cand, seed=seed, n_threads=1)
    except ValueError as err:  # too few jets, or non-finite inputs
        return {"value": float("nan"), "uncertainty": float("nan"), "n": 0, "note": f"not computed: {err}"}
    row: dict[str, Any] = res.to_dict()
    if abs(res.value - 0.5) < 2 * res.uncertainty:
        row["note"] = (
            "compatible with 0.5: indistinguishable to this classifier, or it did not learn "
            "(classifier_test reports no training diagnostics)"
        )
    return row


def _jetnet(res: MetricResult, num_batches: int) -> dict[str, Any]:
    return {**res.to_dict(), "num_batches": num_batches, "batch_size": res.n}


def _robust_width(x: np.ndarray) -> float:
    return float(iqr(x) / 1.349)


def _response(events: ParticleJets, col: int) -> np.ndarray:
    """reco/gen of a jet feature, per jet with a finite, positive gen value and a reco jet ``[≤ N]``."""
    gen, reco = events.jets("gen")[:, col].astype(np.float64), events.jets("reco")[:, col].astype(np.float64)
    ok = np.isfinite(gen) & np.isfinite(reco) & (gen > 0)
    return reco[ok] / gen[ok]


def _ratio(a: MetricResult, b: MetricResult) -> dict[str, Any]:
    """a / b, uncertainties propagated as independent (conservative: paired samples share their gen jets)."""
    r = a.value / b.value if b.value else float("nan")
    unc = (
        abs(r) * float(np.hypot(a.uncertainty / a.value, b.uncertainty / b.value))
        if a.value
        else float("nan")
    )
    return MetricResult(r, unc, min(a.n, b.n)).to_dict()


def _energies(events: ParticleJets, level: str) -> tuple[np.ndarray, np.ndarray]:
    """(η_rel, φ_rel, pT in GeV = pT_rel × jet pT) ``[N, P, 3]`` and mask; a jet without pT has no energy."""
    parts, mask = jetnet_jets(events.particles(level))
    pt_jet = np.nan_to_num(np.asarray(events.jets(level)[:, 0], dtype=np.float64))
    out = parts.copy()
    out[..., 2] *= pt_jet[:, None]
    return out, mask & (out[..., 2] > 0)


@dataclass(frozen=True)
class ParticleJetSuite:
    """Suite of the ``particle-jets`` kind (module docstring; definitions in docs/metrics.md, "Particle jets").

    Attributes:
        w1_eval_samples: jets per JetNet W1 batch (None: min(50 000, N_ref, N_cand)); w1_batches: JetNet's 5.
        cov_mmd_samples, cov_mmd_batches: JetNet ``cov_mmd`` (100 jets, 10 batches; 0 batches skips it: it
            costs 10⁵ EMDs per sample). n_jobs: processes for those EMDs.
        paired_R: jet radius R of the per-jet EMD (θ/R; anti-kT R = 0.8 jets).
    """

    w1_eval_samples: int | None = None
    w1_batches: int = 5
    cov_mmd_samples: int = 100
    cov_mmd_batches: int = 10
    n_jobs: int = 2
    paired_R: float = 0.8
    kind = "particle-jets"
    per_event_label = "EMD to its reference jet [GeV] (R = 0.8, pT in GeV)"
    notes = (
        "Level: reco when every sample holds it, else gen (one level for the whole table). W1M (relative "
        "jet mass), W1P (per particle feature, "
        "real particles pooled), W1EFP (mean over the 5 prime EFPs n = d = 4) follow JetNet's batch protocol: "
        "mean ± std over batches of jets drawn with replacement (batch size in metrics.json; JetNet uses "
        "50,000, here min(50,000, N)); raw values, papers quote ×10³ (W1EFP ×10⁵). FPD/KPD: JetNet's 36 "
        "unnormalised EFPs (d ≤ 4) of pT_rel, FPD extrapolated in 1/N, KPD median of batches. Coverage/MMD: "
        "EMD on pT_rel with R = 1 (JetNet cov_mmd). Classifier AUC: raw calibrated test AUC, 0.5 = "
        "indistinguishable; the particle-level one sees constituent-pT distortions FPD is nearly blind to. "
        "Response (detector mode): reco/gen of jet pT and mass per jet; width = IQR/1.349; ratios to the "
        "reference detector's. Per-jet EMD in GeV, R = 0.8."
    )

    def units(self) -> dict[str, str]:
        u = {f"W1P {f}": _FEATURE_UNITS[f] for f in _FEATURES}
        u.update(
            {
                "W1M": "relative mass (m / pT_jet)",
                "W1EFP": "unnormalised EFP, n = d = 4 (pT_rel⁴ ΔR⁴)",
                "MMD (EMD, R=1)": "pT_rel (fraction of jet pT)",
                "W1 jet pT": "GeV",
                "W1 jet mass": "GeV",
                "W1 multiplicity": "particles",
                "median EMD to its reference jet": "GeV",
            }
        )
        return u

    def prepare(self, events: ParticleJets) -> PreparedParticleJets:
        if not isinstance(events, ParticleJets):
            raise InputError(f"the particle-jets suite needs ParticleJets, got {type(events).__name__}")
        return PreparedParticleJets(events)

    def prepare_all(self, samples: Mapping[str, ParticleJets]) -> dict[str, PreparedParticleJets]:
        """Every sample of one evaluation, at one level: ``reco`` when every sample holds it, else ``gen``
        (a gen-level prior sample is judged against the reference's gen level, and so is the floor)."""
        events = list(samples.values())
        level = next((lv for lv in ("reco", "gen") if all(lv in e.levels for e in events)), None)
        if level is None:
            raise InputError(
                "the samples share no level (reco or gen) to compare: "
                + "; ".join(f"{n}: {'/'.join(e.levels)}" for n, e in samples.items())
            )
        prepared = {name: self.prepare(ev) for name, ev in samples.items()}
        for p in prepared.values():
            p.level = level
        return prepared

    def distribution_metrics(
        self, reference: PreparedParticleJets, candidate: PreparedParticleJets, seed: int
    ) -> dict[str, Any]:
        # one BLAS thread: the 36 × 36 covariances of FPD gain nothing from threads, and on a busy machine
        # oversubscribed BLAS threads made them ~30× slower
        with threadpool_limits(limits=1, user_api="blas"):
            return self._distribution_metrics(reference, candidate, seed)

    def _distribution_metrics(
        self, reference: PreparedParticleJets, candidate: PreparedParticleJets, seed: int
    ) -> dict[str, Any]:
        level = _level(reference, candidate)
        r, c = reference.view(level), candidate.view(level)
        nb = self.w1_batches
        row: dict[str, Any] = {"level": level}
        mass = batched_w1(
            r.observables["relative_mass"], c.observables["relative_mass"], self.w1_eval_samples, nb, seed
        )
        row["W1M"] = _jetnet(mass.result(0), nb)
        parts = batched_w1_particles(r.particles, r.mask, c.particles, c.mask, self.w1_eval_samples, nb, seed)
        for i, name in enumerate(_FEATURES):
            row[f"W1P {name}"] = _jetnet(parts.result(i), nb)
        row["W1P (mean of 3)"] = _jetnet(parts.average(), nb)
        cols = list(w1efp_columns())
        efp = batched_w1(r.efp[:, cols], c.efp[:, cols], self.w1_eval_samples, nb, seed)
        row["W1EFP"] = {**_jetnet(efp.average(), nb), "per_efp": efp.means.tolist()}
        row["FPD (36 EFPs)"] = fpd(r.efp, c.efp, seed=seed).to_dict()
        row["KPD (36 EFPs)"] = kpd(r.efp, c.efp, seed=seed).to_dict()
        if self.cov_mmd_batches > 0:
            cov, mmd = coverage_mmd_emd(
                r.particles, r.mask, c.particles, c.mask, num_eval_samples=self.cov_mmd_samples,
                num_batches=self.cov_mmd_batches, R=1.0, n_jobs=self.n_jobs, seed=seed,
            )  # fmt: skip
            row["coverage (EMD, R=1)"], row["MMD (EMD, R=1)"] = cov.to_dict(), mmd.to_dict()
        for name, col in (("W1 jet pT", 0), ("W1 jet mass", 2)):
            if np.isfinite(c.jets[:, col]).any():  # prior samples have no absolute jet pT: not scored
                row[name] = w1(r.jets[:, col], c.jets[:, col], seed=seed).to_dict()
        row["W1 multiplicity"] = w1(
            r.observables["multiplicity"], c.observables["multiplicity"], seed=seed
        ).to_dict()
        high_r, high_c = (np.stack([v.observables[k] for k in HIGH_LEVEL], axis=1) for v in (r, c))
        row["classifier AUC (high-level)"] = _classifier(high_r, high_c, seed)
        row["classifier AUC (particle-level)"] = _classifier(
            _sorted_constituents(r), _sorted_constituents(c), seed
        )
        return row

    def paired_metrics(
        self, reference: PreparedParticleJets, candidate: PreparedParticleJets, seed: int, n_jobs: int
    ) -> tuple[dict[str, Any], np.ndarray]:
        ref, cand = reference.events, candidate.events
        level = _level(reference, candidate)
        row: dict[str, Any] = {}
        if self.detector_mode(ref, cand):
            row.update(self.response_rows(ref, cand, seed))
        fr, mr = _energies(ref, level)
        fc, mc = _energies(cand, level)
        values = emd_pairwise(fr, mr, fc, mc, R=self.paired_R, n_jobs=n_jobs)
        row["median EMD to its reference jet"] = bootstrap(np.median, values, n_boot=200, seed=seed).to_dict()
        return row, values

    @staticmethod
    def detector_mode(reference: ParticleJets, candidate: ParticleJets) -> bool:
        """True when both hold both levels and the candidate's gen jets are the reference's (same features)."""
        if len(candidate) != len(reference) or not all(
            lv in s.levels for s in (reference, candidate) for lv in ("gen", "reco")
        ):
            return False
        return bool(np.allclose(candidate.jets("gen"), reference.jets("gen"), rtol=1e-5, equal_nan=True))

    @staticmethod
    def response_rows(reference: ParticleJets, candidate: ParticleJets, seed: int) -> dict[str, Any]:
        """Per-jet reco/gen response of jet pT and mass: mean and width (IQR/1.349, bootstrap errors) of the
        candidate and of the reference detector, and their ratios."""
        row: dict[str, Any] = {}
        for name, col in _RESPONSE.items():
            rc, rr = _response(candidate, col), _response(reference, col)
            if len(rc) < 2 or len(rr) < 2:
                row[f"response {name}"] = "not computed: fewer than 2 jets with both levels"
                continue
            for stat, fn in (("mean", np.mean), ("width", _robust_width)):
                a = bootstrap(fn, rc, n_boot=200, seed=seed)
                b = bootstrap(fn, rr, n_boot=200, seed=seed)
                row[f"response {name} {stat}"] = a.to_dict()
                row[f"response {name} {stat}: reference detector"] = b.to_dict()
                row[f"response {name} {stat} ratio to reference"] = _ratio(a, b)
        return row

    def plots(
        self,
        out_dir: Path,
        reference: PreparedParticleJets,
        samples: Mapping[str, PreparedParticleJets],
        per_event: Mapping[str, np.ndarray],
    ) -> list[Path]:
        plots_dir = out_dir / "plots"
        written: list[Path] = []
        by_level: dict[str, dict[str, PreparedParticleJets]] = {}
        for name, p in samples.items():
            by_level.setdefault(_level(reference, p), {})[name] = p
        for level, group in by_level.items():
            r = reference.view(level)
            views = {n: p.view(level) for n, p in group.items()}
            jet_obs = {
                "relative_mass": ("relative jet mass (m / pT_jet)", lambda v: v.observables["relative_mass"]),
                "multiplicity": ("constituents per jet", lambda v: v.observables["multiplicity"]),
                "jet_pt": ("jet pT [GeV]", lambda v: _finite(v.jets[:, 0])),
                "jet_mass": ("jet mass [GeV]", lambda v: _finite(v.jets[:, 2])),
            }
            for key, (label, get) in jet_obs.items():
                written.append(
                    plot_distribution_with_ratio(
                        get(r), {n: get(v) for n, v in views.items()}, plots_dir / f"{level}_{key}.png",
                        f"{level}: {label}", floor_name=FLOOR,
                    )
                )  # fmt: skip
            for i, feat in enumerate(_FEATURES):
                written.append(
                    plot_distribution_with_ratio(
                        r.particles[..., i][r.mask], {n: v.particles[..., i][v.mask] for n, v in views.items()},
                        plots_dir / f"{level}_particle_{feat}.png", f"{level}: particle {feat}",
                        log_x=feat == "pt_rel", floor_name=FLOOR,
                    )
                )  # fmt: skip
            shown = [("reference", r)] + [(n, v) for n, v in views.items() if n != FLOOR]
            written.append(_plot_jets(shown, plots_dir / f"{level}_jet_displays.png", level))
        both = {n: p.events for n, p in samples.items() if {"gen", "reco"} <= set(p.events.levels)}
        if {"gen", "reco"} <= set(reference.events.levels):
            for name, col in _RESPONSE.items():
                written.append(
                    plot_distribution_with_ratio(
                        _response(reference.events, col), {n: _response(ev, col) for n, ev in both.items()},
                        plots_dir / f"response_{name}.png", f"jet {name} response reco / gen", floor_name=FLOOR,
                    )
                )  # fmt: skip
        if per_event:
            written.append(
                plot_per_event(
                    per_event, plots_dir / "emd_per_event.png", self.per_event_label, floor_name=RESIM
                )
            )
        return written


def _finite(x: np.ndarray) -> np.ndarray:
    return x[np.isfinite(x)]


def _plot_jets(rows: list[tuple[str, LevelView]], path: Path, level: str, n_jets: int = 3) -> Path:
    """A few jets of each sample as (η_rel, φ_rel) scatter, marker area ∝ pT_rel (jet i of every row: paired
    samples show the same jet)."""
    plt = require("matplotlib.pyplot", "plot")
    fig, axes = plt.subplots(len(rows), n_jets, figsize=(2.6 * n_jets, 2.4 * len(rows)), squeeze=False)
    for r, (name, v) in enumerate(rows):
        for j in range(n_jets):
            ax = axes[r, j]
            if j < len(v.particles):
                m = v.mask[j]
                ax.scatter(
                    v.particles[j, m, 0], v.particles[j, m, 1], s=600 * v.particles[j, m, 2], alpha=0.6
                )
            ax.set(xlim=(-0.8, 0.8), ylim=(-0.8, 0.8), title=f"{name} #{j}")
            ax.title.set_fontsize(8)
            if j == 0:
                ax.set_ylabel("φ_rel [rad]")
            if r == len(rows) - 1:
                ax.set_xlabel("η_rel")
    fig.suptitle(f"{level} jets, marker area ∝ pT_rel", fontsize=9)
    return save_png(fig, path)


SUITE = ParticleJetSuite()
