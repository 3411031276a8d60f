"""Stages that the kind demos (``mlfastsim demo pid|showers|tpc|particle-jets``) share: the reference files as
three shards of one generation on two processes, the inspect stage, the training of each run from its
shipped config, and the closing lines (report path, stage times)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlfastsim.cli.demo import step

__all__ = ["DemoRun", "finish", "inspect_stage", "simulate_shards", "train_stage"]

#: Shipped run configs (``configs/`` of the checkout).
CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def simulate_shards(
    generate: Callable[[tuple[str, int, int, tuple[int, int]]], dict[str, Any]],
    paths: Mapping[str, Path],
    sizes: Mapping[str, int],
    seed: int,
) -> None:
    """Write ``paths[name]`` with ``sizes[name]`` events for each name (train, reference, second) as shard
    k of 3 of one generation seeded ``seed``, on 2 processes; prints each file's summary (JSON).

    ``generate((path, n, seed, (k, 3)))`` (a module-level function, so the pool can pickle it) writes one
    shard and returns its summary."""
    jobs = [(str(paths[name]), n, seed, (k, 3)) for k, (name, n) in enumerate(sizes.items())]
    for name in sizes:
        paths[name].parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=2) as pool:
        for summary in pool.map(generate, jobs):
            print(json.dumps(summary))


def inspect_stage(kind: Any, path: Path, timings: dict[str, float]) -> None:
    """Stage 2/5: the kind's inspection of the training file; its time into ``timings["inspect"]``."""
    t = step("2/5 inspect")
    print(kind.format_inspection(kind.inspect(path)))
    timings["inspect"] = time.perf_counter() - t


@dataclass(frozen=True)
class DemoRun:
    """One run a demo trains: ``family`` with the shipped ``config`` (a file name in ``configs/``; its
    defaults when absent) and ``overrides`` (``--set`` strings), ``train`` settings (epochs, max_steps) and
    the tail of the stage heading (``what``, e.g. ``" for 10 epochs"``)."""

    family: str
    config: str
    overrides: tuple[str, ...] = ()
    train: Mapping[str, int] = field(default_factory=dict)
    what: str = ""


def run_dir_name(label: str) -> str:
    """A run's folder under ``out/runs``: its label without spaces and parentheses."""
    return label.replace(" ", "_").replace("(", "").replace(")", "")


def train_stage(
    kind: Any,
    runs: Mapping[str, DemoRun],
    train_file: Path,
    out: Path,
    seed: int,
    timings: dict[str, float],
    overwrite: bool = True,
) -> dict[str, tuple[Path, Any]]:
    """Stage 3/5: train every run (label → :class:`DemoRun`) on ``train_file`` into
    ``out/runs/<label>`` (:func:`run_dir_name`), printing each trainer summary; returns label → (run
    folder, loaded run); each time into ``timings["train <label>"]``."""
    from mlfastsim._utils import load_config_file
    from mlfastsim.inference import load_run
    from mlfastsim.training.runs import resolve_run_config, train_run

    loaded = {}
    for label, run in runs.items():
        t = step(f"3/5 train {label}{run.what}")
        path = CONFIGS / run.config
        file_cfg = load_config_file(path) if path.exists() else None
        cfg = resolve_run_config(run.family, kind.name, file_cfg, list(run.overrides), seed=seed, **run.train)
        run_dir = out / "runs" / run_dir_name(label)
        print(json.dumps(train_run(cfg, train_file, run_dir, overwrite=overwrite), default=str))
        loaded[label] = (run_dir, load_run(run_dir))
        timings[f"train {label}"] = time.perf_counter() - t
    return loaded


def finish(report: str, timings: Mapping[str, float]) -> None:
    """The closing lines: where the report is (``report``, after "Report: ") and the stage times (s)."""
    print(f"\nReport: {report}\nStage times (s): {json.dumps({k: round(v, 1) for k, v in timings.items()})}")
