"""The evaluation suite of jet images: W1 of physics observables of every channel present (tracks, ECAL,
HCAL) and combined, FPD/KPD of energy-flow polynomials, classifier two-sample tests, and, for paired
candidates, the energy mover's distance (seed 002 eq. 5–6) per channel and the seeds' masked MSE.

A channel that a candidate does not simulate (all zero where the reference has energy) gets
``not simulated`` entries instead of W1 values against zeros."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim.data.representations import image_to_cloud
from mlfastsim.data.schemas import HitCloud, JetImages
from mlfastsim.evaluation.displays import plot_event_displays, plot_jet_displays
from mlfastsim.evaluation.observables import (
    OBSERVABLE_CHANNELS,
    OBSERVABLE_UNITS,
    hit_energies,
    image_observables,
)
from mlfastsim.evaluation.plots import plot_distribution_with_ratio, plot_per_event
from mlfastsim.evaluation.table import FLOOR, RESIM
from mlfastsim.metrics import MetricResult, classifier_test, efps, emd_pairwise, fpd, kpd, w1
from mlfastsim.metrics.result import bootstrap
from mlfastsim.physics.detector.geometry import CHANNELS

__all__ = ["HIGH_LEVEL", "N_HITS", "SUITE", "W1_OBSERVABLES", "JetImageSuite", "PreparedJets"]

#: Observables compared with W1 (keys of :func:`image_observables`): the ECAL rows and the first combined
#: ones as before, then each other channel's and the all-channel jet mass and pT.
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
    *(f"{q}_{c}" for c in ("tracks_pt", "hcal") for q in ("jet_mass", "jet_pt", "width", "leading_fraction")),
    "jet_mass_all",
    "jet_pt_all",
)
#: Jets drawn channel by channel, one figure each, when the reference has more than ECAL.
N_DISPLAYS = 3
#: Hits per jet used for EMD and EFPs (the most energetic ECAL hits).
N_HITS = 400
#: Hits per jet of the tracks' and the HCAL towers' clouds for their per-channel EMD.
N_HITS_OTHER = {0: 200, 2: 200}
#: Inputs of the high-level classifier test (ECAL observables, which every candidate simulates).
HIGH_LEVEL = ("e_ecal", "n_hits_ecal", "jet_mass_ecal", "jet_pt_ecal", "width_ecal", "leading_fraction_ecal")
#: Inputs of the all-channel high-level classifier: the six observables of each channel and the jet mass.
_SIX = ("e", "n_hits", "jet_mass", "jet_pt", "width", "leading_fraction")
HIGH_LEVEL_ALL = (*(f"{q}_{c}" for c in CHANNELS for q in _SIX), "jet_mass_all")


def _not_simulated(channels: list[str]) -> dict[str, Any]:
    """Entry of a row whose channel(s) the candidate leaves empty although the reference has energy there."""
    nan = float("nan")
    return {
        "value": nan,
        "uncertainty": nan,
        "n": 0,
        "not_simulated": True,
        "note": f"the candidate has no {'/'.join(channels)} energy in any jet: that channel is not simulated",
    }


@dataclass
class PreparedJets:
    """A jet-image sample with what the metrics need, computed once: observables, ECAL hit cloud, EFPs.

    ``present[c]``: the sample has energy in channel c (0 tracks, 1 ECAL, 2 HCAL) in some jet;
    ``clouds``: hit clouds of the other present channels (tracks, HCAL towers) for their EMD.
    """

    jets: JetImages
    observables: dict[str, np.ndarray]
    cloud: HitCloud
    efp: np.ndarray
    present: tuple[bool, ...] = (False, True, False)
    clouds: dict[int, HitCloud] = field(default_factory=dict)


def _missing(
    reference: PreparedJets, candidate: PreparedJets, channels: tuple[int, ...]
) -> tuple[list, list]:
    """(channels the reference has and the candidate lacks, channels both lack) among ``channels``."""
    lack = [c for c in channels if not candidate.present[c]]
    return [c for c in lack if reference.present[c]], [c for c in lack if not reference.present[c]]


def _low_level(images: np.ndarray, channels: tuple[int, ...] = (1,)) -> np.ndarray:
    """Each channel's image summed into 5 × 5-crystal cells (HCAL: its towers), 625 inputs per channel,
    log(1 + E/GeV) (tracks: pT), channels concatenated: ``[N, 625·len(channels)]``."""
    parts = [
        images[:, c, :125, :125].reshape(len(images), 25, 5, 25, 5).sum(axis=(2, 4)).reshape(len(images), -1)
        for c in channels
    ]
    return np.log1p(np.concatenate(parts, axis=1))


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


_CHANNEL_LABEL = {0: "tracks", 1: "ECAL", 2: "HCAL"}


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
        units = {f"W1 {k}": OBSERVABLE_UNITS.get(k, "") for k in W1_OBSERVABLES}
        units["median EMD to its reference jet (GeV)"] = "GeV"
        units.update(
            {f"median EMD to its reference jet, {_CHANNEL_LABEL[c]} (GeV)": "GeV" for c in N_HITS_OTHER}
        )
        return units

    def prepare(self, events: JetImages) -> PreparedJets:
        images = events.images
        cloud = image_to_cloud(images, n_max=N_HITS, channels=(1,))
        present = tuple(bool(np.any(images[:, c])) for c in range(len(CHANNELS)))
        clouds = {
            c: image_to_cloud(images, n_max=n, channels=(c,)) for c, n in N_HITS_OTHER.items() if present[c]
        }
        return PreparedJets(
            events,
            image_observables(images, events.eta),
            cloud,
            efps(cloud.features, cloud.mask),
            present,
            clouds,
        )

    def prepare_all(self, samples: Mapping[str, JetImages]) -> dict[str, PreparedJets]:
        return {name: self.prepare(ev) for name, ev in samples.items()}

    def distribution_metrics(
        self, reference: PreparedJets, candidate: PreparedJets, seed: int
    ) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for key in W1_OBSERVABLES:
            not_sim, both_empty = _missing(reference, candidate, OBSERVABLE_CHANNELS[key])
            if not_sim:
                row[f"W1 {key}"] = _not_simulated([CHANNELS[c] for c in not_sim])
            elif not both_empty:
                row[f"W1 {key}"] = w1(
                    reference.observables[key], candidate.observables[key], seed=seed
                ).to_dict()
        row["FPD (EFP d<=4)"] = fpd(reference.efp, candidate.efp, seed=seed).to_dict()
        row["KPD (EFP d<=4)"] = kpd(reference.efp, candidate.efp, seed=seed).to_dict()
        ref_high, cand_high = (
            np.stack([p.observables[k] for k in HIGH_LEVEL], axis=1) for p in (reference, candidate)
        )
        row["classifier AUC (high-level)"] = classifier_test(ref_high, cand_high, seed=seed).to_dict()
        row["classifier AUC (low-level)"] = classifier_test(
            _low_level(reference.jets.images), _low_level(candidate.jets.images), seed=seed
        ).to_dict()
        if all(reference.present):  # the reference has every channel: the classifiers that see them all
            not_sim, _ = _missing(reference, candidate, tuple(range(len(CHANNELS))))
            for name, features in (
                ("classifier AUC (high-level, all channels)", self._high_all),
                ("classifier AUC (low-level, all channels)", self._low_all),
            ):
                row[name] = (
                    _not_simulated([CHANNELS[c] for c in not_sim])
                    if not_sim
                    else classifier_test(features(reference), features(candidate), seed=seed).to_dict()
                )
        return row

    @staticmethod
    def _high_all(p: PreparedJets) -> np.ndarray:
        return np.stack([p.observables[k] for k in HIGH_LEVEL_ALL], axis=1)

    @staticmethod
    def _low_all(p: PreparedJets) -> np.ndarray:
        return _low_level(p.jets.images, tuple(range(len(CHANNELS))))

    def paired_metrics(
        self, reference: PreparedJets, candidate: PreparedJets, seed: int, n_jobs: int
    ) -> tuple[dict[str, Any], np.ndarray]:
        ref, cand = reference.cloud, candidate.cloud
        values = emd_pairwise(ref.features, ref.mask, cand.features, cand.mask, R=0.4, n_jobs=n_jobs)
        row: dict[str, Any] = {"median EMD to its reference jet (GeV)": _median(values, seed).to_dict()}
        mse = _masked_mse(ref.features, ref.mask, cand.features, cand.mask)
        row.update({f"masked {k}": v for k, v in mse.items()})
        for c in N_HITS_OTHER:
            name = f"median EMD to its reference jet, {_CHANNEL_LABEL[c]} (GeV)"
            if c not in reference.clouds:
                continue  # the reference has no such hits
            if c not in candidate.clouds:
                row[name] = _not_simulated([CHANNELS[c]])
                continue
            r, k = reference.clouds[c], candidate.clouds[c]
            per = emd_pairwise(r.features, r.mask, k.features, k.mask, R=0.4, n_jobs=n_jobs)
            row[name] = _median(per, seed).to_dict()
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
            if key not in W1_OBSERVABLES[:12] and not all(
                reference.present[c] for c in OBSERVABLE_CHANNELS[key]
            ):
                continue  # a channel the reference does not have (the first twelve are always drawn)
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
        channels = tuple(c for c in range(len(CHANNELS)) if reference.present[c])
        if channels != (1,):  # one figure per jet: every channel, the reference above each candidate
            written += plot_jet_displays(
                reference.jets.images,
                {n: p.jets.images for n, p in samples.items() if n != FLOOR},
                plots_dir,
                channels,
                N_DISPLAYS,
            )
        return written


SUITE = JetImageSuite()
