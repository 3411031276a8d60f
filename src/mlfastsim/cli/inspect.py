"""``mlfastsim inspect``: what a data file holds — kind, events, shapes, summaries, labels, provenance."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``inspect`` on the top-level subparsers."""
    from mlfastsim.data.kinds import KINDS

    p = sub.add_parser(
        "inspect",
        help="summarise a data file",
        description=f"Summarise a data file of any kind ({', '.join(KINDS)}); the kind is read from the file.",
    )
    p.add_argument("path", help="data file")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--max-events", type=int, default=None, help="look at the first N events only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary (text or JSON)."""
    from mlfastsim._utils import InputError, jsonable
    from mlfastsim.data.kinds import kind_of

    if args.max_events is not None and args.max_events <= 0:
        raise InputError(f"--max-events must be positive, got {args.max_events}")
    kind = kind_of(args.path)
    summary = kind.inspect(args.path, args.max_events)
    print(json.dumps(jsonable(summary), indent=2) if args.json else kind.format_inspection(summary))
    return 0
