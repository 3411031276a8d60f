"""The ``mlfastsim`` command: parses arguments and hands over to the library; errors are one line."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from mlfastsim._utils.errors import InputError, MissingExtraError
from mlfastsim._utils.provenance import package_version

__all__ = ["build_parser", "main"]

#: Subcommand modules in ``mlfastsim.cli``; each defines ``add_parser(subparsers)`` which
#: registers its parser and sets ``func=run`` where ``run(args) -> int``.
COMMANDS = ("generate", "inspect", "train", "sample", "score", "evaluate", "export", "bench", "merge", "demo")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand whose module exists."""
    parser = argparse.ArgumentParser(
        prog="mlfastsim",
        description="Machine-learning fast simulation of particle-physics detectors.",
    )
    parser.add_argument("--version", action="version", version=f"mlfastsim {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"mlfastsim.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"mlfastsim.cli.{name}":
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point. Returns the exit status: 0 success, 2 bad input, 130 interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (InputError, MissingExtraError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing half-written was left behind", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
