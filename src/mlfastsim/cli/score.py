"""``mlfastsim score``: anomaly scores of a trained run on a file, and the ROC AUC by label or against a
second (signal) file, with its Hanley–McNeil error and a bootstrap interval."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parser", "auc_summary", "run"]


def add_parser(sub: Any) -> None:
    """Register ``score`` on the top-level subparsers."""
    p = sub.add_parser(
        "score",
        help="anomaly scores of a trained model (e.g. trained on quark jets, scored on quarks and gluons)",
        description=(
            "Score every jet of a file with a trained run (gvae: negative ELBO; gvae-paper: masked "
            "reconstruction MSE). With labels in the file (y = 0 background, y = 1 signal), print the ROC "
            "AUC of the score for telling them apart, e.g. train on quark jets (--set data.label=0) and "
            "score quark and gluon jets. With --signal FILE, every jet of --data is background and every "
            "jet of FILE signal (e.g. train on QCD, score qcd-test.h5 against ttbar-test.h5). The AUC comes "
            "with its Hanley-McNeil error and a percentile-bootstrap interval (--level, default 68 %%)."
        ),
    )
    p.add_argument("--run", required=True, help="run directory written by 'mlfastsim train'")
    p.add_argument("--data", required=True, help="a file of the run's data kind to score")
    p.add_argument(
        "--signal", default=None, help="a second file whose jets are all signal (those of --data: background)"
    )
    p.add_argument("--max-events", type=int, default=None, help="score at most this many jets per file")
    p.add_argument("--level", type=float, default=0.68, help="central probability of the AUC interval")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicas of the AUC interval")
    p.add_argument("--out", default=None, help="write the scores (and labels) here as .npz")
    p.add_argument("--overwrite", action="store_true", help="replace --out when it exists")
    p.set_defaults(func=run)


def auc_summary(bkg: Any, sig: Any, level: float = 0.68, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """ROC AUC of scores ``sig [N_s]`` (label 1) against ``bkg [N_b]`` (label 0): value, Hanley–McNeil error,
    the percentile-bootstrap interval at ``level`` and the counts (keys as printed by ``mlfastsim score``)."""
    from mlfastsim.metrics import roc_auc, roc_auc_interval

    auc = roc_auc(bkg, sig)
    lo, hi = roc_auc_interval(bkg, sig, level=level, n_boot=n_boot, seed=seed)
    return {
        "auc_y1_vs_y0": auc.value,
        "auc_uncertainty": auc.uncertainty,
        "auc_interval": [lo, hi],
        "auc_interval_level": level,
        "n_y0": len(bkg),
        "n_y1": len(sig),
    }


def run(args: argparse.Namespace) -> int:
    """Score, print a JSON summary with the AUC, optionally save the scores."""
    import io

    import numpy as np

    from mlfastsim._utils import InputError, atomic_write_bytes
    from mlfastsim.cli.outputs import check_output
    from mlfastsim.data.kinds import kind_of, read_events
    from mlfastsim.inference import load_run, score_run

    if args.out:
        check_output(args, "--out")
    if not 0.0 < args.level < 1.0 or args.n_boot < 2:
        raise InputError(f"--level {args.level} / --n-boot {args.n_boot}: need 0 < level < 1 and n-boot >= 2")
    loaded = load_run(args.run)
    scores, labels = [], []
    for flag, path in (("--data", args.data), ("--signal", args.signal)):
        if path is None:
            continue
        kind = kind_of(path)
        if kind.name != loaded.kind.name:
            raise InputError(
                f"{flag} {path}: {kind.name} data, but the run was trained on {loaded.kind.name}"
            )
        jets = read_events(kind, path, max_events=args.max_events)
        scores.append(score_run(loaded, jets))
        labels.append(np.asarray(jets.y, dtype=np.float64) if flag == "--data" else np.ones(len(jets)))
    if args.signal is not None:
        labels[0] = np.zeros(len(scores[0]))
    score, y = np.concatenate(scores), np.concatenate(labels)
    summary: dict[str, Any] = {"n": len(score), "median_score": float(np.median(score))}
    bkg, sig = score[y == 0], score[y == 1]
    if len(bkg) and len(sig):
        summary.update(auc_summary(bkg, sig, args.level, args.n_boot))
    if args.out:
        buffer = io.BytesIO()
        np.savez(buffer, scores=score, y=y)
        atomic_write_bytes(args.out, buffer.getvalue())
    print(json.dumps(summary))
    return 0
