"""``mlfastsim sample``: generate jets with a trained run and write them as a jet-image file."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``sample`` on the top-level subparsers."""
    p = sub.add_parser(
        "sample",
        help="generate jets with a trained model",
        description=(
            "Generate jets from a trained run and write them in the jet-image format that 'inspect', "
            "'evaluate' and the readers take. --n N samples from the prior (unconditional models); "
            "--conditions FILE generates one jet per jet of FILE, conditioned on its kinematics (and "
            "generator-level particles, for models that use them)."
        ),
    )
    p.add_argument("--run", required=True, help="run directory written by 'mlfastsim train'")
    p.add_argument("--out", required=True, help="output file (.parquet, .h5 or .hdf5)")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--n", type=int, help="number of jets to sample from the prior")
    group.add_argument("--conditions", help="jet-image file whose jets condition the generation")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best", help="which checkpoint")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Sample and write atomically; print a one-line JSON summary with the sampling rate."""
    from mlfastsim._utils import check_writable
    from mlfastsim.data.io import read_jet_images, write_jet_images
    from mlfastsim.training.runs import load_run, sample_run

    check_writable(args.out)
    loaded = load_run(args.run, args.checkpoint)
    conditions = read_jet_images(args.conditions) if args.conditions else None
    start = time.perf_counter()
    jets = sample_run(loaded, n=args.n, conditions=conditions, seed=args.seed)
    seconds = time.perf_counter() - start
    jets.attrs["run"] = str(args.run)
    jets.attrs["wall_time_per_event_s"] = {"sampling": seconds / max(len(jets), 1)}
    write_jet_images(args.out, jets)
    print(json.dumps({"path": args.out, "n_events": len(jets), "jets_per_s": len(jets) / seconds}))
    return 0
