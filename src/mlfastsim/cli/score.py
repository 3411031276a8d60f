"""``mlfastsim score``: anomaly scores of a trained run on a file, and the ROC AUC by label."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``score`` on the top-level subparsers."""
    p = sub.add_parser(
        "score",
        help="anomaly scores of a trained model (e.g. trained on quark jets, scored on quarks and gluons)",
        description=(
            "Score every jet of a file with a trained run (gvae: negative ELBO; gvae-paper: masked "
            "reconstruction MSE). With labels in the file (y = 0 background, y = 1 signal), print the ROC "
            "AUC of the score for telling them apart, e.g. train on quark jets (--set data.label=0) and "
            "score quark and gluon jets."
        ),
    )
    p.add_argument("--run", required=True, help="run directory written by 'mlfastsim train'")
    p.add_argument("--data", required=True, help="a file of the run's data kind to score")
    p.add_argument("--max-events", type=int, default=None, help="score at most this many jets")
    p.add_argument("--out", default=None, help="write the scores (and labels) here as .npz")
    p.add_argument("--overwrite", action="store_true", help="replace --out when it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Score, print a JSON summary with the AUC, optionally save the scores."""
    import io

    import numpy as np

    from mlfastsim._utils import InputError, atomic_write_bytes
    from mlfastsim.cli.outputs import check_output
    from mlfastsim.data.kinds import kind_of, read_events
    from mlfastsim.inference import load_run, score_run
    from mlfastsim.metrics import roc_auc

    if args.out:
        check_output(args, "--out")
    loaded = load_run(args.run)
    kind = kind_of(args.data)
    if kind.name != loaded.kind.name:
        raise InputError(
            f"--data {args.data}: {kind.name} data, but the run was trained on {loaded.kind.name}"
        )
    jets = read_events(kind, args.data, max_events=args.max_events)
    scores = score_run(loaded, jets)
    summary: dict[str, Any] = {"n": len(scores), "median_score": float(np.median(scores))}
    bkg, sig = scores[jets.y == 0], scores[jets.y == 1]
    if len(bkg) and len(sig):
        auc = roc_auc(bkg, sig)
        summary.update(
            {
                "auc_y1_vs_y0": auc.value,
                "auc_uncertainty": auc.uncertainty,
                "n_y0": len(bkg),
                "n_y1": len(sig),
            }
        )
    if args.out:
        buffer = io.BytesIO()
        np.savez(buffer, scores=scores, y=jets.y)
        atomic_write_bytes(args.out, buffer.getvalue())
    print(json.dumps(summary))
    return 0
