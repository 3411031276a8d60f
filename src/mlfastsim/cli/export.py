"""``mlfastsim export``: a trained run's sampler as ONNX, TorchScript or C, parity-checked against PyTorch."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``export`` on the top-level subparsers."""
    p = sub.add_parser(
        "export",
        help="export a trained run's sampler (ONNX, TorchScript, C)",
        description=(
            "Write the run's pure sampler (noise and conditions in, sample out; the noise is drawn by the "
            "caller as the file's metadata declares) as ONNX, TorchScript or, for plain-MLP generators, one "
            "self-contained C source. The exported file is run on fixed noise and compared with PyTorch "
            "(float outputs within 1e-5 relative, masks identical); a file that fails is not kept. Every file "
            "records the model family, data kind, run, package version and backend. See docs/deployment.md."
        ),
    )
    p.add_argument("--run", required=True, help="run directory written by 'mlfastsim train'")
    p.add_argument("--format", required=True, choices=("onnx", "torchscript", "c"), help="output format")
    p.add_argument("--out", required=True, help="output file (.onnx, .pt, .c)")
    p.add_argument(
        "--mode",
        choices=("conditioned", "prior"),
        default="conditioned",
        help="conditioned: the conditions are inputs (default); prior: the sampler draws them from the "
        "run's stored training conditions and outputs them as matched_cond",
    )
    p.add_argument("--checkpoint", choices=("best", "last"), default="best", help="which checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=run)


def _refuse_run_files(target: Path, run_dir: Path) -> None:
    """An export never takes the name of one of its run's own files (checkpoints, config, log)."""
    from mlfastsim._utils import InputError
    from mlfastsim.training.rundir import RUN_FILES

    if target.name in RUN_FILES and run_dir.is_dir() and target.parent.resolve() == run_dir.resolve():
        raise InputError(
            f"--out {target} is the run's own {target.name}; write the export to another path (e.g. "
            f"{run_dir / 'sampler.onnx'})"
        )


def run(args: argparse.Namespace) -> int:
    """Export and print a one-line JSON summary (path, parity reached)."""
    from mlfastsim.cli.outputs import check_output
    from mlfastsim.inference import load_run
    from mlfastsim.inference.export import export_run

    _refuse_run_files(Path(args.out), Path(args.run))
    check_output(args)  # writable, and an existing file only with --overwrite: before loading the run
    loaded = load_run(args.run, args.checkpoint)
    meta = export_run(
        loaded, args.format, args.out, run_dir=args.run, mode=args.mode, overwrite=args.overwrite
    )
    print(
        json.dumps(
            {"path": meta["path"], "model": meta["model"], "format": args.format, "parity": meta["parity"]}
        )
    )
    return 0
