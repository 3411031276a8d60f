"""``mlfastsim generate KIND``: produce data sets with the embedded reference simulation of that kind."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
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
        k.add_argument("--out", required=True, help="output file (FILE.root: a ROOT TTree)")
        k.add_argument("--overwrite", action="store_true", help="replace --out when it exists")
        k.add_argument("--seed", type=int, default=1, help="job seed (default 1); same seed, same arrays")
        k.add_argument(
            "--shard", default="0/1", metavar="i/n", help="this job's shard of n (independent seeds)"
        )
        k.set_defaults(resimulate=None)  # the source of a kind that declares --resimulate, else None
        kind.add_generate_arguments(k)
        k.set_defaults(func=run, data_kind=kind)


def run(args: argparse.Namespace) -> int:
    """Run the kind's generator; prints a one-line JSON summary."""
    from mlfastsim.cli.outputs import check_output

    check_output(args, "--out")
    print(json.dumps(_generate(args)))
    return 0


def _generate(args: argparse.Namespace) -> dict[str, Any]:
    """The kind's generator; through files of its own format when ``--out`` or ``--resimulate`` is ROOT."""
    if Path(args.out).suffix.lower() == ".root" or _is_root(args.resimulate):
        return _through_native_files(args)
    return dict(args.data_kind.generate(args))


def _is_root(path: str | None) -> bool:
    from mlfastsim.data.io.root import is_root

    return path is not None and Path(path).is_file() and is_root(path)


def _through_native_files(args: argparse.Namespace) -> dict[str, Any]:
    """ROOT in or out: the kind's generator runs on files of its own format in a temporary folder beside
    ``--out`` (reaped by the next write after a ``kill -9``); a ROOT ``--resimulate`` source is converted
    first, a ROOT output is converted after."""
    from mlfastsim._utils import scratch_dir

    kind = args.data_kind
    out = Path(args.out)
    with scratch_dir(out) as tmp:
        native = Path(tmp) / f"out{kind.default_suffix}"
        changes: dict[str, Any] = {"out": str(native) if out.suffix.lower() == ".root" else args.out}
        if _is_root(args.resimulate):
            source = Path(tmp) / f"source{kind.default_suffix}"
            kind.write(source, kind.read(args.resimulate))
            changes["resimulate"] = str(source)
        summary = dict(kind.generate(argparse.Namespace(**{**vars(args), **changes})))
        if out.suffix.lower() == ".root":
            kind.write(out, kind.read(native))
            summary["path"] = str(out)
    return summary
