"""``mlfastsim bench``: speed measured as ratios in one run (trained runs, models, detector, metrics)."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``bench`` on the top-level subparsers."""
    p = sub.add_parser(
        "bench",
        help="measure speed: models (per batch, sampling), detector, metrics",
        description=(
            "Speed benchmarks, every number from this one run on this machine: 'models' times gvae-paper "
            "and gvae reconstruction on the same batch of real jets (graph building included), gvae "
            "prior sampling and gvae generation from the jets' particles; 'detector' times the reference "
            "detector alone; 'metrics' times the whole "
            "evaluation suite; 'runs' times generation with trained runs of any family and data kind "
            "(--run, repeatable) at the batch sizes of --batches, decoding into the kind's container "
            "included, beside the recorded cost per event of the reference simulation that made the run's "
            "training data. Results are printed as JSON with the machine's facts."
        ),
    )
    p.add_argument("what", choices=("runs", "models", "detector", "metrics"), help="what to time")
    p.add_argument("--data", default=None, help="models/detector/metrics: a jet-image file with real jets")
    p.add_argument("--run", action="append", default=[], help="runs: a run directory (repeatable)")
    p.add_argument(
        "--conditions", default=None, help="runs: events to condition on (for conditional-only runs)"
    )
    p.add_argument("--batches", default="1,64,10000", help="runs: batch sizes (default 1,64,10000)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--batch", type=int, default=64, help="jets per reconstruction batch (default 64)")
    p.add_argument("--n", type=int, default=10_000, help="jets per sampling call / per metrics sample")
    p.add_argument("--repeats", type=int, default=20, help="timed repetitions (median reported)")
    p.add_argument(
        "--candidate", default=None, help="metrics: the sample to judge (default: --data resimulated)"
    )
    p.add_argument("--out", default=None, help="also write the JSON here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run one benchmark and print its JSON."""
    import torch

    from mlfastsim._utils import InputError, atomic_write_text, jsonable
    from mlfastsim.data.io import read_jet_images

    if args.threads < 1 or args.n < 1 or args.batch < 1 or args.repeats < 1:
        raise InputError("--threads, --n, --batch and --repeats must be positive")
    torch.set_num_threads(args.threads)
    if args.what != "runs" and args.data is None:
        raise InputError(f"bench {args.what}: give --data FILE (a jet-image file with real jets)")
    if args.what == "runs":
        result = _bench_runs(args)
    elif args.what == "models":
        from mlfastsim.bench.models import bench_models

        result = bench_models(
            read_jet_images(args.data, max_events=max(args.batch, 256)),
            batch=args.batch,
            n_sample=args.n,
            repeats=args.repeats,
        )
    elif args.what == "detector":
        from mlfastsim.bench.detector import bench_detector

        result = bench_detector(read_jet_images(args.data, max_events=args.n), repeats=args.repeats)
    else:
        from mlfastsim.bench.metrics import bench_metrics

        result = bench_metrics(args.data, args.candidate, n=args.n, n_jobs=args.threads)
    text = json.dumps(jsonable(result), indent=2)
    if args.what == "runs":
        print(_table(result))
    print(text)
    if args.out:
        atomic_write_text(args.out, text)
    return 0


def _bench_runs(args: argparse.Namespace) -> dict[str, Any]:
    from mlfastsim._utils import InputError
    from mlfastsim.bench.runs import bench_run
    from mlfastsim.data.kinds import kind_of
    from mlfastsim.inference import load_run

    if not args.run:
        raise InputError("bench runs: give at least one --run RUN")
    try:
        batches = [int(b) for b in args.batches.split(",") if b.strip()]
    except ValueError:
        raise InputError(f"--batches {args.batches!r}: write batch sizes as 1,64,10000") from None
    if not batches or min(batches) < 1:
        raise InputError(f"--batches {args.batches!r}: batch sizes must be positive")
    conditions, conditions_kind = None, None
    if args.conditions:
        conditions_kind = kind_of(args.conditions)
        conditions = conditions_kind.read(args.conditions, max_events=max(batches))
    out: dict[str, Any] = {"batches": batches, "threads": args.threads, "runs": {}}
    for path in args.run:
        loaded = load_run(path)
        given = (
            conditions if conditions_kind is not None and conditions_kind.name == loaded.kind.name else None
        )
        try:
            out["runs"][path] = bench_run(loaded, batches, given, repeats=max(1, args.repeats // 4))
        except ValueError as exc:
            raise InputError(f"--run {path}: {exc}") from None
    return out


def _table(result: dict[str, Any]) -> str:
    lines = [
        f"{'run':<32} {'family':<14} {'kind':<14} "
        + " ".join(f"{'µs/event @' + str(b):>16}" for b in result["batches"])
    ]
    for path, r in result["runs"].items():
        cells = " ".join(f"{r['timings'][str(b)]['us_per_event']:>16.2f}" for b in result["batches"])
        lines.append(f"{path:<32} {r['family']:<14} {r['kind']:<14} {cells}")
        if "speedup_vs_reference" in r:
            ref = r["reference_total_s_per_event"] * 1e6
            lines.append(
                f"{'':<32} reference simulation {ref:.0f} µs/event → ×{r['speedup_vs_reference']:.0f}"
            )
    lines.append(
        f"threads {result['threads']}; {result['runs'] and next(iter(result['runs'].values()))['machine']}"
    )
    return "\n".join(lines)
