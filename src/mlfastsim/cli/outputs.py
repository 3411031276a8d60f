"""What every writing command checks about its output before any work: writable, not silently replacing an
existing output (``--overwrite``), and not one of its own inputs."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mlfastsim._utils import InputError, check_writable, check_writable_dir

__all__ = ["check_output", "check_output_dir"]


def _inputs(args: argparse.Namespace, option: str) -> list[tuple[str, Path]]:
    """The existing files named by the other string options of ``args`` (``--resimulate``, ``--data``, ...)."""
    dest = option.lstrip("-").replace("-", "_")
    found = []
    for name, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if name != dest and isinstance(item, str) and item:
                path = Path(item.rpartition("=")[2] if name == "candidate" else item)
                if path.is_file():
                    found.append((f"--{name.replace('_', '-')}", path))
    return found


def _refuse_input(args: argparse.Namespace, option: str, target: Path) -> None:
    if not target.exists():
        return
    for name, path in _inputs(args, option):
        if os.path.samefile(path, target) or (target.is_dir() and target.resolve() in path.resolve().parents):
            raise InputError(
                f"{option} {target} is also the input {name} {path}; write the output to another path"
            )


def check_output(args: argparse.Namespace, option: str = "--out") -> Path:
    """Check the file ``args.<option>``: writable, not an input of the same command, and — unless
    ``args.overwrite`` (every writing command declares ``--overwrite``) — not existing yet. One-line
    InputError; nothing is created."""
    target = Path(getattr(args, option.lstrip("-").replace("-", "_")))
    _refuse_input(args, option, target)
    return check_writable(target, option, overwrite=bool(args.overwrite))


def check_output_dir(args: argparse.Namespace, option: str = "--out") -> Path:
    """Like :func:`check_output` for an output folder (an existing non-empty one needs ``--overwrite``);
    creates nothing."""
    target = Path(getattr(args, option.lstrip("-").replace("-", "_")))
    _refuse_input(args, option, target)
    overwrite = bool(args.overwrite)
    return check_writable_dir(target, option, create=False, overwrite=overwrite)
