"""``mlfastsim generate``: produce data sets with the embedded reference simulation."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mlfastsim._utils import check_writable

__all__ = ["add_parser", "run"]

KINDS = ("jet-images",)
PROCESSES = ("qcd", "qcd-boosted", "ttbar", "wjets")


def add_parser(sub: Any) -> None:
    """Register ``generate`` on the top-level subparsers."""
    p = sub.add_parser(
        "generate",
        help="simulate events with the reference simulation (Pythia 8 → FastJet → detector)",
        description=(
            "Simulate jets with Pythia 8, cluster them with FastJet and pass them through the parametric "
            "CMS-like detector; write jet images in the CMS end-to-end convention. With --resimulate, run "
            "only the detector again, with a new seed, on the particles stored in a file (the noise floor)."
        ),
    )
    p.add_argument("kind", choices=KINDS, help="what to generate")
    p.add_argument("--out", required=True, help="output file (.parquet, .h5 or .hdf5)")
    p.add_argument("--events", type=int, default=1000, help="number of jets (default 1000)")
    p.add_argument("--process", default="qcd", help=f"Pythia preset: {', '.join(PROCESSES)} (default qcd)")
    p.add_argument("--seed", type=int, default=1, help="job seed (default 1); same seed, same arrays")
    p.add_argument(
        "--pileup", type=float, default=0.0, metavar="MU", help="mean pile-up interactions (default 0)"
    )
    p.add_argument("--shard", default="0/1", metavar="i/n", help="this job's shard of n (independent seeds)")
    p.add_argument("--format", choices=("parquet", "hdf5"), default=None, help="default: from the suffix")
    p.add_argument(
        "--resimulate", metavar="FILE", default=None, help="re-run the detector on FILE's particles"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the command; prints a one-line JSON summary."""
    from mlfastsim._utils import InputError
    from mlfastsim.data.generate import generate_jet_images, parse_shard, resimulate_jet_images
    from mlfastsim.physics.generation import get_preset

    shard = parse_shard(args.shard)
    get_preset(args.process)
    if args.events <= 0:
        raise InputError(f"--events must be a positive number of jets, got {args.events}")
    check_writable(args.out)
    summary: dict[str, Any]
    if args.resimulate:
        summary = resimulate_jet_images(args.resimulate, args.out, seed=args.seed, fmt=args.format)
    else:
        summary = generate_jet_images(
            args.out, args.process, args.events, args.seed, args.pileup, shard, fmt=args.format
        )
    print(json.dumps(summary))
    return 0
