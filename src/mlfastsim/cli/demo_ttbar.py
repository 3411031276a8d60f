"""``mlfastsim demo ttbar``: seeds 000 and 002's experiment, small — boosted top jets (tt̄, Pythia 8 → the
reference detector) as hit clouds in three channels at each channel's granularity (tracks to the crystal,
ECAL crystals, HCAL towers), the three-channel ``gvae`` generating from the particles and from its prior,
``gvae-paper-3ch`` and the ``mean-hit`` trivial baseline reconstructing, every channel evaluated beside the
truth-vs-truth floor (a second reference) and the per-event floor (the reference resimulated), three-channel
event displays, a speed table from the bench, and, with ``--anomaly``, the top-vs-QCD anomaly AUC of a
``gvae`` trained on QCD jets only."""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlfastsim.cli.demo import step

__all__ = ["TTBAR_QUICK", "TtbarDemoPlan", "run_ttbar_demo"]

#: Shipped run configs (``configs/`` of the checkout).
CONFIGS = Path(__file__).resolve().parents[3] / "configs"

#: Background of the anomaly stage: the boosted-QCD preset (R = 0.8, pT > 400 GeV, as the tt̄ jets).
QCD = "qcd-boosted"


@dataclass(frozen=True)
class TtbarDemoPlan:
    """Sizes of the ttbar demo: jets per file, training length per run (``max_steps`` None: whole epochs),
    gvae's prior (``model.prior``: "flow" or "normal") and the flow's fitting steps, the jets shown in
    event displays, whether the evaluation draws its plots and report.html (``plots``), the bench batch
    (jets per call) and repeats, the anomaly stage's QCD training jets (as many held out as
    ``n_reference``) and whether it runs."""

    n_train: int = 1200
    n_reference: int = 400
    epochs_gvae: int = 6
    epochs_paper: int = 2
    max_steps_gvae: int | None = None
    max_steps_paper: int | None = None
    prior: str = "flow"
    prior_steps: int = 300
    display_jets: int = 3
    plots: bool = True
    bench_batch: int = 64
    bench_repeats: int = 3
    anomaly: bool = False
    n_qcd_train: int = 1200
    seed: int = 1


TTBAR_QUICK = TtbarDemoPlan(
    n_train=64,
    n_reference=32,
    epochs_gvae=1,
    epochs_paper=1,
    max_steps_gvae=2,
    max_steps_paper=1,
    prior_steps=5,
    display_jets=1,
    plots=False,
    bench_batch=8,
    bench_repeats=1,
    n_qcd_train=64,
)


def _generate(args: tuple[str, str, int, int, tuple[int, int]]) -> dict[str, Any]:
    from mlfastsim.data.generate import generate_jet_images

    out, process, n, seed, shard = args
    return generate_jet_images(out, process, n, seed=seed, shard=shard)


def _resimulate(args: tuple[str, str, int]) -> dict[str, Any]:
    from mlfastsim.data.generate import resimulate_jet_images

    source, out, seed = args
    return resimulate_jet_images(source, out, seed=seed)


def _simulate(paths: dict[str, Path], plan: TtbarDemoPlan) -> None:
    """Every file of the demo as shards of one generation seeded ``plan.seed`` — the training set as tt̄
    shards 0 and 1 of 6 (joined), the reference and second reference as 2 and 3, with the anomaly stage the
    QCD files as 4 and 5, so the tt̄ files are the same with and without it — then the reference
    resimulated; on 2 processes."""
    from mlfastsim.data import concatenate_jets
    from mlfastsim.data.io import read_jet_images, write_jet_images

    half = plan.n_train // 2
    sizes = {"train_a": ("ttbar", half), "train_b": ("ttbar", plan.n_train - half)}
    sizes |= {"reference": ("ttbar", plan.n_reference), "second": ("ttbar", plan.n_reference)}
    if plan.anomaly:
        sizes |= {"qcd_train": (QCD, plan.n_qcd_train), "qcd_reference": (QCD, plan.n_reference)}
    parts = {k: paths.get(k, paths["train"].with_name(f"{k}.h5")) for k in sizes}
    jobs = [(str(parts[k]), p, n, plan.seed, (i, 6)) for i, (k, (p, n)) in enumerate(sizes.items())]
    paths["train"].parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=2) as pool:
        for summary in pool.map(_generate, jobs):
            print(json.dumps(summary))
    write_jet_images(
        paths["train"], concatenate_jets([read_jet_images(parts[k]) for k in ("train_a", "train_b")])
    )
    for k in ("train_a", "train_b"):
        parts[k].unlink()
    print(json.dumps(_resimulate((str(paths["reference"]), str(paths["reference_resim"]), plan.seed + 1000))))


def _train(
    family: str,
    config: str,
    train_file: Path,
    run_dir: Path,
    plan: TtbarDemoPlan,
    sets: list[str],
    **train: Any,
) -> Any:
    """Train ``family`` from ``configs/<config>`` (only its ``[data]`` table for a family without its own
    file, e.g. mean-hit on the gvae-3ch channels) with ``--set`` strings ``sets``; returns the loaded run."""
    from mlfastsim._utils import load_config_file
    from mlfastsim.inference import load_run
    from mlfastsim.training.runs import resolve_run_config, train_run

    file_cfg = load_config_file(CONFIGS / config)
    if not config.startswith(family):
        file_cfg = {"data": file_cfg["data"]}
    cfg = resolve_run_config(family, "jet-images", file_cfg, sets, seed=plan.seed, **train)
    print(json.dumps(train_run(cfg, train_file, run_dir, overwrite=True), default=str))
    return load_run(run_dir)


def _speed(out: Path, runs: dict[str, Path], reference: Any, plan: TtbarDemoPlan) -> dict[str, Any]:
    """The bench on the trained runs (conditioned on the reference jets), reference simulation beside;
    written to ``out/speed.json`` and ``out/speed.md``; prints the table."""
    from mlfastsim._utils import atomic_write_text
    from mlfastsim.bench.report import markdown_table, text_table
    from mlfastsim.bench.suite import bench_suite

    speed = bench_suite(
        [str(p) for p in runs.values()],
        {"jet-images": reference},
        batches=(plan.bench_batch,),
        repeats=plan.bench_repeats,
        reference_events=min(plan.bench_batch, len(reference)),
        seed=plan.seed,
    )
    atomic_write_text(out / "speed.json", json.dumps(speed, indent=2, default=str))
    atomic_write_text(out / "speed.md", markdown_table(speed, ("mlfastsim", "demo", "ttbar")))
    print(text_table(speed))
    return speed


def _anomaly(out: Path, paths: dict[str, Path], plan: TtbarDemoPlan, reference: Any) -> dict[str, Any]:
    """Top-vs-QCD: a three-channel gvae trained on QCD jets only scores held-out QCD (background) and the
    tt̄ reference (signal); the ROC AUC with its Hanley–McNeil error and 68 % bootstrap interval."""
    from mlfastsim.cli.score import auc_summary
    from mlfastsim.data.io import read_jet_images
    from mlfastsim.inference import score_run

    sets = [f"model.prior={plan.prior}", f"model.prior_steps={plan.prior_steps}"]
    run = _train(
        "gvae", "gvae-3ch.toml", paths["qcd_train"], out / "runs" / "gvae-3ch-qcd", plan, sets,
        epochs=plan.epochs_gvae, max_steps=plan.max_steps_gvae,
    )  # fmt: skip
    bkg = score_run(run, read_jet_images(paths["qcd_reference"]))
    return {"score": "negative ELBO", **auc_summary(bkg, score_run(run, reference), seed=plan.seed)}


def run_ttbar_demo(out: Path, plan: TtbarDemoPlan) -> dict[str, Any]:
    """Run the chain into ``out``; returns the evaluation (``out/evaluation``: metrics.json, report.html)
    with ``"speed"`` (``out/speed.json``) and ``"anomaly"`` (``out/anomaly.json``; ``{"skipped": why}``
    without ``plan.anomaly``)."""
    from mlfastsim._utils import atomic_dir, atomic_write_text
    from mlfastsim.data.io import inspect_file, read_jet_images, write_jet_images
    from mlfastsim.data.io.inspect import format_inspection
    from mlfastsim.evaluation.displays import plot_jet_displays
    from mlfastsim.evaluation.driver import evaluate
    from mlfastsim.evaluation.table import format_table
    from mlfastsim.inference import reconstruct_run, sample_run

    data, runs_dir, samples = out / "data", out / "runs", out / "samples"
    names = ("train", "reference", "second", "reference_resim", "qcd_train", "qcd_reference")
    paths = {name: data / f"{name}.h5" for name in names}
    timings: dict[str, float] = {}

    t = step(
        f"1/6 reference simulation: {plan.n_train} training, {plan.n_reference} reference and "
        f"{plan.n_reference} second-reference tt̄ jets (R = 0.8, pT > 400 GeV; tracks, ECAL, HCAL)"
        + (f", {plan.n_qcd_train} + {plan.n_reference} {QCD} jets" if plan.anomaly else "")
        + " in shards on 2 processes; the reference resimulated"
    )
    _simulate(paths, plan)
    timings["simulate"] = time.perf_counter() - t

    t = step("2/6 inspect: hits per channel at each channel's granularity")
    print(format_inspection(inspect_file(paths["train"])))
    timings["inspect"] = time.perf_counter() - t

    prior = [f"model.prior={plan.prior}", f"model.prior_steps={plan.prior_steps}"]
    trainings = {
        "gvae-3ch": ("gvae", "gvae-3ch.toml", prior, plan.epochs_gvae, plan.max_steps_gvae),
        "gvae-paper-3ch": ("gvae-paper", "gvae-paper-3ch.toml", [], plan.epochs_paper, plan.max_steps_paper),
        "mean-hit": ("mean-hit", "gvae-3ch.toml", [], 1, None),
    }
    loaded = {}
    for label, (family, config, sets, epochs, steps) in trainings.items():
        what = " (the trivial baseline on gvae-3ch's hits: nothing to fit)" if family == "mean-hit" else (
            f" ({config}) for {epochs} epoch(s)" + (f", at most {steps} steps" if steps else "")
        )  # fmt: skip
        t = step(f"3/6 train {label}{what}")
        loaded[label] = _train(
            family, config, paths["train"], runs_dir / label, plan, sets, epochs=epochs, max_steps=steps
        )
        timings[f"train {label}"] = time.perf_counter() - t

    t = step("4/6 sample: gvae-3ch from the particles and from its prior; every run reconstructs")
    reference, resim = read_jet_images(paths["reference"]), read_jet_images(paths["reference_resim"])
    gvae = loaded["gvae-3ch"]
    prior_kind = gvae.model_config.prior  # "normal" or "flow"
    start = time.perf_counter()
    files = {"gvae-3ch (generated | particles)": "gvae-3ch_particles.h5"}
    candidates = {"gvae-3ch (generated | particles)": sample_run(gvae, conditions=reference, seed=plan.seed)}
    rates = {"gvae-3ch from particles, jets/s": len(reference) / (time.perf_counter() - start)}
    start = time.perf_counter()
    files[f"gvae-3ch (prior: {prior_kind})"] = "gvae-3ch_prior.h5"
    candidates[f"gvae-3ch (prior: {prior_kind})"] = sample_run(gvae, n=len(reference), seed=plan.seed)
    rates["gvae-3ch from the prior, jets/s"] = len(reference) / (time.perf_counter() - start)
    print(json.dumps({k: round(v, 1) for k, v in rates.items()}))
    for label, run in loaded.items():
        candidates[f"{label} (reconstructed)"] = reconstruct_run(run, reference)
        files[f"{label} (reconstructed)"] = f"{label}_reconstructed.h5"
    for name, jets in candidates.items():
        write_jet_images(samples / files[name], jets)
    timings["sample"] = time.perf_counter() - t

    t = step("5/6 event displays of all three channels: the reference, its resimulation, every model")
    shown = {"resimulated": resim.images, **{name: jets.images for name, jets in candidates.items()}}
    for path in plot_jet_displays(
        reference.images, shown, out / "displays", channels=(0, 1, 2), n_jets=plan.display_jets
    ):
        print(path)
    timings["displays"] = time.perf_counter() - t

    t = step("6/6 evaluate every channel beside the floors; speed; top-vs-QCD anomaly AUC")
    second = read_jet_images(paths["second"])
    with atomic_dir(out / "evaluation") as tmp:  # the old results or the new ones, never a mix
        result = evaluate(
            "jet-images", reference, candidates, tmp, resim=resim, second_reference=second, plots=plan.plots
        )
    atomic_write_text(out / "table.txt", format_table(result) + "\n")  # evaluate printed it
    timings["evaluate"] = time.perf_counter() - t
    t = time.perf_counter()
    speed = _speed(out, {k: runs_dir / k for k in ("gvae-3ch", "gvae-paper-3ch")}, reference, plan)
    timings["speed"] = time.perf_counter() - t
    t = time.perf_counter()
    if plan.anomaly:
        anomaly = _anomaly(out, paths, plan, reference)
        timings["anomaly"] = time.perf_counter() - t
    else:
        anomaly = {
            "skipped": "top-vs-QCD anomaly AUC skipped: it needs a QCD-trained gvae (run with --anomaly)"
        }
    atomic_write_text(out / "anomaly.json", json.dumps(anomaly, indent=2) + "\n")
    print(json.dumps({"top-vs-QCD anomaly": anomaly}))
    report = out / "evaluation" / "report.html" if plan.plots else "none (--quick draws no plots)"
    print(
        f"\nReport: {report} (table: {out / 'table.txt'}, speed: {out / 'speed.md'})"
        f"\nStage times (s): {json.dumps({k: round(v, 1) for k, v in timings.items()})}"
    )
    return {**result, "speed": speed, "anomaly": anomaly}
