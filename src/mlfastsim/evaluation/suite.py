"""The evaluation suite for jet images: every metric beside its floor, as JSON, plots, HTML and a table.

Floors: *truth vs truth* compares the reference with a second, independent reference sample (or, when
none is given, its two disjoint halves); the *resimulation* floor compares each reference jet with the
same generator-level jet passed through the detector again. A surrogate cannot be expected to beat the
floors; it is good when it is within a small factor of them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import atomic_write_text, jsonable, package_version, progress
from mlfastsim.data.representations import image_to_cloud
from mlfastsim.data.schemas import JetImages
from mlfastsim.evaluation.observables import OBSERVABLE_UNITS, hit_energies, image_observables
from mlfastsim.metrics import MetricResult, classifier_test, efps, emd_pairwise, fpd, kpd, w1
from mlfastsim.metrics.result import bootstrap

__all__ = ["FLOOR", "RESIM", "evaluate_jet_images", "format_table", "table_layout"]

#: Column names of the two floors in tables and ``metrics.json``.
FLOOR = "truth vs truth"
RESIM = "resimulation"
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


def _paired(reference: JetImages, candidate: JetImages) -> bool:
    """A candidate is paired event by event with the reference when it carries the same jets' kinematics."""
    return (
        len(candidate) == len(reference)
        and bool(np.isfinite(reference.pt).any())
        and np.array_equal(candidate.pt, reference.pt, equal_nan=True)
    )


#: Inputs of the high-level classifier test (ECAL observables, which every candidate simulates).
HIGH_LEVEL = ("e_ecal", "n_hits_ecal", "jet_mass_ecal", "jet_pt_ecal", "width_ecal", "leading_fraction_ecal")


def _high_level(obs: Mapping[str, np.ndarray]) -> np.ndarray:
    return np.stack([obs[k] for k in HIGH_LEVEL], axis=1)


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


def evaluate_jet_images(
    reference: JetImages,
    candidates: Mapping[str, JetImages],
    out_dir: str | Path,
    resim: JetImages | None = None,
    second_reference: JetImages | None = None,
    seed: int = 0,
    n_jobs: int = 2,
    plots: bool = True,
) -> dict[str, Any]:
    """Compare each candidate with the reference; write ``metrics.json``, ``plots/`` and ``report.html``.

    Args:
        reference: held-out reference jets (the truth).
        candidates: name → jets to judge (generated, reconstructed, another simulation, ...). A candidate
            with the reference's per-jet kinematics (same length and pT) is *paired*: event-level metrics
            (reconstruction EMD, masked MSE) are computed for it.
        out_dir: output folder.
        resim: the reference's jets resimulated (same generator-level particles, new detector seed);
            gives the per-event floor.
        second_reference: an independent reference sample for the truth-vs-truth floor (default: the
            reference's two disjoint halves).
        seed: seed of bootstraps, halves and classifiers. n_jobs: processes for EMD.
        plots: write PNGs and the HTML report.

    Returns:
        The content of ``metrics.json`` (schema in ``docs/metrics.md``).
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    ref = reference
    if second_reference is None:
        perm = np.random.default_rng(seed).permutation(len(reference))
        half = len(reference) // 2
        ref, second_reference = reference.subset(np.sort(perm[:half])), reference.subset(np.sort(perm[half:]))
        floor_note = "two disjoint halves of the reference"
    else:
        n = min(len(reference), len(second_reference))
        second_reference = second_reference.subset(slice(0, n))
        floor_note = "an independent second reference sample"
    samples: dict[str, JetImages] = {FLOOR: second_reference, **candidates}
    obs = {name: image_observables(j.images, j.eta) for name, j in [("reference", ref), *samples.items()]}
    clouds = {
        name: image_to_cloud(j.images, n_max=N_HITS, channels=(1,))
        for name, j in [("reference", ref), *samples.items()]
    }
    efp = {name: efps(c.features, c.mask) for name, c in clouds.items()}

    table: dict[str, dict[str, Any]] = {}
    steps = progress(total=len(samples) * 5, desc="evaluate")
    for name, jets in samples.items():
        row: dict[str, Any] = {}
        for key in W1_OBSERVABLES:
            if key in NEEDS_CHANNEL and not jets.images[:, NEEDS_CHANNEL[key]].any():
                continue  # the sample does not simulate this channel
            row[f"W1 {key}"] = w1(obs["reference"][key], obs[name][key], seed=seed).to_dict()
        steps.update()
        row["FPD (EFP d<=4)"] = fpd(efp["reference"], efp[name], seed=seed).to_dict()
        row["KPD (EFP d<=4)"] = kpd(efp["reference"], efp[name], seed=seed).to_dict()
        steps.update()
        row["classifier AUC (high-level)"] = classifier_test(
            _high_level(obs["reference"]), _high_level(obs[name]), seed=seed
        ).to_dict()
        steps.update()
        row["classifier AUC (low-level)"] = classifier_test(
            _low_level(ref.images), _low_level(jets.images), seed=seed
        ).to_dict()
        steps.update()
        table[name] = row
        steps.update()
    steps.close()

    # event-level metrics for paired samples, beside the resimulation floor
    per_event: dict[str, np.ndarray] = {}
    # hit clouds already made above are reused (the reference's own when it was not split in halves)
    full_cloud = (
        clouds["reference"]
        if ref is reference
        else image_to_cloud(reference.images, n_max=N_HITS, channels=(1,))
    )
    paired = {name: j for name, j in candidates.items() if _paired(reference, j)}
    if resim is not None and _paired(reference, resim):
        paired = {RESIM: resim, **paired}
    for name, jets in paired.items():
        cloud = clouds[name] if name in clouds else image_to_cloud(jets.images, n_max=N_HITS, channels=(1,))
        values = emd_pairwise(
            full_cloud.features, full_cloud.mask, cloud.features, cloud.mask, R=0.4, n_jobs=n_jobs
        )
        per_event[name] = values
        row = table.setdefault(name, {})
        row["median EMD to its reference jet (GeV)"] = _median(values, seed).to_dict()
        row.update(
            {
                f"masked {k}": v
                for k, v in _masked_mse(
                    full_cloud.features, full_cloud.mask, cloud.features, cloud.mask
                ).items()
            }
        )

    result: dict[str, Any] = {
        "schema": "mlfastsim.evaluation/1",
        "version": package_version(),
        "seed": seed,
        "n_reference": len(ref),
        "floors": {
            FLOOR: floor_note,
            RESIM: "reference jets resimulated (same particles, new detector seed)"
            if RESIM in table
            else None,
        },
        "units": {f"W1 {k}": OBSERVABLE_UNITS.get(k, "") for k in W1_OBSERVABLES},
        "samples": {name: {"n": len(j), "provenance": j.attrs} for name, j in samples.items()},
        "metrics": table,
        "wall_time_s": 0.0,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    if plots:
        from mlfastsim.evaluation.report import write_plots_and_report

        result["plots"] = write_plots_and_report(out_dir, ref, samples, obs, per_event, result)
    result["wall_time_s"] = time.perf_counter() - start
    atomic_write_text(out_dir / "metrics.json", json.dumps(jsonable(result), indent=2))
    print(format_table(result))
    return result


def _cell(entry: Any) -> str:
    if isinstance(entry, dict) and "value" in entry:
        unc = entry.get("uncertainty")
        return (
            f"{entry['value']:.4g} ± {unc:.2g}" if unc == unc and unc is not None else f"{entry['value']:.4g}"
        )
    if isinstance(entry, float):
        return f"{entry:.4g}"
    return "—" if entry is None else str(entry)


def table_layout(table: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[str], list[str]]:
    """(floor columns, all columns with the floors first, metric rows in first-seen order) of a metrics table."""
    floors = [c for c in (FLOOR, RESIM) if c in table]
    cols = floors + [c for c in table if c not in floors]
    metrics: list[str] = []
    for row in table.values():
        metrics += [m for m in row if m not in metrics]
    return floors, cols, metrics


def format_table(result: Mapping[str, Any]) -> str:
    """The metrics as a text table: one row per metric, candidates side by side, the floors in their own columns."""
    table = result["metrics"]
    floors, cols, metrics = table_layout(table)
    cells = [[m] + [_cell(table[c].get(m)) for c in cols] for m in metrics]
    header = ["metric"] + [f"[{c}]" if c in floors else c for c in cols]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.append(
        "[bracketed] columns are floors: " + "; ".join(f"{k}: {v}" for k, v in result["floors"].items() if v)
    )
    return "\n".join(lines)


def hit_energy_spectra(samples: Mapping[str, JetImages]) -> dict[str, np.ndarray]:
    """ECAL hit energies of every sample (GeV), for the hit-energy spectrum plot."""
    return {name: hit_energies(j.images, 1) for name, j in samples.items()}
