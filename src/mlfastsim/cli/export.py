"""``mlfastsim export``: a trained run's sampler as ONNX, TorchScript or C, parity-checked against PyTorch."""

from __future__ import annotations

import argparse
import json
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export and print a one-line JSON summary (path, parity reached)."""
    from mlfastsim._utils import check_writable
    from mlfastsim.inference import load_run
    from mlfastsim.inference.export import export_run

    check_writable(args.out)
    loaded = load_run(args.run, args.checkpoint)
    meta = export_run(loaded, args.format, args.out, run_dir=args.run, mode=args.mode)
    print(
        json.dumps(
            {"path": meta["path"], "model": meta["model"], "format": args.format, "parity": meta["parity"]}
        )
    )
    return 0
