"""``mlfastsim inspect``: what a data file holds — kind, events, shapes, energies, hits, labels, provenance."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``inspect`` on the top-level subparsers."""
    p = sub.add_parser(
        "inspect",
        help="summarise a data file",
        description="Summarise a jet-image file (Parquet or HDF5, ours or the public CMS convention).",
    )
    p.add_argument("path", help="data file")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--max-events", type=int, default=None, help="look at the first N events only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary (text or JSON)."""
    from mlfastsim._utils import jsonable
    from mlfastsim.data.io.inspect import format_inspection, inspect_file

    summary = inspect_file(args.path, args.max_events)
    print(json.dumps(jsonable(summary), indent=2) if args.json else format_inspection(summary))
    return 0
