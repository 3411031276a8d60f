"""``mlfastsim evaluate``: judge samples against a reference, beside the truth-vs-truth and resimulation floors."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``evaluate`` on the top-level subparsers."""
    p = sub.add_parser(
        "evaluate",
        help="compare samples with a reference (metrics, plots, HTML report, floors)",
        description=(
            "Compare one or more candidate files with a reference file of the same data kind, with that kind's "
            "suite (e.g. jet images: W1 of physics observables, FPD/KPD of energy-flow polynomials, classifier "
            "two-sample tests and, for candidates paired event by event with the reference by event id, "
            "energy mover's distance and masked MSE). Writes DIR/metrics.json, DIR/plots/*.png and "
            "DIR/report.html (all at once: DIR holds the old results or the new ones, never a mix; nothing is "
            "created when an input is bad), and prints a table with the floors in their own columns."
        ),
    )
    p.add_argument("--reference", required=True, help="reference file of any data kind (the truth)")
    p.add_argument(
        "--candidate",
        action="append",
        required=True,
        metavar="[NAME=]PATH",
        help="a file to judge (repeatable); NAME defaults to the file name",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace the results already in --out")
    p.add_argument("--resim", default=None, help="the reference resimulated (per-event floor)")
    p.add_argument(
        "--second-reference",
        default=None,
        help="an independent reference sample for the truth-vs-truth floor (default: two halves)",
    )
    p.add_argument("--max-events", type=int, default=None, help="read at most this many events per file")
    p.add_argument("--seed", type=int, default=0, help="seed of bootstraps and classifier tests")
    p.add_argument("--jobs", type=int, default=2, help="processes for the EMD (default 2)")
    p.add_argument("--no-plots", action="store_true", help="metrics.json and the table only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read the files, evaluate, write the outputs."""
    from mlfastsim._utils import InputError, atomic_dir
    from mlfastsim.cli.outputs import check_output_dir
    from mlfastsim.data.kinds import kind_of, read_events
    from mlfastsim.evaluation.driver import evaluate

    out = check_output_dir(args, "--out")
    if args.max_events is not None and args.max_events < 2:
        raise InputError(f"--max-events {args.max_events}: need at least 2 events")
    kind = kind_of(args.reference)

    def read_same_kind(path: str, max_events: int | None) -> Any:
        other = kind_of(path)
        if other.name != kind.name:
            raise InputError(f"{path}: {other.name} data, but the reference {args.reference} is {kind.name}")
        events = read_events(kind, path, max_events=max_events)
        if len(events) < 2:
            raise InputError(f"{path}: {len(events)} event(s); evaluation needs at least 2 per sample")
        return events

    reference = read_same_kind(args.reference, max_events=args.max_events)
    candidates = {}
    for item in args.candidate:
        name, _, path = item.rpartition("=") if "=" in item else ("", "", item)
        name = name or Path(path).stem
        if name in candidates:
            raise InputError(f"--candidate {item}: the name {name!r} is used twice; write NAME=PATH")
        candidates[name] = read_same_kind(path, max_events=args.max_events)
    resim = read_same_kind(args.resim, max_events=args.max_events) if args.resim else None
    second = (
        read_same_kind(args.second_reference, max_events=args.max_events) if args.second_reference else None
    )
    with atomic_dir(out) as tmp:
        evaluate(
            kind.name,
            reference,
            candidates,
            tmp,
            resim=resim,
            second_reference=second,
            seed=args.seed,
            n_jobs=args.jobs,
            plots=not args.no_plots,
        )
    if args.no_plots:
        print(f"wrote {out / 'metrics.json'} (no plots and no report: --no-plots)")
    else:
        print(f"wrote {out / 'metrics.json'}, {out / 'report.html'} and {out / 'plots'}/")
    return 0
