"""bf16 measured, not assumed: one family trained twice on the same data with the same seed, in fp32 and under
bfloat16 autocast, and each run sampled in fp32 and bf16 — the losses, the fidelity of the samples and the
speed side by side.

Fidelity, for every kind alike: the 1-Wasserstein distance between the generated and held-out reference
events in the model's own normalised features (the codec's ``features`` of the valid entries — hits, particles,
cells, DLLs — pooled per feature column), each beside its bootstrap uncertainty and the truth-vs-truth value
(two halves of the reference); and the mean number of valid entries per event (the occupancy). A change of
precision matters when it moves a distance by more than its uncertainty.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlfastsim._utils import InputError, load_config_file
from mlfastsim.bench.scaling import timed_seconds
from mlfastsim.bench.timing import machine_facts
from mlfastsim.inference import LoadedRun, load_run, sample_run
from mlfastsim.metrics import w1

__all__ = ["bench_precision", "feature_distances", "precision_markdown"]

PRECISIONS = ("fp32", "bf16")


def _features(run: LoadedRun, events: Any) -> tuple[np.ndarray, np.ndarray]:
    batch = run.codec.encode(events, frozenset({"features", "mask"}))
    feats = batch["features"].double().numpy()
    if feats.ndim == 2:  # one entry per event (a PID table's DLLs)
        feats = feats[:, None, :]
    mask = batch["mask"].numpy().astype(bool).reshape(len(feats), -1) if "mask" in batch else None
    if mask is None or mask.shape[1] != feats.shape[1]:
        mask = np.ones(feats.shape[:2], bool)
    return feats, mask


def feature_distances(run: LoadedRun, reference: Any, candidate: Any, seed: int = 0) -> dict[str, Any]:
    """Per feature column ``j``: W1 of the valid entries' feature ``j`` (``{value, uncertainty, n}``, in the
    model's normalised units), and the occupancy difference (valid entries per event, candidate − reference)."""
    fr, mr = _features(run, reference)
    fc, mc = _features(run, candidate)
    out: dict[str, Any] = {}
    for j in range(fr.shape[-1]):
        out[f"W1 feature {j}"] = w1(fr[mr][:, j], fc[mc][:, j], n_boot=20, seed=seed).to_dict()
    occ_r, occ_c = mr.sum(1).astype(np.float64), mc.sum(1).astype(np.float64)
    err = float(np.hypot(occ_r.std() / np.sqrt(len(occ_r)), occ_c.std() / np.sqrt(len(occ_c))))
    out["occupancy difference"] = {
        "value": float(occ_c.mean() - occ_r.mean()),
        "uncertainty": err,
        "n": len(occ_c),
    }
    return out


def _loss_summary(run_dir: Path, steps: int) -> dict[str, Any]:
    import json

    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x]
    train = [r for r in records if r.get("split") == "train"]
    keys = sorted({k for r in train for k in r if k == "loss" or k.endswith("/loss")})
    losses = {}
    for k in keys:  # a GAN logs one loss per parameter group, each at its own steps
        values = np.array([r[k] for r in train if k in r], np.float64)
        values = values[-max(1, len(values) // 5) :]
        losses[k] = {"value": float(values.mean()), "uncertainty": float(values.std() / np.sqrt(len(values)))}
    seconds, timed, _ = timed_seconds(run_dir, warmup=min(5, steps - 1))
    val = [r for r in records if r.get("split") == "val"]
    return {
        "train_losses_last_fifth": losses,
        "val_last": val[-1] if val else None,
        "s_per_step": seconds / timed,
    }


def bench_precision(
    family: str,
    data: str,
    steps: int = 200,
    config: str | None = None,
    overrides: Sequence[str] = (),
    n_eval: int = 1000,
    seed: int = 0,
    work: str | None = None,
) -> dict[str, Any]:
    """Train ``family`` on all but the last ``n_eval`` events of ``data`` for ``steps`` steps in fp32 and in
    bf16 (same seed, same batches), then sample each run in fp32 and bf16 conditioned on the last ``n_eval``
    events (the held-out reference) and measure the fidelity (:func:`feature_distances`) and speed.

    Returns:
        ``training`` (per precision: loss summary, s per step), ``sampling`` (per training × sampling
        precision: distances, µs per event), ``floor`` (the distances between two halves of the reference),
        the settings and the machine facts.
    """
    from mlfastsim.data.kinds import kind_of
    from mlfastsim.training.runs import resolve_run_config, train_run

    kind = kind_of(data)
    events = kind.read(data)
    if len(events) < 2 * n_eval + 10:
        raise InputError(
            f"{data}: {len(events)} events; need more than twice --n-eval ({n_eval}) plus training"
        )
    held = events.subset(np.arange(len(events) - n_eval, len(events)))
    file_config = load_config_file(config) if config else None
    result: dict[str, Any] = {
        "family": family,
        "kind": kind.name,
        "data": data,
        "steps": steps,
        "n_eval": n_eval,
    }
    result.update(training={}, sampling={}, config=config, overrides=list(overrides))
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        train_file = Path(tmp) / f"train{kind.default_suffix}"
        kind.write(train_file, events.subset(np.arange(len(events) - n_eval)))
        for p in PRECISIONS:
            sets = [*overrides, f"train.precision={p}", "train.log_every_steps=1", "train.device=cpu"]
            cfg = resolve_run_config(family, kind.name, file_config, sets, max_steps=steps, seed=seed)
            out = Path(tmp) / f"run-{p}"
            summary = train_run(cfg, train_file, out)
            result["training"][p] = {**_loss_summary(out, steps), "wall_time_s": summary.get("wall_time_s")}
            run = load_run(out)
            if "floor" not in result:
                half = n_eval // 2
                a, b = held.subset(np.arange(half)), held.subset(np.arange(half, n_eval))
                result["floor"] = feature_distances(run, a, b, seed)
            for q in PRECISIONS:
                sample_run(run, conditions=held.subset(np.arange(8)), seed=seed, precision=q)  # warm-up
                start = time.perf_counter()
                generated = sample_run(run, conditions=held, seed=seed, precision=q)
                seconds = time.perf_counter() - start
                result["sampling"][f"trained {p}, sampled {q}"] = {
                    "us_per_event": 1e6 * seconds / n_eval,
                    **feature_distances(run, held, generated, seed),
                }
    result["threads"] = torch.get_num_threads()
    result["machine"] = machine_facts()
    return result


def _cell(m: dict[str, Any]) -> str:
    return f"{m['value']:.4f} ± {m['uncertainty']:.4f}"


def precision_markdown(result: dict[str, Any]) -> str:
    """The family's bf16-vs-fp32 table (training and sampling side by side)."""
    rows = list(result["sampling"].items())
    metrics = [k for k in rows[0][1] if k != "us_per_event"]
    head = ["", *(name for name, _ in rows), "truth vs truth"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in PRECISIONS:
        t = result["training"][p]
        for key, m in t["train_losses_last_fifth"].items():
            lines.append(
                f"| training {p}: {key} (mean of the last fifth of the steps) | {_cell(m)} | | | | |"
            )
        lines.append(f"| training {p}: s per step | {t['s_per_step']:.4f} | | | | |")
    lines.append(
        "| sampling µs per event | " + " | ".join(f"{r['us_per_event']:.1f}" for _, r in rows) + " | |"
    )
    for key in metrics:
        lines.append(
            f"| {key} | " + " | ".join(_cell(r[key]) for _, r in rows) + f" | {_cell(result['floor'][key])} |"
        )
    m = result["machine"]
    note = (
        f"{result['family']} on {result['kind']} ({result['data']}), {result['steps']} steps per run, seed fixed; "
        f"sampled conditioned on {result['n_eval']} held-out events; W1 in the model's normalised features "
        f"(bootstrap uncertainty); {result['threads']} thread(s), CPU {m['cpu']}, torch {m['torch']}."
    )
    return "\n".join([f"### {result['family']} ({result['kind']})", "", *lines, "", note]) + "\n"
