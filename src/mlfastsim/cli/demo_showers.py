"""``mlfastsim demo showers``: seed 004's LHCb ECAL chain, small — photons and electrons through the reference
Shashlik ECAL (training, reference and second-reference sets; the reference resimulated), train ``cgan-shower``
(with its asymmetry regressor), its ablation without the regressor, ``flow-shower`` and the ``library``
baseline, generate a
shower for every reference particle, evaluate (W1 of energy, centroid, widths, asymmetry, cells above
threshold and the cell spectrum, FPD/KPD, classifier AUCs, average showers and residuals) beside the
truth-vs-truth and resimulation floors, and time the generator against the reference ECAL on the same
particles, in one run."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlfastsim.cli.demo import step
from mlfastsim.cli.demo_stages import DemoRun, finish, inspect_stage, simulate_shards, train_stage

__all__ = ["SHOWERS_QUICK", "ShowerDemoPlan", "run_shower_demo"]


@dataclass(frozen=True)
class ShowerDemoPlan:
    """Sizes of the showers demo: showers per set, trainer steps of each GAN, epochs of the flow, the batch of
    the speed test, and whether to train the ablation (``cgan-shower`` without its regressor) too."""

    n_train: int = 20_000
    n_reference: int = 5_000
    gan_steps: int = 2_000
    flow_epochs: int = 12
    bench_batch: int = 10_000
    ablation: bool = True
    seed: int = 1


SHOWERS_QUICK = ShowerDemoPlan(
    n_train=400,
    n_reference=200,
    gan_steps=14,
    flow_epochs=1,
    bench_batch=200,
    ablation=False,
)


def _generate(args: tuple[str, int, int, tuple[int, int]]) -> dict[str, Any]:
    from mlfastsim.data.kinds.showers.generate import generate_shower_file

    out, n, seed, shard = args
    return generate_shower_file(out, n, seed=seed, shard=shard)


def run_shower_demo(out: Path, plan: ShowerDemoPlan) -> dict[str, Any]:
    """Run the chain into ``out``; returns the evaluation (also in ``out/evaluation``) with the speed table
    under ``"speed"`` (also ``out/speed.json``)."""
    from mlfastsim._utils import atomic_write_text
    from mlfastsim.bench.suite import bench_suite
    from mlfastsim.data.kinds import KINDS
    from mlfastsim.data.kinds.showers.generate import resimulate_showers
    from mlfastsim.evaluation.driver import evaluate
    from mlfastsim.inference import sample_run

    kind = KINDS["showers"]
    data = out / "data"
    paths = {name: data / f"{name}.h5" for name in ("train", "reference", "second", "reference_resim")}
    timings: dict[str, float] = {}

    t = step(
        f"1/5 reference simulation: {plan.n_train} training, {plan.n_reference} reference and "
        f"{plan.n_reference} second-reference showers (photons and electrons into the inner LHCb ECAL, 3 shards "
        "on 2 processes); the reference resimulated"
    )
    sizes = {"train": plan.n_train, "reference": plan.n_reference, "second": plan.n_reference}
    simulate_shards(_generate, paths, sizes, plan.seed)
    print(json.dumps(resimulate_showers(paths["reference"], paths["reference_resim"], seed=plan.seed + 1000)))
    timings["simulate"] = time.perf_counter() - t

    inspect_stage(kind, paths["train"], timings)

    gan = {"max_steps": plan.gan_steps, "epochs": 10_000}
    steps = f" for {plan.gan_steps} trainer steps"
    runs = {
        "cgan-shower": DemoRun("cgan-shower", "cgan-shower.toml", (), gan, steps),
        "cgan-shower (no regressor)": DemoRun(
            "cgan-shower", "cgan-shower.toml", ("model.regressor=false",), gan, steps
        ),
        "flow-shower": DemoRun(
            "flow-shower",
            "flow-shower.toml",
            train={"epochs": plan.flow_epochs},
            what=f" for {plan.flow_epochs} epochs",
        ),
        "library": DemoRun("library", "library-showers.toml", what=" (store showers)"),
    }
    if not plan.ablation:
        del runs["cgan-shower (no regressor)"]
    loaded = train_stage(kind, runs, paths["train"], out, plan.seed, timings)

    t = step("4/5 generate a shower for every reference particle; time generation beside the reference ECAL")
    reference, second = kind.read(paths["reference"]), kind.read(paths["second"])
    resim = kind.read(paths["reference_resim"])
    samples = {
        label: sample_run(run, conditions=reference, seed=plan.seed) for label, (_, run) in loaded.items()
    }
    for label, showers in samples.items():
        kind.write(out / "samples" / f"{loaded[label][0].name}.h5", showers)
    run_dirs = {str(run_dir): label for label, (run_dir, _) in loaded.items()}
    speed = bench_suite(
        list(run_dirs), {"showers": reference.subset(slice(0, plan.bench_batch))}, batches=(plan.bench_batch,),
        repeats=3, reference_events=min(plan.bench_batch, 1000), seed=plan.seed,
    )  # fmt: skip
    atomic_write_text(out / "speed.json", json.dumps(speed, indent=2, default=str))
    ecal = speed["references"]["showers"]
    print(
        json.dumps({"reference ECAL, µs per shower (same particles, same process)": ecal.get("us_per_event")})
    )
    for path, r in speed["runs"].items():
        us = r["timings"][str(plan.bench_batch)]["us_per_event"]
        print(json.dumps({f"{run_dirs[path]}: µs per shower @ {plan.bench_batch}": us,
                          "showers/s": 1e6 / us, "vs reference ECAL": r.get("vs_reference")}))  # fmt: skip
    timings["sample and time"] = time.perf_counter() - t

    t = step("5/5 evaluate beside the floors (truth vs truth: the second reference; resimulation)")
    result = evaluate(kind.name, reference, samples, out / "evaluation", resim=resim, second_reference=second)
    timings["evaluate"] = time.perf_counter() - t
    finish(str(out / "evaluation" / "report.html"), timings)
    return {**result, "speed": speed}
