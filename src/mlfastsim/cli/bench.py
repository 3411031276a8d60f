"""``mlfastsim bench``: speed measured as ratios in one run (trained runs, models, detector, metrics)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``bench`` on the top-level subparsers."""
    p = sub.add_parser(
        "bench",
        help="measure speed: every family's runs beside the reference simulation; models, detector, metrics",
        description=(
            "Speed benchmarks, every number from this one run on this machine. 'runs' (the default): for each "
            "--run (any family and data kind) generation per event at the batch sizes of --batches, with the "
            "codec's encoding and decoding into the kind's container included, after a warm-up call; beside "
            "it, in the same process and on the same events, the reference simulation of the run's kind (its "
            "detector run again on the stored inputs) and, for jet images, gvae-paper; the ratios between "
            "them; threads, backend, precision, hardware and peak memory recorded; --markdown FILE writes the "
            "table into FILE (docs/performance.md). 'scaling': weak-scaling of distributed training under "
            "torchrun. 'precision': a family trained and sampled in fp32 and bf16 (losses, fidelity, "
            "speed side by side), bf16 training judged against a second fp32 training's seed spread "
            "(--paired-seeds K: also by the mean bf16 - fp32 difference of K same-seed pairs). "
            "'models' times gvae-paper and gvae reconstruction on the same batch of real jets, "
            "'detector' the jet-image detector alone, 'metrics' the whole evaluation suite."
        ),
    )
    p.add_argument(
        "what", nargs="?", default="runs",
        choices=("runs", "scaling", "precision", "models", "detector", "metrics"),
        help="what to time (default runs)",
    )  # fmt: skip
    p.add_argument("--data", default=None, help="models/detector/metrics/scaling: a data file")
    p.add_argument("--run", action="append", default=[], help="runs: a run directory (repeatable)")
    p.add_argument(
        "--conditions", action="append", default=[],
        help="runs: events of a kind to condition on and resimulate (repeatable, one per kind; default: the "
        "kind's synthetic examples)",
    )  # fmt: skip
    p.add_argument("--batches", default="1,64,10000", help="runs: batch sizes (default 1,64,10000)")
    p.add_argument(
        "--reference-events", type=int, default=64, help="runs: events per reference-simulation call"
    )
    p.add_argument(
        "--example-events", type=int, default=256,
        help="runs: synthetic events of a kind without --conditions (default 256)",
    )  # fmt: skip
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="runs: autocast precision")
    add_backend_argument(p)
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--batch", type=int, default=64, help="jets per reconstruction batch (default 64)")
    p.add_argument("--n", type=int, default=10_000, help="jets per sampling call / per metrics sample")
    p.add_argument(
        "--repeats", type=int, default=None,
        help="timed repetitions, median reported (default 5 per batch for runs, 20 otherwise)",
    )  # fmt: skip
    p.add_argument(
        "--candidate", default=None, help="metrics: the sample to judge (default: --data resimulated)"
    )
    p.add_argument("--out", default=None, help="also write the JSON here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument(
        "--markdown", default=None, metavar="FILE",
        help="runs/scaling: write the table into FILE's section of this benchmark (e.g. docs/performance.md)",
    )  # fmt: skip
    add_scaling_arguments(p)
    p.set_defaults(func=run)


def add_scaling_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``bench scaling`` (weak scaling of ``torchrun ... -m mlfastsim train``)."""
    p.add_argument("--family", default=None, help="scaling: the model family to train")
    p.add_argument("--config", default=None, help="scaling: a TOML/JSON run config; models: gvae's")
    p.add_argument("--paper-config", default=None, help="models: gvae-paper's TOML/JSON run config")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="scaling: an override")
    p.add_argument("--nproc", default="1,2", help="scaling: process counts (default 1,2)")
    p.add_argument(
        "--steps", type=int, default=100, help="scaling: optimiser steps per process (default 100)"
    )
    p.add_argument("--work", default=None, help="scaling: folder for the runs (default: a temporary one)")
    p.add_argument(
        "--n-eval", type=int, default=1000, help="precision: held-out events to judge (default 1000)"
    )
    p.add_argument(
        "--seed-runs", type=int, default=1,
        help="precision: fp32 trainings with other seeds for the seed spread bf16 is judged against (default 1)",
    )  # fmt: skip
    p.add_argument(
        "--paired-seeds", type=int, default=1,
        help="precision: train fp32 and bf16 at K seeds and judge the mean paired difference against its "
        "standard error (default 1: the one same-seed pair; the seed runs are raised to K-1)",
    )  # fmt: skip


def add_backend_argument(p: argparse.ArgumentParser) -> None:
    """``--backend``: where the runs' samplers run (exportable families; the others stay in PyTorch)."""
    p.add_argument(
        "--backend",
        choices=("torch", "onnx", "c"),
        default="torch",
        help="runs: torch (default), onnx (ONNX Runtime, --threads intra-op threads) or c (the compiled C "
        "of a plain-MLP generator); each run's sampler is exported and parity-checked first",
    )


def run(args: argparse.Namespace) -> int:
    """Run one benchmark, print its table (runs, scaling) and JSON."""
    import torch

    from mlfastsim._utils import InputError, atomic_write_text, jsonable
    from mlfastsim.data.io import read_jet_images

    if args.repeats is None:
        args.repeats = 5 if args.what == "runs" else 20
    _check_values(args)
    torch.set_num_threads(args.threads)
    table, markdown = None, None
    if args.what == "runs":
        from mlfastsim.bench.report import markdown_table, text_table

        result = _bench_runs(args)
        table = text_table(result)
        markdown = markdown_table(result, ["mlfastsim", *sys.argv[1:]] if args.markdown else ())
    elif args.what == "scaling":
        from mlfastsim.bench.scaling import bench_scaling, scaling_markdown, scaling_table

        result = _bench_scaling(args, bench_scaling)
        table, markdown = scaling_table(result), scaling_markdown(result)
    elif args.what == "precision":
        from mlfastsim.bench.precision import bench_precision, precision_markdown

        result = _bench_precision(args, bench_precision)
        table = markdown = precision_markdown(result)
    elif args.what == "models":
        from mlfastsim.bench.models import bench_models

        jets = read_jet_images(args.data, max_events=max(args.batch, 256))
        if len(jets) < args.batch:
            raise InputError(f"--data {args.data}: {len(jets)} jets, fewer than --batch {args.batch}")
        from mlfastsim._utils import load_config_file

        configs = [load_config_file(c) if c else None for c in (args.config, args.paper_config)]
        result = bench_models(
            jets, args.batch, args.n, args.repeats, gvae_config=configs[0], paper_config=configs[1]
        )
    elif args.what == "detector":
        from mlfastsim.bench.detector import bench_detector

        result = bench_detector(read_jet_images(args.data, max_events=args.n), repeats=args.repeats)
    else:
        from mlfastsim.bench.metrics import bench_metrics

        result = bench_metrics(args.data, args.candidate, n=args.n, n_jobs=args.threads)
    text = json.dumps(jsonable(result), indent=2)
    if table:
        print(table)
    print(text)
    if args.out:
        atomic_write_text(args.out, text)
    if args.markdown and markdown is not None:  # _check_values allowed --markdown only where there is one
        from mlfastsim.bench.report import write_section

        section = f"precision {args.family}" if args.what == "precision" else args.what
        write_section(args.markdown, section, markdown)
    return 0


def _check_values(args: argparse.Namespace) -> None:
    """Every setting checked before any work (one line each): counts positive, the outputs writable."""
    from mlfastsim._utils import InputError, check_writable
    from mlfastsim.cli.outputs import check_output

    for option in (
        "threads",
        "n",
        "batch",
        "repeats",
        "reference_events",
        "example_events",
        "steps",
        "n_eval",
        "seed_runs",
        "paired_seeds",
    ):
        if getattr(args, option) < 1:
            flag = "--" + option.replace("_", "-")
            raise InputError(f"{flag} {getattr(args, option)}: must be positive (1 or more)")
    if args.what == "runs":
        if not args.run:
            raise InputError("bench runs: give at least one --run RUN")
        _parse_ints(args.batches, "--batches")
    elif args.data is None:
        raise InputError(f"bench {args.what}: give --data FILE")
    if args.what == "scaling":
        _parse_ints(args.nproc, "--nproc")
    if args.markdown and args.what not in ("runs", "scaling", "precision"):
        raise InputError(f"bench {args.what}: --markdown is for 'runs', 'scaling' and 'precision'")
    if args.out:
        check_output(args)  # writable; an existing file only with --overwrite
    if args.markdown:
        check_writable(args.markdown, "--markdown")  # a section of it is replaced; the rest is kept


def _parse_ints(text: str, option: str) -> list[int]:
    from mlfastsim._utils import InputError

    try:
        values = [int(b) for b in text.split(",") if b.strip()]
    except ValueError:
        raise InputError(f"{option} {text!r}: write positive integers as 1,64,10000") from None
    if not values or min(values) < 1:
        raise InputError(f"{option} {text!r}: the numbers must be positive")
    return values


def _bench_runs(args: argparse.Namespace) -> dict[str, Any]:
    from mlfastsim._utils import InputError
    from mlfastsim.bench.suite import bench_suite
    from mlfastsim.data.kinds import kind_of

    batches = _parse_ints(args.batches, "--batches")
    conditions: dict[str, Any] = {}
    for path in args.conditions:
        kind = kind_of(path)
        if kind.name in conditions:
            raise InputError(f"--conditions {path}: a second {kind.name} file; give one file per kind")
        conditions[kind.name] = kind.read(path, max_events=max(batches))
    try:
        return bench_suite(
            args.run,
            conditions,
            batches,
            repeats=args.repeats,
            reference_events=args.reference_events,
            example_events=args.example_events,
            precision=args.precision,
            backend=args.backend,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _bench_precision(args: argparse.Namespace, bench_precision: Any) -> dict[str, Any]:
    from mlfastsim._utils import InputError

    if args.family is None:
        raise InputError("bench precision: give --family FAMILY (and --data FILE)")
    if args.steps < 6 or args.n_eval < 2:
        raise InputError("--steps must be at least 6 and --n-eval at least 2")
    return dict(
        bench_precision(
            args.family, args.data, steps=args.steps, config=args.config, overrides=args.set,
            n_eval=args.n_eval, work=args.work, seed_runs=args.seed_runs,
            paired_seeds=args.paired_seeds,
        )
    )  # fmt: skip


def _bench_scaling(args: argparse.Namespace, bench_scaling: Any) -> dict[str, Any]:
    from mlfastsim._utils import InputError

    if args.family is None:
        raise InputError("bench scaling: give --family FAMILY (and --data FILE)")
    return dict(
        bench_scaling(
            args.family,
            args.data,
            _parse_ints(args.nproc, "--nproc"),
            steps=args.steps,
            repeats=args.repeats,
            config=args.config,
            overrides=args.set,
            work=args.work,
        )
    )
