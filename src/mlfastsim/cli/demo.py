"""``mlfastsim demo``: the whole chain, small — simulate, inspect, train, sample, evaluate, report."""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DemoPlan", "add_parser", "run", "run_demo"]


@dataclass(frozen=True)
class DemoPlan:
    """Sizes of the demo: jets for training and for the held-out reference, epochs per model."""

    n_train: int = 3000
    n_reference: int = 1500
    epochs_paper: int = 2
    epochs_gvae: int = 30
    seed: int = 1


QUICK = DemoPlan(n_train=600, n_reference=300, epochs_paper=1, epochs_gvae=3)


def add_parser(sub: Any) -> None:
    """Register ``demo`` on the top-level subparsers."""
    p = sub.add_parser(
        "demo",
        help="run the whole chain on the embedded reference simulation (about 11 minutes on 2 cores; --quick about 2)",
        description=(
            "jet-images (the default): generate qcd jets with the reference simulation (training set, a "
            "disjoint reference set and its resimulated copy), inspect them, draw event displays, train "
            "gvae-paper and gvae briefly, sample, and evaluate everything against the reference with the noise "
            "floors beside. particle-jets: seed 003's chain on 1 TeV top jets at generator and detector level "
            "(particle-vae in both paradigms beside the library; about 10 minutes, --quick about 3). pid: seed "
            "004's RICH chain (Pythia tracks through the reference RICH, cgan-pid beside the library, efficiency "
            "ratios in bins of P, eta, nTracks per species, speed beside the RICH; --quick about 1 minute). tpc: "
            "seed 004's MPD TPC chain (pad-row windows of track segments, cgan-tpc beside the library, "
            "cluster-finding efficiency and centroid residuals in bins of every condition, speed beside the "
            "reference simulation; about 15 minutes, --quick about 1). showers: seed 004's LHCb ECAL chain (photons "
            "and electrons through the reference Shashlik ECAL, cgan-shower with its asymmetry regressor, its "
            "ablation, flow-shower and the library, W1 of energy, widths, asymmetry beside the floors, average "
            "showers, speed beside the ECAL; about 15 minutes before flow-shower's 12 epochs were added, not yet "
            "timed with them; --quick about 2). ttbar: seeds 000 and 002's experiment (boosted "
            "top jets as hit clouds in tracks, ECAL and HCAL at each channel's granularity; the three-channel "
            "gvae from the particles and from its flow prior, gvae-paper-3ch and the mean-hit baseline "
            "reconstructing, every channel beside the floors, three-channel event displays, speed; --anomaly "
            "adds the top-vs-QCD AUC of a gvae trained on QCD jets)."
        ),
    )
    p.add_argument(
        "kind",
        nargs="?",
        default="jet-images",
        choices=("jet-images", "particle-jets", "pid", "showers", "tpc", "ttbar"),
        help="which chain",
    )
    p.add_argument("--out", default=None, help="output folder (default demo-output, or demo-output-<kind>)")
    p.add_argument("--quick", action="store_true", help="a smaller demo (about 2 minutes)")
    p.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier demo in --out")
    p.add_argument("--seed", type=int, default=1, help="seed of the whole chain (default 1)")
    p.add_argument(
        "--anomaly",
        action="store_true",
        help="ttbar: also train a gvae on QCD jets and report the top-vs-QCD anomaly AUC (about doubles the time)",
    )
    p.set_defaults(func=run)


def _generate(args: tuple[str, str, int, int, tuple[int, int]]) -> dict[str, Any]:
    from mlfastsim.data.generate import generate_jet_images

    out, process, n, seed, shard = args
    return generate_jet_images(out, process, n, seed=seed, shard=shard)


def step(title: str) -> float:
    """Print a demo stage's heading; returns the start time (for the stage timings)."""
    print(f"\n== {title}", flush=True)
    return time.perf_counter()


def run_demo(out: Path, plan: DemoPlan) -> dict[str, Any]:
    """Run the chain into ``out``; returns the evaluation summary (also written to ``out``)."""
    from mlfastsim._utils import atomic_dir, load_config_file
    from mlfastsim.data import concatenate_jets
    from mlfastsim.data.generate import resimulate_jet_images
    from mlfastsim.data.io import inspect_file, read_jet_images, write_jet_images
    from mlfastsim.data.io.inspect import format_inspection
    from mlfastsim.evaluation.displays import plot_event_displays
    from mlfastsim.evaluation.driver import evaluate
    from mlfastsim.inference import batch_keys, load_run, reconstruct_run, sample_run
    from mlfastsim.training.runs import resolve_run_config, train_run

    data = out / "data"
    train_path, ref_path, resim_path = (
        data / "train.parquet",
        data / "reference.parquet",
        data / "reference_resim.parquet",
    )
    timings: dict[str, float] = {}

    t = step(
        f"1/6 reference simulation: {plan.n_train} training + {plan.n_reference} reference qcd jets "
        "(4 shards on 2 processes)"
    )
    parts = {name: [data / f"{name}_part{i}.parquet" for i in range(2)] for name in ("train", "reference")}
    sizes = {"train": plan.n_train, "reference": plan.n_reference}
    jobs = [
        (str(path), "qcd", sizes[name] // 2 + (i * (sizes[name] % 2)), plan.seed, (2 * k + i, 4))
        for k, name in enumerate(("train", "reference"))
        for i, path in enumerate(parts[name])
    ]
    with ProcessPoolExecutor(max_workers=2) as pool:
        for summary in pool.map(_generate, jobs):
            print(json.dumps(summary))
    for name, target in (("train", train_path), ("reference", ref_path)):
        write_jet_images(target, concatenate_jets([read_jet_images(p) for p in parts[name]]))
        for p in parts[name]:
            p.unlink()
    print(json.dumps(resimulate_jet_images(ref_path, resim_path, seed=plan.seed + 1000)))
    timings["simulate"] = time.perf_counter() - t

    t = step("2/6 inspect and event displays")
    summary = inspect_file(train_path)
    print(format_inspection(summary))
    reference = read_jet_images(ref_path)
    resim = read_jet_images(resim_path)
    picks = list(range(3))
    displays = out / "displays"
    plot_event_displays(
        [img for i in picks for img in (reference.images[i], resim.images[i])],
        [name for i in picks for name in (f"reference #{i} (y={reference.y[i]:.0f})", f"resimulated #{i}")],
        displays / "reference_vs_resimulated.png",
        title="Same generator-level jets, detector run twice",
    )
    timings["inspect"] = time.perf_counter() - t

    candidates = {}
    families = (
        ("gvae-paper", plan.epochs_paper),
        ("gvae", plan.epochs_gvae),
        ("library", 1),
        ("mean-hit", 1),
    )
    for family, epochs in families:
        fitted = {
            "library": " (store the training jets)",
            "mean-hit": " (the trivial baseline: nothing to fit)",
        }
        t = step(f"3/6 train {family}" + fitted.get(family, f" for {epochs} epoch(s)"))
        config_file = Path(__file__).resolve().parents[3] / "configs" / f"{family}.toml"
        file_cfg = load_config_file(config_file) if config_file.exists() else None
        cfg = resolve_run_config(family, "jet-images", file_cfg, [], epochs=epochs, seed=plan.seed)
        print(json.dumps(train_run(cfg, train_path, out / "runs" / family, overwrite=True), default=str))
        timings[f"train {family}"] = time.perf_counter() - t

        t = step(f"4/6 {family}: reconstruct or generate the reference jets")
        loaded = load_run(out / "runs" / family)
        if family != "library":
            recon = reconstruct_run(loaded, reference)
            write_jet_images(out / "samples" / f"{family}_reconstructed.parquet", recon)
            candidates[f"{family} (reconstructed)"] = recon
        if family in ("gvae-paper", "mean-hit"):  # they reconstruct, they cannot generate
            continue
        start = time.perf_counter()
        generated = sample_run(loaded, conditions=reference, seed=plan.seed)
        rate = len(generated) / (time.perf_counter() - start)
        label = "generated" if family == "gvae" else "nearest stored"
        print(json.dumps({f"{family} conditional generation jets/s (jet images included)": round(rate, 1)}))
        write_jet_images(out / "samples" / f"{family}_conditional.parquet", generated)
        candidates[
            f"{family} ({label} | particles)"
            if "gen_features" in batch_keys(cfg.model)
            else f"{family} ({label} | pT, eta, m)"
        ] = generated
        if family == "gvae":
            prior = sample_run(loaded, n=len(reference), seed=plan.seed)
            write_jet_images(out / "samples" / "gvae_prior.parquet", prior)
            candidates["gvae (prior, unconditional)"] = prior
        timings[f"sample {family}"] = time.perf_counter() - t

    t = step("5/6 event displays: reference vs models")
    rows, names = [], []
    for i in picks[:2]:
        rows.append(reference.images[i])
        names.append(f"reference #{i}")
        for name, cand in candidates.items():
            rows.append(cand.images[i])
            names.append(f"{name} #{i}")
    plot_event_displays(rows, names, displays / "reference_vs_models.png", channels=(1,))

    t = step("6/6 evaluate against the held-out reference, beside the noise floors")
    train = read_jet_images(train_path, max_events=len(reference))
    with atomic_dir(out / "evaluation") as tmp:  # the old results or the new ones, never a mix
        result = evaluate("jet-images", reference, candidates, tmp, resim=resim, second_reference=train)
    timings["evaluate"] = time.perf_counter() - t
    print(
        f"\nReport: {out / 'evaluation' / 'report.html'}\n"
        f"Stage times (s): {json.dumps({k: round(v, 1) for k, v in timings.items()})}"
    )
    return result


def run(args: argparse.Namespace) -> int:
    """Run the demo."""
    from mlfastsim._utils import check_writable_dir

    out = Path(args.out or ("demo-output" if args.kind == "jet-images" else f"demo-output-{args.kind}"))
    check_writable_dir(out, "--out", create=False, overwrite=args.overwrite)
    start = time.perf_counter()
    if args.kind == "particle-jets":
        from mlfastsim.cli.demo_particle_jets import PARTICLE_QUICK, ParticleDemoPlan, run_particle_jet_demo

        pplan = PARTICLE_QUICK if args.quick else ParticleDemoPlan()
        run_particle_jet_demo(out, ParticleDemoPlan(**{**pplan.__dict__, "seed": args.seed}))
    elif args.kind == "tpc":
        from mlfastsim.cli.demo_tpc import TPC_QUICK, TPCDemoPlan, run_tpc_demo

        plan_tpc = TPC_QUICK if args.quick else TPCDemoPlan()
        run_tpc_demo(out, TPCDemoPlan(**{**plan_tpc.__dict__, "seed": args.seed}))
    elif args.kind == "showers":
        from mlfastsim.cli.demo_showers import SHOWERS_QUICK, ShowerDemoPlan, run_shower_demo

        plan_showers = SHOWERS_QUICK if args.quick else ShowerDemoPlan()
        run_shower_demo(out, ShowerDemoPlan(**{**plan_showers.__dict__, "seed": args.seed}))
    elif args.kind == "ttbar":
        from mlfastsim.cli.demo_ttbar import TTBAR_QUICK, TtbarDemoPlan, run_ttbar_demo

        plan_ttbar = TTBAR_QUICK if args.quick else TtbarDemoPlan()
        run_ttbar_demo(
            out, TtbarDemoPlan(**{**plan_ttbar.__dict__, "seed": args.seed, "anomaly": args.anomaly})
        )
    elif args.kind == "pid":
        from mlfastsim.cli.demo_pid import PID_QUICK, PIDDemoPlan, run_pid_demo

        plan_pid = PID_QUICK if args.quick else PIDDemoPlan()
        run_pid_demo(out, PIDDemoPlan(**{**plan_pid.__dict__, "seed": args.seed}))
    else:
        plan = QUICK if args.quick else DemoPlan()
        run_demo(out, DemoPlan(**{**plan.__dict__, "seed": args.seed}))
    print(f"demo finished in {time.perf_counter() - start:.0f} s; outputs in {out}/")
    return 0
