"""One benchmark for every family: each run, the reference simulation of its kind and, for jet images, the
seeds' ``gvae-paper``, all timed in the same process on the same events, with the ratios between them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from mlfastsim.bench.paper import bench_reconstruction, fresh_paper_run
from mlfastsim.bench.reference import bench_reference
from mlfastsim.bench.runs import bench_run
from mlfastsim.bench.sampler import bench_sampler
from mlfastsim.bench.timing import machine_facts
from mlfastsim.data.kinds import get_kind
from mlfastsim.inference import LoadedRun, load_run
from mlfastsim.inference.backends import with_backend
from mlfastsim.models import Exportable

__all__ = ["PAPER", "bench_suite"]

#: The name under which the fresh-weight ``gvae-paper`` baseline appears among the runs.
PAPER = "gvae-paper (fresh weights)"


def bench_suite(
    runs: Sequence[str],
    conditions: Mapping[str, Any] | None = None,
    batches: Sequence[int] = (1, 64, 10_000),
    repeats: int = 5,
    reference_events: int = 64,
    example_events: int = 256,
    precision: str = "fp32",
    seed: int = 0,
    backend: str = "torch",
) -> dict[str, Any]:
    """Time every run of ``runs`` (directories), the reference simulation of each kind among them and, when
    a jet-image run is among them, ``gvae-paper`` (a trained run of it if given, else fresh weights).

    Args:
        runs: run directories written by ``mlfastsim train``.
        conditions: kind name → events to condition on and to resimulate: every run of that kind is timed
            conditioned on them when it takes conditions (:func:`~mlfastsim.bench.runs.bench_run`,
            ``use_given``); a kind no run has is refused (ValueError). A kind missing here uses
            ``kind.example(example_events, seed)`` (tiny synthetic events through the real detector) and
            its runs sample from the prior when they can.
        batches: events per call; reference_events: events per reference-simulation call.
        repeats: timed calls per measurement (median reported), after one warm-up call.
        precision: ``"fp32"`` or ``"bf16"`` (autocast) for the runs.
        backend: ``torch``, ``onnx`` or ``c``: where the exportable runs sample (:func:`_on_backend`).

    Returns:
        ``runs`` (per run: :func:`~mlfastsim.bench.runs.bench_run`'s result plus ``events``, ``vs_reference``
        and, for jet images, ``vs_gvae_paper``: ratios of µs per event, per batch), ``references`` (per kind:
        :func:`~mlfastsim.bench.reference.bench_reference`), the settings and the machine facts.
    """
    chosen: dict[str, Any] = dict(conditions or {})
    given = set(chosen)
    described: dict[str, str] = {k: "given file" for k in chosen}
    out: dict[str, Any] = {
        "batches": list(batches),
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        "precision": precision,
        "runs": {},
        "references": {},
    }
    placed = {path: _on_backend(load_run(path), backend, path) for path in runs}
    loaded = {path: run for path, (run, _) in placed.items()}
    unused = sorted(set(chosen) - {run.kind.name for run in loaded.values()})
    if unused:  # given events are used, never dropped
        raise ValueError(
            f"--conditions: {', '.join(unused)} events, but no --run is a run of that kind; drop the file or "
            "add a run of its kind"
        )
    for path, run in loaded.items():
        kind = run.kind.name
        if kind not in chosen:
            chosen[kind] = run.kind.example(example_events, seed)
            described[kind] = f"kind example (n={example_events}, seed {seed})"
        if run.family == "gvae-paper":
            result = bench_reconstruction(run, chosen[kind], batches, repeats)
        else:
            try:
                result = bench_run(
                    run, batches, chosen[kind], repeats=repeats, precision=precision, use_given=kind in given
                )
                result["backend"] = placed[path][1]
                result["sampler"] = bench_sampler(run, batches, chosen[kind], repeats)
            except ValueError as exc:
                raise ValueError(f"--run {path}: {exc}") from None
        out["runs"][path] = {**result, "events": described[kind]}
    for kind in sorted({run.kind.name for run in loaded.values()}):
        out["references"][kind] = {
            **bench_reference(get_kind(kind), chosen[kind], reference_events, max(1, repeats // 2), seed),
            "events": described[kind],
        }
    paper = next((r for r in out["runs"].values() if r["family"] == "gvae-paper"), None)
    if paper is None and "jet-images" in out["references"]:
        baseline = fresh_paper_run(chosen["jet-images"])
        paper = bench_reconstruction(baseline, chosen["jet-images"], batches, repeats)
        out["runs"][PAPER] = {**paper, "events": described["jet-images"]}
    for r in out["runs"].values():
        _ratios(r, out["references"][r["kind"]], paper if r["kind"] == "jet-images" else None)
    out["machine"] = machine_facts()
    return out


def _on_backend(run: LoadedRun, backend: str, path: str) -> tuple[LoadedRun, str]:
    """The run with its sampler on ``backend`` when its family is Exportable (others stay in PyTorch), and
    the backend it got."""
    if backend == "torch" or not isinstance(run.model, Exportable):
        return run, "torch"
    return with_backend(run, backend, torch.get_num_threads(), run_dir=path), backend


def _ratios(result: dict[str, Any], reference: Mapping[str, Any], paper: Mapping[str, Any] | None) -> None:
    """Per batch: reference µs per event / the run's, and gvae-paper's / the run's (>1: the run is faster)."""
    times = {b: t["us_per_event"] for b, t in result["timings"].items()}
    if reference.get("declared"):
        result["vs_reference"] = {b: reference["us_per_event"] / us for b, us in times.items()}
    if paper is not None:
        result["vs_gvae_paper"] = {b: paper["timings"][b]["us_per_event"] / us for b, us in times.items()}
