"""``mlfastsim train``: train a model family on a data file (the kind is read from the file)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``train`` on the top-level subparsers."""
    from mlfastsim.models import FAMILIES

    families = "; ".join(f"{f.name} ({', '.join(f.kinds)})" for f in FAMILIES.values())
    p = sub.add_parser(
        "train",
        help="train a generative surrogate on reference-simulation samples",
        description=(
            "Train a model family on a data file of a kind it accepts. Settings come from the defaults, then "
            "--config (a TOML/JSON file with [model], [train], [data] tables, e.g. configs/gvae.toml), then "
            "--set overrides (e.g. --set train.lr=3e-4 --set data.n_max=200), then --epochs/--max-steps/"
            "--seed. A checkpoint is written every epoch; --resume continues a killed run exactly (and refuses "
            "another model, data file or [data] setting). --out must not hold another run unless --overwrite. "
            f"Families: {families}."
        ),
    )
    p.add_argument("family", help=f"model family: {', '.join(FAMILIES)}")
    p.add_argument("--data", required=True, help="training data (any kind the family accepts)")
    p.add_argument("--out", required=True, help="run directory (checkpoints, metrics.jsonl, config.json)")
    p.add_argument("--config", default=None, help="TOML or JSON config file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    p.add_argument("--epochs", type=int, default=None, help="number of epochs")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimiser steps")
    p.add_argument("--seed", type=int, default=None, help="training seed")
    p.add_argument("--resume", action="store_true", help="continue from RUN/last.pt")
    p.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Resolve the configuration, train, print a one-line JSON summary."""
    from mlfastsim._utils import load_config_file
    from mlfastsim.data.kinds import kind_of
    from mlfastsim.models import get_family
    from mlfastsim.training import cleanup
    from mlfastsim.training.runs import resolve_run_config, train_run

    get_family(args.family)
    kind = kind_of(args.data)
    file_config = load_config_file(args.config) if args.config else None
    cfg = resolve_run_config(
        args.family,
        kind.name,
        file_config,
        args.set,
        epochs=args.epochs,
        max_steps=args.max_steps,
        seed=args.seed,
    )
    try:
        summary = train_run(cfg, args.data, args.out, resume=args.resume, overwrite=args.overwrite)
    finally:
        cleanup()  # leave torchrun's process group before exit (gloo's threads otherwise abort at teardown)
    # one write of the whole line, so the summaries of torchrun's ranks never interleave on a shared pipe
    sys.stdout.write(json.dumps(summary, default=str) + "\n")
    sys.stdout.flush()
    return 0
