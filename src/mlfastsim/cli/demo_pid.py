"""``mlfastsim demo pid``: seed 004's RICH chain, small — Pythia minimum-bias tracks through the reference RICH
(training, reference and second-reference tables; the reference resimulated), train ``cgan-pid``, ``flow-pid``
and the ``library`` baseline, generate the DLLs of every reference track, evaluate (efficiency ratios in bins of P, η
and nTracks per species, W1, classifier AUC) beside the truth-vs-truth and resimulation floors, and time the
generator against the reference RICH on the same tracks, in one run."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlfastsim.cli.demo import step
from mlfastsim.cli.demo_stages import DemoRun, finish, inspect_stage, simulate_shards, train_stage

__all__ = ["PID_QUICK", "PIDDemoPlan", "run_pid_demo"]


@dataclass(frozen=True)
class PIDDemoPlan:
    """Sizes of the PID demo: tracks per table, epochs of cgan-pid and flow-pid, the (z, c) pairs and steps of
    flow-pid's student, the batch of the speed measurement."""

    n_train: int = 100_000
    n_reference: int = 50_000
    epochs: int = 10
    distill_pairs: int = 1_000_000
    distill_steps: int = 8000
    bench_batch: int = 10_000
    seed: int = 1


PID_QUICK = PIDDemoPlan(
    n_train=2000, n_reference=1500, epochs=1, distill_pairs=20_000, distill_steps=200, bench_batch=1000
)


def _generate(args: tuple[str, int, int, tuple[int, int]]) -> dict[str, Any]:
    from mlfastsim.data.kinds.pid.generate import generate_pid_file

    out, n, seed, shard = args
    return generate_pid_file(out, n, seed=seed, shard=shard)


def run_pid_demo(out: Path, plan: PIDDemoPlan) -> dict[str, Any]:
    """Run the chain into ``out``; returns the evaluation (also in ``out/evaluation``) with the speed table
    under ``"speed"`` (also ``out/speed.json``)."""
    from mlfastsim._utils import atomic_write_text
    from mlfastsim.bench.suite import bench_suite
    from mlfastsim.data.kinds import KINDS
    from mlfastsim.data.kinds.pid.generate import resimulate_pid
    from mlfastsim.evaluation.driver import evaluate
    from mlfastsim.inference import sample_run

    kind = KINDS["pid"]
    data = out / "data"
    paths = {name: data / f"{name}.h5" for name in ("train", "reference", "second", "reference_resim")}
    timings: dict[str, float] = {}

    t = step(
        f"1/5 reference simulation: {plan.n_train} training, {plan.n_reference} reference and "
        f"{plan.n_reference} second-reference tracks (Pythia 8 minimum bias -> reference RICH, 3 shards on 2 "
        "processes); the reference resimulated"
    )
    sizes = {"train": plan.n_train, "reference": plan.n_reference, "second": plan.n_reference}
    simulate_shards(_generate, paths, sizes, plan.seed)
    print(json.dumps(resimulate_pid(paths["reference"], paths["reference_resim"], seed=plan.seed + 1000)))
    timings["simulate"] = time.perf_counter() - t

    inspect_stage(kind, paths["train"], timings)

    runs = {
        "cgan-pid": DemoRun("cgan-pid", "cgan-pid.toml", train={"epochs": plan.epochs},
                            what=f" for {plan.epochs} epochs"),
        "flow-pid": DemoRun("flow-pid", "flow-pid.toml", train={"epochs": plan.epochs},
                            overrides=(f"model.distill_pairs={plan.distill_pairs}",
                                       f"model.distill_steps={plan.distill_steps}"),
                            what=f" for {plan.epochs} epochs, then its student"),
        "library": DemoRun("library", "library-pid.toml", train={"epochs": 1}, what=" (store tracks)"),
    }  # fmt: skip
    loaded = {label: run for label, (_, run) in train_stage(
        kind, runs, paths["train"], out, plan.seed, timings, overwrite=False
    ).items()}  # fmt: skip

    t = step("4/5 generate the DLLs of every reference track; time generation beside the reference RICH")
    reference, second = kind.read(paths["reference"]), kind.read(paths["second"])
    resim = kind.read(paths["reference_resim"])
    samples = {label: sample_run(run, conditions=reference, seed=plan.seed) for label, run in loaded.items()}
    for label, table in samples.items():
        kind.write(out / "samples" / f"{label}.h5", table)
    run_dirs = {str(out / "runs" / label): label for label in loaded}
    speed = bench_suite(
        list(run_dirs), {"pid": reference}, batches=(plan.bench_batch,), repeats=3,
        reference_events=plan.bench_batch, seed=plan.seed,
    )  # fmt: skip
    atomic_write_text(out / "speed.json", json.dumps(speed, indent=2, default=str))
    rich = speed["references"]["pid"]
    print(json.dumps({"reference RICH, µs per track (same tracks, same process)": rich.get("us_per_event")}))
    for path, r in speed["runs"].items():
        us = r["timings"][str(plan.bench_batch)]["us_per_event"]
        print(json.dumps({f"{run_dirs[path]}: µs per track @ {plan.bench_batch}": us,
                          "tracks/s": 1e6 / us, "vs reference RICH": r.get("vs_reference")}))  # fmt: skip
    timings["sample and time"] = time.perf_counter() - t

    t = step("5/5 evaluate beside the floors (truth vs truth: the second reference; resimulation)")
    result = evaluate(
        kind.name,
        reference,
        {"cgan-pid (generated | P, eta, nTracks, species)": samples["cgan-pid"],
         "flow-pid (generated | P, eta, nTracks, species)": samples["flow-pid"],
         "library (nearest stored | P, eta, nTracks, species)": samples["library"]},
        out / "evaluation",
        resim=resim,
        second_reference=second,
    )  # fmt: skip
    timings["evaluate"] = time.perf_counter() - t
    finish(str(out / "evaluation" / "report.html"), timings)
    return {**result, "speed": speed}
