"""``mlfastsim merge``: shard files of any kind (a job array's outputs) into one file, checked disjoint and complete."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``merge`` on the top-level subparsers."""
    p = sub.add_parser(
        "merge",
        help="merge the shard files of a job array into one file",
        description=(
            "Merge the outputs of 'mlfastsim generate KIND --shard i/n' (or of 'sample --conditions' on such "
            "shards) into one file of their kind. Event ids are shard * 2^32 + index, so the merge checks that "
            "every file holds one whole shard (ids 0 ... n-1 of it), that no shard appears twice and that "
            "none of the job's shards is missing (their count from --shards, else as the files record it)."
        ),
    )
    p.add_argument("files", nargs="+", help="the shard files (any order)")
    p.add_argument("--out", required=True, help="the merged file (a suffix the kind writes)")
    p.add_argument("--shards", type=int, default=None, help="the job's number of shards (default: recorded)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read, check, merge and write atomically; print a one-line JSON summary."""
    from mlfastsim._utils import InputError, check_writable
    from mlfastsim.data.kinds import kind_of
    from mlfastsim.data.merge import merge_shards

    if args.shards is not None and args.shards < 1:
        raise InputError(f"--shards {args.shards}: must be positive")
    check_writable(args.out)
    kinds = [kind_of(path) for path in args.files]
    kind = kinds[0]
    for path, other in zip(args.files, kinds, strict=True):
        if other.name != kind.name:
            raise InputError(f"{path}: {other.name} data, but {args.files[0]} is {kind.name}; merge one kind")
    parts = [kind.read(path) for path in args.files]
    merged = merge_shards(kind, parts, args.files, args.shards)
    kind.write(args.out, merged)
    print(json.dumps({"path": args.out, "kind": kind.name, "n_events": len(merged), "shards": len(parts)}))
    return 0
