"""``mlfastsim sample``: generate events with a trained run and write them in its data kind's format."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``sample`` on the top-level subparsers."""
    p = sub.add_parser(
        "sample",
        help="generate events with a trained model",
        description=(
            "Generate events from a trained run and write them in the format of the run's data kind, which "
            "'inspect', 'evaluate' and the readers take. --n N samples from the prior; --conditions FILE "
            "generates one event per event of FILE, conditioned on what the model takes from it (jet "
            "kinematics, generator-level particles, ...) and keeping its event ids, so the output is paired "
            "event by event with FILE. --reconstruct FILE encodes and decodes every event of FILE with an "
            "autoencoding run (gvae, gvae-paper, mean-hit), paired with FILE the same way."
        ),
    )
    p.add_argument("--run", required=True, help="run directory written by 'mlfastsim train'")
    p.add_argument("--out", required=True, help="output file (a suffix the run's data kind writes)")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--n", type=int, help="number of events to sample from the prior")
    group.add_argument("--conditions", help="a file of the run's kind whose events condition the generation")
    group.add_argument(
        "--reconstruct",
        help="a file of the run's kind whose events an autoencoding run (gvae, gvae-paper, mean-hit) encodes "
        "and decodes; the output is paired event by event with it (reconstruction EMD in 'evaluate')",
    )
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best", help="which checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace --out when it exists")
    p.add_argument(
        "--backend",
        choices=("torch", "onnx"),
        default="torch",
        help="torch (default) or onnx: the run's sampler exported in memory (parity-checked) or --onnx FILE, "
        "run in ONNX Runtime; the noise comes from the same seeded generator",
    )
    p.add_argument("--onnx", default=None, help="with --backend onnx: a file written by 'mlfastsim export'")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads of the backend (default 1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Sample and write atomically; print a one-line JSON summary with the sampling rate."""
    import torch

    from mlfastsim._utils import InputError
    from mlfastsim.cli.outputs import check_output
    from mlfastsim.data.kinds import kind_of, read_events
    from mlfastsim.inference import load_run, reconstruct_run, sample_run
    from mlfastsim.inference.backends import with_backend

    check_output(args, "--out")
    if args.threads < 1:
        raise InputError(f"--threads {args.threads}: give a positive number of threads")
    if args.onnx and args.backend != "onnx":
        raise InputError("--onnx FILE needs --backend onnx")
    loaded = load_run(args.run, args.checkpoint)
    conditions = None
    given = args.conditions or args.reconstruct
    if given:
        flag = "--conditions" if args.conditions else "--reconstruct"
        kind = kind_of(given)
        if kind.name != loaded.kind.name:
            raise InputError(
                f"{flag} {given}: {kind.name} data, but the run was trained on {loaded.kind.name}"
            )
        conditions = read_events(kind, given)
    torch.set_num_threads(args.threads)
    if args.reconstruct:
        if args.backend != "torch":
            raise InputError("--reconstruct runs in torch; drop --backend onnx")
        start = time.perf_counter()
        events = reconstruct_run(loaded, conditions)
        return _write(loaded, args, events, time.perf_counter() - start)
    sampling = with_backend(loaded, args.backend, args.threads, args.onnx, args.run)
    start = time.perf_counter()
    events = sample_run(sampling, n=args.n, conditions=conditions, seed=args.seed)
    return _write(loaded, args, events, time.perf_counter() - start)


def _write(loaded: Any, args: argparse.Namespace, events: Any, seconds: float) -> int:
    events.attrs["run"] = str(args.run)
    events.attrs["backend"] = {"torch": "torch", "onnx": "onnxruntime"}[args.backend]
    events.attrs["threads"] = args.threads
    events.attrs["wall_time_per_event_s"] = {"sampling": seconds / max(len(events), 1)}
    loaded.kind.write(args.out, events)
    print(json.dumps({"path": args.out, "n_events": len(events), "events_per_s": len(events) / seconds}))
    return 0
