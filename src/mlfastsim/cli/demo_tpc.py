"""``mlfastsim demo tpc``: seed 004's TPC chain, small — track segments through the reference MPD pad-row
simulation (training, reference and second-reference windows; the reference resimulated), train ``cgan-tpc``
and the ``library`` baseline, generate the window of every reference segment, evaluate at reconstruction
level (cluster-finding efficiency, centroid residuals, cluster charge and widths in bins of every condition,
classifier AUCs) beside the truth-vs-truth and resimulation floors, and time the generator against the
reference simulation on the same segments, in one run."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlfastsim.cli.demo import step
from mlfastsim.cli.demo_stages import DemoRun, finish, inspect_stage, simulate_shards, train_stage

__all__ = ["TPC_QUICK", "TPCDemoPlan", "run_tpc_demo"]


@dataclass(frozen=True)
class TPCDemoPlan:
    """Sizes of the TPC demo: segments per file, cgan-tpc epochs and extra settings, the batch of the speed
    measurement."""

    n_train: int = 100_000
    n_reference: int = 30_000
    epochs: int = 8
    sets: tuple[str, ...] = ()
    bench_batch: int = 10_000
    seed: int = 1


#: The quick variant (the test of the chain): every stage, tiny sizes and a small network.
TPC_QUICK = TPCDemoPlan(
    n_train=1500,
    n_reference=800,
    epochs=1,
    sets=("model.gen_hidden=[64,64]", "model.critic_hidden=[64,64]", "train.batch_size=64"),
    bench_batch=1000,
)


def _generate(args: tuple[str, int, int, tuple[int, int]]) -> dict[str, Any]:
    from mlfastsim.data.kinds.tpc.generate import generate_tpc_file

    out, n, seed, shard = args
    return generate_tpc_file(out, n, seed=seed, shard=shard)


def run_tpc_demo(out: Path, plan: TPCDemoPlan) -> dict[str, Any]:
    """Run the chain into ``out``; returns the evaluation (also in ``out/evaluation``) with the speed table
    under ``"speed"`` (also ``out/speed.json``)."""
    from mlfastsim._utils import atomic_dir, atomic_write_text
    from mlfastsim.bench.suite import bench_suite
    from mlfastsim.data.kinds import KINDS
    from mlfastsim.data.kinds.tpc.generate import resimulate_tpc_file
    from mlfastsim.evaluation.driver import evaluate
    from mlfastsim.inference import sample_run

    kind = KINDS["tpc"]
    data = out / "data"
    paths = {name: data / f"{name}.h5" for name in ("train", "reference", "second", "reference_resim")}
    timings: dict[str, float] = {}

    t = step(
        f"1/5 reference simulation: {plan.n_train} training, {plan.n_reference} reference and "
        f"{plan.n_reference} second-reference track segments through the MPD pad-row simulation (3 shards on "
        "2 processes); the reference resimulated"
    )
    sizes = {"train": plan.n_train, "reference": plan.n_reference, "second": plan.n_reference}
    simulate_shards(_generate, paths, sizes, plan.seed)
    print(
        json.dumps(resimulate_tpc_file(paths["reference"], paths["reference_resim"], seed=plan.seed + 1000))
    )
    timings["simulate"] = time.perf_counter() - t

    inspect_stage(kind, paths["train"], timings)

    runs = {
        "cgan-tpc": DemoRun("cgan-tpc", "cgan-tpc.toml", plan.sets, {"epochs": plan.epochs},
                            f" for {plan.epochs} epochs"),
        "library": DemoRun("library", "library-tpc.toml", train={"epochs": 1}, what=" (store windows)"),
    }  # fmt: skip
    loaded = {label: run for label, (_, run) in train_stage(
        kind, runs, paths["train"], out, plan.seed, timings
    ).items()}  # fmt: skip

    t = step("4/5 generate the window of every reference segment; time generation beside the reference")
    reference, second = kind.read(paths["reference"]), kind.read(paths["second"])
    resim = kind.read(paths["reference_resim"])
    samples = {label: sample_run(run, conditions=reference, seed=plan.seed) for label, run in loaded.items()}
    for label, windows in samples.items():
        kind.write(out / "samples" / f"{label}.h5", windows)
    run_dirs = {str(out / "runs" / label): label for label in loaded}
    speed = bench_suite(
        list(run_dirs), {"tpc": reference}, batches=(plan.bench_batch,), repeats=3,
        reference_events=min(plan.bench_batch, 2000), seed=plan.seed,
    )  # fmt: skip
    atomic_write_text(out / "speed.json", json.dumps(speed, indent=2, default=str))
    ref_speed = speed["references"]["tpc"]
    print(json.dumps({"reference pad-row simulation, windows/s (same segments, same process)":
                      ref_speed.get("events_per_s")}))  # fmt: skip
    for path, r in speed["runs"].items():
        timing = r["timings"][str(plan.bench_batch)]
        print(json.dumps({f"{run_dirs[path]}: windows/s @ {plan.bench_batch}": timing["events_per_s"],
                          "vs reference": r.get("vs_reference")}))  # fmt: skip
    timings["sample and time"] = time.perf_counter() - t

    t = step("5/5 evaluate at reconstruction level beside the floors (second reference; resimulation)")
    with atomic_dir(out / "evaluation") as tmp:  # the old results or the new ones, never a mix
        result = evaluate(
            kind.name,
            reference,
            {"cgan-tpc (generated | segment)": samples["cgan-tpc"],
             "library (nearest stored | segment)": samples["library"]},
            tmp,
            resim=resim,
            second_reference=second,
        )  # fmt: skip
    timings["evaluate"] = time.perf_counter() - t
    finish(str(out / "evaluation" / "report.html"), timings)
    return {**result, "speed": speed}
