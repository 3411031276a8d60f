"""Weak scaling of distributed training, as seed 002 measured it (Horovod on V100s, its Fig. 5): every process
trains a fixed number of iterations on its own batches, so p processes see p times the data; the mean time
T_p of those iterations over repeated runs gives speed-up S_p = p · T_1 / T_p and efficiency E_p = S_p / p.

Each run is ``torchrun --standalone --nproc_per_node p -m mlfastsim train ...`` (gloo on CPU, NCCL on GPU),
one thread per process. The time of a run is read from rank 0's ``metrics.jsonl`` (a line every step): from
the end of step ``warmup`` to the end of the last step, so start-up, data loading and the first steps
(allocation, gloo's first collectives) are not counted.

Two bounds make the efficiency readable on a given machine (both from the same run):

* *without communication*: for each p > 1, p plain single-process trainings (other seeds) run at once with no
  process group; T_1 / T_p^indep is what the shared cores, memory bandwidth and caches alone allow;
* *straggler bound*: synchronous data parallelism waits every step for the slowest of the p ranks; from the
  1-process runs' per-step times, mean / E[max of p independent step times] (resampled) is what a perfect,
  free all-reduce would still lose to step-time variance (batches of different hit counts cost differently).

Their product is roughly the best a synchronous method can reach on that machine for that model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import InputError
from mlfastsim.bench.timing import machine_facts

__all__ = [
    "bench_scaling",
    "scaling_markdown",
    "scaling_rows",
    "scaling_table",
    "step_seconds",
    "straggler_bound",
    "timed_seconds",
    "torchrun_command",
]


def torchrun_command(nproc: int, family: str, data: str, out: str, extra: Sequence[str] = ()) -> list[str]:
    """The command line of one distributed training run on this machine (``--standalone`` rendezvous)."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    return [*launcher, *_train_args(family, data, out, extra)]


def _train_args(family: str, data: str, out: str, extra: Sequence[str]) -> list[str]:
    return ["-m", "mlfastsim", "train", family, "--data", data, "--out", out, *extra]


def _failure(what: str, stderr: str) -> InputError:
    """The one-line error of a failed training subprocess: ``what`` and the last line it wrote."""
    return InputError(f"bench scaling: {what} failed ({(stderr.strip().splitlines() or ['no output'])[-1]})")


def timed_seconds(run_dir: Path, warmup: int) -> tuple[float, int, bool]:
    """Seconds from the end of step ``warmup`` to the end of the last logged training step, the number of
    steps in between, and whether an epoch ended inside (validation and checkpoints then count too)."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    train = [r for r in records if r.get("split") == "train"]
    start = next((r for r in train if r["step"] == warmup), None)
    if start is None or train[-1]["step"] <= warmup:
        raise InputError(f"{run_dir}: fewer than {warmup + 1} logged steps; raise --steps")
    crossed = train[-1]["epoch"] != start["epoch"] or any(
        r.get("split") == "val" and start["step"] < r["step"] < train[-1]["step"] for r in records
    )
    return float(train[-1]["seconds"] - start["seconds"]), int(train[-1]["step"] - warmup), crossed


def step_seconds(run_dir: Path, warmup: int) -> np.ndarray:
    """``[steps − warmup]`` durations (s) of the training steps after step ``warmup`` (rank 0's log)."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    seconds = np.array([r["seconds"] for r in records if r.get("split") == "train" and r["step"] >= warmup])
    return np.diff(seconds)


def straggler_bound(steps_s: np.ndarray, p: int, draws: int = 100_000, seed: int = 0) -> float:
    """mean(step time) / E[max of ``p`` step times drawn from ``steps_s``]: the efficiency a synchronous
    step of p ranks keeps when communication is free but step times vary as in ``steps_s`` (1 for p = 1 or
    constant steps; resampled with ``numpy.random.default_rng(seed)``)."""
    rng = np.random.default_rng(seed)
    slowest = rng.choice(steps_s, size=(draws, p)).max(axis=1)
    return float(np.mean(steps_s) / np.mean(slowest))


def _independent(
    p: int, family: str, data: str, out: Path, extra: Sequence[str], env: dict[str, str], warmup: int
) -> float:
    """Mean timed seconds of ``p`` single-process trainings run at once (seeds 1 … p, no process group)."""
    runs = [out / f"indep{i}" for i in range(p)]
    procs = [
        subprocess.Popen([sys.executable, *_train_args(family, data, str(d), [*extra, "--seed", str(1 + i)])],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for i, d in enumerate(runs)
    ]  # fmt: skip
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise _failure(f"{p} independent runs", err)
    return float(np.mean([timed_seconds(d, warmup)[0] for d in runs]))


def bench_scaling(
    family: str,
    data: str,
    nprocs: Sequence[int] = (1, 2),
    steps: int = 100,
    repeats: int = 3,
    config: str | None = None,
    overrides: Sequence[str] = (),
    work: str | None = None,
    warmup: int = 5,
) -> dict[str, Any]:
    """Train ``family`` on ``data`` for ``steps`` iterations per process with each process count of
    ``nprocs``, ``repeats`` times each (interleaved: 1, 2, 1, 2, ... so a change of machine load hits every
    count alike), and tabulate mean and standard deviation of the timed seconds, speed-up and efficiency.

    Returns:
        ``rows`` (per process count: times, mean_s, std_s, speedup, efficiency, steps timed, whether an
        epoch boundary fell inside), the settings, ``load_before``/``load_after`` (1-minute load averages)
        and the machine facts.
    """
    if nprocs[0] != 1:
        raise InputError(f"--nproc: start with 1 (the reference of the speed-up), got {list(nprocs)}")
    if steps <= warmup:
        raise InputError(f"--steps {steps}: must exceed the {warmup} warm-up steps that are not timed")
    extra = ["--max-steps", str(steps), "--set", "train.log_every_steps=1", "--set", "train.device=cpu"]
    extra += [*(["--config", config] if config else []), *(a for o in overrides for a in ("--set", o))]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MLFASTSIM_PROGRESS": "0"}
    times: dict[int, list[float]] = {p: [] for p in nprocs}
    crossed: dict[int, bool] = {p: False for p in nprocs}
    timed: dict[int, int] = {}
    indep: dict[int, list[float]] = {p: [] for p in nprocs[1:]}
    one_steps: list[np.ndarray] = []
    load_before = os.getloadavg()[0]
    if work is not None:
        Path(work).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        for r in range(repeats):
            for p in nprocs:
                out = Path(tmp) / f"p{p}-r{r}"
                cmd = torchrun_command(p, family, data, str(out), extra)
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if proc.returncode != 0:
                    raise _failure(f"{p} process(es)", proc.stderr)
                seconds, timed[p], cross = timed_seconds(out, warmup)
                times[p].append(seconds)
                crossed[p] = crossed[p] or cross
                if p == 1:
                    one_steps.append(step_seconds(out, warmup))
                else:
                    indep[p].append(
                        _independent(p, family, data, Path(tmp) / f"i{p}-r{r}", extra, env, warmup)
                    )
    rows = scaling_rows(times)
    steps_1 = np.concatenate(one_steps)
    for row in rows:
        p = row["processes"]
        row.update(steps_timed=timed[p], epoch_boundary_inside=crossed[p])
        row["independent_s"] = indep[p] if p > 1 else times[1]
        row["efficiency_without_communication"] = float(np.mean(times[1]) / np.mean(row["independent_s"]))
        row["straggler_bound"] = straggler_bound(steps_1, p)
    return {
        "family": family,
        "data": data,
        "steps_per_process": steps,
        "warmup_steps_not_timed": warmup,
        "repeats": repeats,
        "threads_per_process": 1,
        "overrides": list(overrides),
        "config": config,
        "rows": rows,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "machine": machine_facts(),
    }


def scaling_rows(times: dict[int, list[float]]) -> list[dict[str, Any]]:
    """Seed 002's rows from the timed seconds of each process count (1 first): mean and standard deviation,
    speed-up S_p = p · T_1 / T_p (p processes do p times the work) and efficiency S_p / p = T_1 / T_p; also
    the efficiency from median times, which one run slowed by another job on the machine does not move."""
    counts = list(times)
    if counts[0] != 1:
        raise InputError(f"--nproc: start with 1 (the reference of the speed-up), got {counts}")
    base = float(np.mean(times[1]))
    rows = []
    for p in counts:
        mean = float(np.mean(times[p]))
        std = float(np.std(times[p], ddof=1)) if len(times[p]) > 1 else 0.0
        speedup = p * base / mean
        median = float(np.median(times[p]))
        rows.append({"processes": p, "times_s": times[p], "mean_s": mean, "std_s": std, "speedup": speedup,
                     "efficiency": speedup / p, "median_s": median,
                     "efficiency_median": float(np.median(times[1])) / median})  # fmt: skip
    return rows


def _cells(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    head = ["", *(f"{r['processes']} process{'es' if r['processes'] > 1 else ''}" for r in result["rows"])]
    rows = [
        ["Mean execution time (s)", *(f"{r['mean_s']:.2f}" for r in result["rows"])],
        ["Stddev execution time (s)", *(f"{r['std_s']:.2f}" for r in result["rows"])],
        ["Speed-up", *(f"{r['speedup']:.2f}" for r in result["rows"])],
        ["Parallelisation efficiency", *(f"{r['efficiency']:.2f}" for r in result["rows"])],
    ]
    if all("efficiency_median" in r for r in result["rows"]):
        rows.append(
            ["Efficiency from median times", *(f"{r['efficiency_median']:.2f}" for r in result["rows"])]
        )
    if all("straggler_bound" in r for r in result["rows"]):
        rows += [
            ["Efficiency, p runs at once without communication",
             *(f"{r['efficiency_without_communication']:.2f}" for r in result["rows"])],
            ["Straggler bound (slowest of p step times)", *(f"{r['straggler_bound']:.2f}" for r in result["rows"])],
        ]  # fmt: skip
    return head, rows


def scaling_table(result: dict[str, Any]) -> str:
    """Seed 002's table (Fig. 5) as fixed-width text."""
    head, rows = _cells(result)
    widths = [max(len(c) for c in col) for col in zip(head, *rows, strict=True)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) for cells in (head, *rows)]
    return "\n".join([*lines, _note(result)])


def scaling_markdown(result: dict[str, Any]) -> str:
    """Seed 002's table as Markdown, with the settings and the machine load."""
    head, rows = _cells(result)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(["### Weak scaling of distributed training", "", *lines, "", _note(result)]) + "\n"


def _note(result: dict[str, Any]) -> str:
    timed = result["rows"][0]["steps_timed"]
    inside = [r["processes"] for r in result["rows"] if r["epoch_boundary_inside"]]
    m = result["machine"]
    return (
        f"{result['family']} on {result['data']}, {result['steps_per_process']} iterations per process "
        f"({timed} timed after {result['warmup_steps_not_timed']} warm-up), {result['repeats']} runs per "
        f"count, one thread per process, gloo; CPU {m['cpu']} ({m['cores']} cores); 1-min load average "
        f"{result['load_before']:.2f} before, {result['load_after']:.2f} after"
        + (f"; an epoch ended inside the timed steps for {inside} processes" if inside else "")
        + "."
    )
