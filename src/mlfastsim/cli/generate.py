"""``mlfastsim generate KIND``: produce data sets with the embedded reference simulation of that kind."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``generate`` and one sub-command per data kind (its options come from the kind)."""
    from mlfastsim.data.kinds import KINDS

    p = sub.add_parser(
        "generate",
        help="simulate events with the reference simulation of a data kind",
        description=(
            "Simulate events with the embedded reference simulation (Pythia 8, FastJet and parametric "
            "detectors) and write them in the kind's file format. Each kind has its own options: "
            "'mlfastsim generate KIND --help'."
        ),
    )
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind in KINDS.values():
        k = kinds.add_parser(kind.name, help=kind.summary, description=kind.summary)
        k.add_argument("--out", required=True, help="output file")
        k.add_argument("--seed", type=int, default=1, help="job seed (default 1); same seed, same arrays")
        k.add_argument(
            "--shard", default="0/1", metavar="i/n", help="this job's shard of n (independent seeds)"
        )
        kind.add_generate_arguments(k)
        k.set_defaults(func=run, data_kind=kind)


def run(args: argparse.Namespace) -> int:
    """Run the kind's generator; prints a one-line JSON summary."""
    from mlfastsim._utils import check_writable

    check_writable(args.out)
    print(json.dumps(args.data_kind.generate(args)))
    return 0
