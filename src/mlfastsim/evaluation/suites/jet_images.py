"""The evaluation suite of jet images: W1 of physics observables, FPD/KPD of energy-flow polynomials,
classifier two-sample tests, and, for paired candidates, the energy mover's distance (seed 002 eq. 5–6)
and the seeds' masked MSE."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim.data.representations import image_to_cloud
from mlfastsim.data.schemas import HitCloud, JetImages
from mlfastsim.evaluation.displays import plot_event_displays
from mlfastsim.evaluation.observables import OBSERVABLE_UNITS, hit_energies, image_observables
from mlfastsim.evaluation.plots import plot_distribution_with_ratio, plot_per_event
from mlfastsim.evaluation.table import FLOOR, RESIM
from mlfastsim.metrics import MetricResult, classifier_test, efps, emd_pairwise, fpd, kpd, w1
from mlfastsim.metrics.result import bootstrap

__all__ = ["HIGH_LEVEL", "N_HITS", "SUITE", "W1_OBSERVABLES", "JetImageSuite", "PreparedJets"]

#: Observables compared with W1 (keys of :func:`image_observables`).
W1_OBSERVABLES = (
    "e_ecal",
    "n_hits_ecal",
    "jet_mass_ecal",
    "jet_pt_ecal",
    "width_ecal",
    "leading_fraction_ecal",
    "e_hcal",
    "n_hits_hcal",
    "e_tracks_pt",
    "n_hits_tracks_pt",
    "jet_mass",
    "jet_pt",
)
#: Observables that need a channel besides ECAL; skipped for samples that do not simulate it.
NEEDS_CHANNEL = {
    "e_hcal": 2,
    "n_hits_hcal": 2,
    "jet_mass": 2,
    "jet_pt": 2,
    "e_tracks_pt": 0,
    "n_hits_tracks_pt": 0,
}
#: Hits per jet used for EMD and EFPs (the most energetic ECAL hits).
N_HITS = 400
#: Inputs of the high-level classifier test (ECAL observables, which every candidate simulates).
HIGH_LEVEL = ("e_ecal", "n_hits_ecal", "jet_mass_ecal", "jet_pt_ecal", "width_ecal", "leading_fraction_ecal")


@dataclass
class PreparedJets:
    """A jet-image sample with what the metrics need, computed once: observables, ECAL hit cloud, EFPs."""

    jets: JetImages
    observables: dict[str, np.ndarray]
    cloud: HitCloud
    efp: np.ndarray


def _low_level(images: np.ndarray) -> np.ndarray:
    """ECAL image summed into 5 × 5-crystal cells (25 × 25 = 625 inputs, log(1 + E/GeV))."""
    ecal = images[:, 1, :125, :125].reshape(len(images), 25, 5, 25, 5).sum(axis=(2, 4))
    return np.log1p(ecal.reshape(len(images), -1))


def _masked_mse(
    reference: np.ndarray, ref_mask: np.ndarray, candidate: np.ndarray, cand_mask: np.ndarray
) -> dict[str, float]:
    """Slot-by-slot squared errors of energy-ordered hits, over the reference's real hits (seeds' hit and energy MSE).

    Candidate slots without a hit count as a hit at the centre with zero energy.
    """
    c = candidate * cand_mask[..., None]
    m = ref_mask.astype(np.float64)
    denom = max(m.sum(), 1.0)
    err = (c - reference) ** 2
    return {
        "hit_mse": float(((err[..., 0] + err[..., 1]) / 2 * m).sum() / denom),
        "energy_mse": float((err[..., 2] * m).sum() / denom),
    }


def _median(values: np.ndarray, seed: int) -> MetricResult:
    return bootstrap(np.median, values, n_boot=200, seed=seed)


class JetImageSuite:
    """Suite of the ``jet-images`` kind (see the module docstring; metric definitions in docs/metrics.md)."""

    kind = "jet-images"
    per_event_label = "EMD to its reference jet [GeV]"
    notes = (
        "W1: 1-Wasserstein distance of the observable's distributions (units of the observable); FPD/KPD on "
        "energy-flow polynomials (JetNet definitions); classifier AUC 0.5 = indistinguishable; EMD in GeV."
    )

    def units(self) -> dict[str, str]:
        return {f"W1 {k}": OBSERVABLE_UNITS.get(k, "") for k in W1_OBSERVABLES}

    def prepare(self, events: JetImages) -> PreparedJets:
        cloud = image_to_cloud(events.images, n_max=N_HITS, channels=(1,))
        return PreparedJets(
            events, image_observables(events.images, events.eta), cloud, efps(cloud.features, cloud.mask)
        )

    def prepare_all(self, samples: Mapping[str, JetImages]) -> dict[str, PreparedJets]:
        return {name: self.prepare(ev) for name, ev in samples.items()}

    def distribution_metrics(
        self, reference: PreparedJets, candidate: PreparedJets, seed: int
    ) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for key in W1_OBSERVABLES:
            if key in NEEDS_CHANNEL and not candidate.jets.images[:, NEEDS_CHANNEL[key]].any():
                continue  # the sample does not simulate this channel
            row[f"W1 {key}"] = w1(reference.observables[key], candidate.observables[key], seed=seed).to_dict()
        row["FPD (EFP d<=4)"] = fpd(reference.efp, candidate.efp, seed=seed).to_dict()
        row["KPD (EFP d<=4)"] = kpd(reference.efp, candidate.efp, seed=seed).to_dict()
        ref_high, cand_high = (
            np.stack([p.observables[k] for k in HIGH_LEVEL], axis=1) for p in (reference, candidate)
        )
        row["classifier AUC (high-level)"] = classifier_test(ref_high, cand_high, seed=seed).to_dict()
        row["classifier AUC (low-level)"] = classifier_test(
            _low_level(reference.jets.images), _low_level(candidate.jets.images), seed=seed
        ).to_dict()
        return row

    def paired_metrics(
        self, reference: PreparedJets, candidate: PreparedJets, seed: int, n_jobs: int
    ) -> tuple[dict[str, Any], np.ndarray]:
        ref, cand = reference.cloud, candidate.cloud
        values = emd_pairwise(ref.features, ref.mask, cand.features, cand.mask, R=0.4, n_jobs=n_jobs)
        row: dict[str, Any] = {"median EMD to its reference jet (GeV)": _median(values, seed).to_dict()}
        mse = _masked_mse(ref.features, ref.mask, cand.features, cand.mask)
        row.update({f"masked {k}": v for k, v in mse.items()})
        return row, values

    def plots(
        self,
        out_dir: Path,
        reference: PreparedJets,
        samples: Mapping[str, PreparedJets],
        per_event: Mapping[str, np.ndarray],
    ) -> list[Path]:
        plots_dir = out_dir / "plots"
        written: list[Path] = []
        for key in W1_OBSERVABLES:
            unit = OBSERVABLE_UNITS.get(key, "")
            written.append(
                plot_distribution_with_ratio(
                    reference.observables[key],
                    {n: p.observables[key] for n, p in samples.items()},
                    plots_dir / f"{key}.png",
                    f"{key} [{unit}]" if unit else key,
                    floor_name=FLOOR,
                )
            )
        written.append(
            plot_distribution_with_ratio(
                hit_energies(reference.jets.images),
                {n: hit_energies(p.jets.images) for n, p in samples.items()},
                plots_dir / "hit_energy_ecal.png",
                "ECAL hit energy [GeV]",
                log_x=True,
                floor_name=FLOOR,
            )
        )
        if per_event:
            written.append(
                plot_per_event(
                    per_event, plots_dir / "emd_per_event.png", self.per_event_label, floor_name=RESIM
                )
            )
        rows, names = [], []
        for i in range(2):
            rows.append(reference.jets.images[i])
            names.append(f"reference #{i}")
            for name, p in samples.items():
                if name != FLOOR and len(p.jets) > i:
                    rows.append(p.jets.images[i])
                    names.append(f"{name} #{i}")
        written.append(
            plot_event_displays(
                rows,
                names,
                plots_dir / "event_displays.png",
                channels=(1,),
                title="ECAL: reference and candidates",
            )
        )
        return written


SUITE = JetImageSuite()
