"""``mlfastsim bench``: speed measured as ratios in one run (models, detector, metrics)."""

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
            "evaluation suite. Results are printed as JSON with the machine's facts."
        ),
    )
    p.add_argument("what", choices=("models", "detector", "metrics"), help="what to time")
    p.add_argument("--data", required=True, help="a jet-image file with real jets (input of the timings)")
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
    if args.what == "models":
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
    print(text)
    if args.out:
        atomic_write_text(args.out, text)
    return 0
