"""``mlfastsim demo particle-jets``: seed 003's chain, small — simulate particle-cloud jets at both levels,
train the particle VAE in both paradigms (generation from the prior; the detector: gen → reco) beside the
library, sample, and evaluate against held-out jets with the truth-vs-truth and resimulation floors."""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlfastsim.cli.demo import step
from mlfastsim.cli.demo_stages import DemoRun, inspect_stage, train_stage

__all__ = ["PARTICLE_QUICK", "ParticleDemoPlan", "run_particle_jet_demo"]


@dataclass(frozen=True)
class ParticleDemoPlan:
    """Sizes of the particle-jet demo: jets per split, particles per jet, epochs per paradigm."""

    process: str = "t"
    n_train: int = 2000
    n_reference: int = 1000
    particles: int = 30
    epochs_generation: int = 40
    epochs_detector: int = 30
    seed: int = 1


PARTICLE_QUICK = ParticleDemoPlan(n_train=400, n_reference=200, epochs_generation=3, epochs_detector=3)


def _generate(args: tuple[str, str, int, int, int, tuple[int, int]]) -> dict[str, Any]:
    from mlfastsim.data.kinds.particle_jets.generate import generate_particle_jet_file

    out, process, n, particles, seed, shard = args
    return generate_particle_jet_file(out, process, n, n_particles=particles, seed=seed, shard=shard)


def run_particle_jet_demo(out: Path, plan: ParticleDemoPlan) -> dict[str, Any]:
    """Run the chain into ``out``; returns both evaluations (also written to ``out/evaluation-*``)."""
    from mlfastsim._utils import atomic_dir
    from mlfastsim.data.kinds import KINDS
    from mlfastsim.data.kinds.particle_jets.generate import resimulate_particle_jets
    from mlfastsim.evaluation.driver import evaluate
    from mlfastsim.inference import sample_run

    kind = KINDS["particle-jets"]
    data = out / "data"
    paths = {name: data / f"{name}.h5" for name in ("train", "reference", "second", "reference_resim")}
    timings: dict[str, float] = {}

    t = step(
        f"1/5 reference simulation: {plan.n_train} training, {plan.n_reference} reference and {plan.n_reference} "
        f"second-reference {plan.process} jets at ≈1 TeV, {plan.particles} particles, generator and detector level "
        "(6 shards on 2 processes)"
    )
    sizes = {"train": plan.n_train, "reference": plan.n_reference, "second": plan.n_reference}
    parts = {name: [data / f"{name}_part{i}.h5" for i in range(2)] for name in sizes}
    jobs = [
        (
            str(p),
            plan.process,
            sizes[name] // 2 + i * (sizes[name] % 2),
            plan.particles,
            plan.seed,
            (2 * k + i, 6),
        )
        for k, name in enumerate(sizes)
        for i, p in enumerate(parts[name])
    ]
    with ProcessPoolExecutor(max_workers=2) as pool:
        for summary in pool.map(_generate, jobs):
            print(json.dumps(summary))
    for name in sizes:
        kind.write(paths[name], kind.concatenate([kind.read(p) for p in parts[name]]))
        for p in parts[name]:
            p.unlink()
    print(
        json.dumps(
            resimulate_particle_jets(paths["reference"], paths["reference_resim"], seed=plan.seed + 1000)
        )
    )
    timings["simulate"] = time.perf_counter() - t

    inspect_stage(kind, paths["train"], timings)

    gen, det = plan.epochs_generation, plan.epochs_detector
    runs = {
        "particle-vae (generation)": DemoRun(
            "particle-vae", "particle-vae.toml", ("data.level=gen",), {"epochs": gen}, f" for {gen} epochs"
        ),
        "particle-vae (detector)": DemoRun(
            "particle-vae",
            "particle-vae-detector.toml",
            (),
            {"epochs": det},
            f" for {det} epochs",
        ),
        "library": DemoRun("library", "library-particle-jets.toml", (), {"epochs": 1}, " (store the jets)"),
    }
    trained = train_stage(kind, runs, paths["train"], out, plan.seed, timings)
    loaded = {label: run for label, (_, run) in trained.items()}

    t = step("4/5 sample: from the prior, and one detector-level jet per reference generator-level jet")
    reference, second = kind.read(paths["reference"]), kind.read(paths["second"])
    resim = kind.read(paths["reference_resim"])
    start = time.perf_counter()
    prior = sample_run(loaded["particle-vae (generation)"], n=len(reference), seed=plan.seed)
    rate = len(prior) / (time.perf_counter() - start)
    print(json.dumps({"particle-vae prior sampling, jets/s (decoding included)": round(rate, 1)}))
    detector = sample_run(loaded["particle-vae (detector)"], conditions=reference, seed=plan.seed)
    library = sample_run(loaded["library"], conditions=reference, seed=plan.seed)
    samples = out / "samples"
    for name, events in (("prior", prior), ("detector", detector), ("library", library)):
        kind.write(samples / f"{name}.h5", events)
    timings["sample"] = time.perf_counter() - t

    t = step("5/5 evaluate beside the floors: generation (gen level) and detector (reco level)")
    with atomic_dir(out / "evaluation-generation") as tmp:  # the old results or the new ones, never a mix
        generation = evaluate(
            kind.name, reference, {"particle-vae (prior)": prior}, tmp, second_reference=second
        )
    with atomic_dir(out / "evaluation-detector") as tmp:
        detector_eval = evaluate(
            kind.name,
            reference,
            {
                "particle-vae (detector | gen jet)": detector,
                "library (nearest stored | gen pT, eta, m)": library,
            },
            tmp,
            resim=resim,
            second_reference=second,
        )
    timings["evaluate"] = time.perf_counter() - t
    print(
        f"\nReports: {out / 'evaluation-generation' / 'report.html'}, {out / 'evaluation-detector' / 'report.html'}"
        f"\nStage times (s): {json.dumps({k: round(v, 1) for k, v in timings.items()})}"
    )
    return {"generation": generation, "detector": detector_eval}
