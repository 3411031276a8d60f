"""bf16 measured, not assumed: one family trained twice on the same data with the same seed, in fp32 and under
bfloat16 autocast (and a third time in fp32 with another seed), and each run sampled in fp32 and bf16 — the
losses, the fidelity of the samples and the speed side by side.

Fidelity, for every kind alike: the 1-Wasserstein distance between the generated and held-out reference
events in the model's own normalised features (the codec's ``features`` of the valid entries — hits, particles,
cells, DLLs — pooled per feature column), each beside its bootstrap uncertainty and the truth-vs-truth value
(two halves of the reference); and the mean number of valid entries per event (the occupancy). A change of
*sampling* precision matters when it moves a distance by more than its bootstrap uncertainty (same model, same
noise). A change of *training* precision is judged against the training-run variability as well: more
trainings in fp32 with seeds seed + 1 … seed + K (K = ``seed_runs``, default 1) give the seed spread of every
metric (√2 × the standard deviation over the K + 1 fp32 runs: the typical difference of two trainings; for
K = 1 it is |fp32(seed) − fp32(seed + 1)|), and bf16 training moves a metric only when |bf16 − fp32|
exceeds sqrt(σ_fp32² + σ_bf16² + spread²) (:func:`training_verdict`). With ``paired_seeds`` K ≥ 2, bf16 is
also trained at seeds seed + 1 … seed + K − 1 (the fp32 halves of these pairs are the seed runs), and the mean
paired difference mean_s(bf16(s) − fp32(s)) is judged against its own standard error (:func:`paired_verdict`).
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

__all__ = [
    "bench_precision",
    "feature_distances",
    "paired_verdict",
    "precision_markdown",
    "training_verdict",
]

PRECISIONS = ("fp32", "bf16")


def _trainings(seed_runs: int, paired_seeds: int = 1) -> tuple[tuple[str, str, int], ...]:
    """The trainings as (label, precision, seed offset): fp32 and bf16 (same seed), the fp32 runs with seeds
    +1 … +``seed_runs`` (the spread), then the bf16 runs with seeds +1 … +``paired_seeds`` − 1 (the other pairs;
    their fp32 halves are seed runs, so ``seed_runs`` ≥ ``paired_seeds`` − 1)."""
    return (
        ("fp32", "fp32", 0),
        ("bf16", "bf16", 0),
        *((f"fp32, seed+{k}", "fp32", k) for k in range(1, seed_runs + 1)),
        *((f"bf16, seed+{k}", "bf16", k) for k in range(1, paired_seeds)),
    )


def _pair_labels(paired_seeds: int) -> list[tuple[str, str]]:
    """(fp32 label, bf16 label) of the trainings at seed + k, k = 0 … ``paired_seeds`` − 1."""
    return [("fp32", "bf16")] + [(f"fp32, seed+{k}", f"bf16, seed+{k}") for k in range(1, paired_seeds)]


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


def training_verdict(
    fp32: dict[str, Any], bf16: dict[str, Any], fp32_other_seeds: Sequence[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per metric (the keys of :func:`feature_distances`, all sampled in fp32): does training in bf16 move it by
    more than the uncertainty of a training-vs-training comparison?

    ``bf16_change`` = |bf16 − fp32| (same seed); ``seed_spread`` = √2 × the standard deviation (ddof 1) of the
    metric over ``fp32`` and the K ≥ 1 runs of ``fp32_other_seeds`` (for K = 1: |fp32(seed) − fp32(seed + 1)|);
    ``uncertainty`` = sqrt(σ_fp32² + σ_bf16² + seed_spread²) (σ: the bootstrap uncertainties of the two
    compared values; the spread itself includes evaluation noise, so this is on the generous side; with K = 1
    it is one draw of the run-to-run difference); ``verdict`` "within" when ``bf16_change`` ≤ ``uncertainty``,
    else "not within". All in the metric's own units (normalised features; entries per event for occupancy).
    """
    if not fp32_other_seeds:
        raise InputError("training_verdict: give at least one fp32 run with another seed (the seed spread)")
    out: dict[str, dict[str, Any]] = {}
    for key, ref in fp32.items():
        change = abs(bf16[key]["value"] - ref["value"])
        values = np.array([ref["value"], *(o[key]["value"] for o in fp32_other_seeds)], np.float64)
        spread = float(np.sqrt(2.0) * values.std(ddof=1))
        err = float(np.sqrt(ref["uncertainty"] ** 2 + bf16[key]["uncertainty"] ** 2 + spread**2))
        out[key] = {
            "bf16_change": float(change),
            "seed_spread": float(spread),
            "uncertainty": err,
            "verdict": "within" if change <= err else "not within",
        }
    return out


def paired_verdict(
    fp32_runs: Sequence[dict[str, Any]], bf16_runs: Sequence[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per metric (the keys of :func:`feature_distances`, all sampled in fp32): the bf16 training effect from K ≥ 2
    seed pairs, ``fp32_runs[s]`` and ``bf16_runs[s]`` trained with the same seed s.

    ``differences`` = [bf16(s) − fp32(s) for s] (K values, signed); ``mean_difference`` d̄ their mean;
    ``standard_error`` = std(d, ddof 1) / √K; ``bootstrap`` = sqrt(mean_s(σ_fp32(s)² + σ_bf16(s)²) / K) (the
    evaluation noise of d̄; the scatter of d contains it too, so the sum is on the generous side);
    ``uncertainty`` = sqrt(standard_error² + bootstrap²); ``verdict`` "within" when |d̄| ≤ ``uncertainty``, else
    "not within" (one standard deviation; with K − 1 degrees of freedom in the standard error). Units: the
    metric's own (normalised features; entries per event for occupancy).
    """
    if len(fp32_runs) != len(bf16_runs) or len(fp32_runs) < 2:
        raise InputError(
            f"paired_verdict: give K ≥ 2 fp32/bf16 pairs (got {len(fp32_runs)} fp32, {len(bf16_runs)} bf16)"
        )
    k = len(fp32_runs)
    pairs = list(zip(fp32_runs, bf16_runs, strict=True))
    out: dict[str, dict[str, Any]] = {}
    for key in fp32_runs[0]:
        d = np.array([b[key]["value"] - f[key]["value"] for f, b in pairs], np.float64)
        var = [f[key]["uncertainty"] ** 2 + b[key]["uncertainty"] ** 2 for f, b in pairs]
        se = float(d.std(ddof=1) / np.sqrt(k))
        boot = float(np.sqrt(np.mean(var) / k))
        err = float(np.hypot(se, boot))
        mean = float(d.mean())
        out[key] = {
            "differences": [float(x) for x in d],
            "mean_difference": mean,
            "standard_error": se,
            "bootstrap": boot,
            "uncertainty": err,
            "verdict": "within" if abs(mean) <= err else "not within",
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
    seed_runs: int = 1,
    paired_seeds: int = 1,
) -> dict[str, Any]:
    """Train ``family`` on all but the last ``n_eval`` events of ``data`` for ``steps`` steps in fp32 and in
    bf16 (same seed, same batches) and ``seed_runs`` more times in fp32 with seeds ``seed + 1`` … (the
    training-run variability), then sample each run conditioned on the last ``n_eval`` events (the held-out
    reference) — the first two in fp32 and bf16, the others in fp32 — and measure the fidelity
    (:func:`feature_distances`) and speed.

    Returns:
        ``training`` (per training "fp32", "bf16", "fp32, seed+1", …: loss summary, s per step), ``sampling``
        (per training × sampling precision: distances, µs per event), ``training_effect`` (per metric:
        :func:`training_verdict` of bf16 training against the seed spread), ``floor`` (the distances between
        two halves of the reference), the settings and the machine facts. With ``paired_seeds`` K ≥ 2: bf16 is
        trained at seeds ``seed + 1`` … ``seed + K − 1`` as well ("bf16, seed+1", …, sampled in fp32), the fp32
        seed runs are at least K − 1 (``seed_runs`` is raised to K − 1 if smaller), and ``paired_effect``
        holds :func:`paired_verdict` of the K pairs.
    """
    from mlfastsim.data.kinds import kind_of
    from mlfastsim.training.runs import resolve_run_config, train_run

    kind = kind_of(data)
    events = kind.read(data)
    if seed_runs < 1:
        raise InputError(f"--seed-runs {seed_runs}: need at least 1 fp32 run with another seed (the spread)")
    if paired_seeds < 1:
        raise InputError(f"--paired-seeds {paired_seeds}: must be positive (1: the one same-seed pair only)")
    seed_runs = max(seed_runs, paired_seeds - 1)  # the seed runs are the fp32 halves of the other pairs
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
    result.update(training={}, sampling={}, config=config, overrides=list(overrides), seed_runs=seed_runs)
    result["paired_seeds"] = paired_seeds
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        train_file = Path(tmp) / f"train{kind.default_suffix}"
        kind.write(train_file, events.subset(np.arange(len(events) - n_eval)))
        for label, p, offset in _trainings(seed_runs, paired_seeds):
            run_seed = seed + offset
            sets = [*overrides, f"train.precision={p}", "train.log_every_steps=1", "train.device=cpu"]
            cfg = resolve_run_config(family, kind.name, file_config, sets, max_steps=steps, seed=run_seed)
            out = Path(tmp) / f"run-{len(result['training'])}"
            summary = train_run(cfg, train_file, out)
            result["training"][label] = {
                **_loss_summary(out, steps),
                "wall_time_s": summary.get("wall_time_s"),
            }
            run = load_run(out)
            if "floor" not in result:
                half = n_eval // 2
                a, b = held.subset(np.arange(half)), held.subset(np.arange(half, n_eval))
                result["floor"] = feature_distances(run, a, b, seed)
            for q in PRECISIONS if label in PRECISIONS else ("fp32",):  # other seeds: fp32 sampling only
                sample_run(run, conditions=held.subset(np.arange(8)), seed=seed, precision=q)  # warm-up
                start = time.perf_counter()
                generated = sample_run(run, conditions=held, seed=seed, precision=q)
                seconds = time.perf_counter() - start
                result["sampling"][f"trained {label}, sampled {q}"] = {
                    "us_per_event": 1e6 * seconds / n_eval,
                    **feature_distances(run, held, generated, seed),
                }
    dist = {
        t: {k: v for k, v in result["sampling"][f"trained {t}, sampled fp32"].items() if k != "us_per_event"}
        for t in result["training"]
    }
    others = [dist[f"fp32, seed+{k}"] for k in range(1, seed_runs + 1)]
    result["training_effect"] = training_verdict(dist["fp32"], dist["bf16"], others)
    if paired_seeds > 1:
        pairs = _pair_labels(paired_seeds)
        result["paired_effect"] = paired_verdict([dist[f] for f, _ in pairs], [dist[b] for _, b in pairs])
    result["threads"] = torch.get_num_threads()
    result["machine"] = machine_facts()
    return result


def _cell(m: dict[str, Any]) -> str:
    return f"{m['value']:.4f} ± {m['uncertainty']:.4f}"


def precision_markdown(result: dict[str, Any]) -> str:
    """The family's bf16-vs-fp32 table (training and sampling side by side) and the training verdict table
    (bf16 training's change of each metric against the seed spread)."""
    rows = list(result["sampling"].items())
    metrics = [k for k in rows[0][1] if k != "us_per_event"]
    head = ["", *(name for name, _ in rows), "truth vs truth"]
    blank = " |" * (len(head) - 2)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in result["training"]:
        t = result["training"][p]
        for key, m in t["train_losses_last_fifth"].items():
            lines.append(f"| training {p}: {key} (mean of the last fifth of the steps) | {_cell(m)} |{blank}")
        lines.append(f"| training {p}: s per step | {t['s_per_step']:.4f} |{blank}")
    lines.append(
        "| sampling µs per event | " + " | ".join(f"{r['us_per_event']:.1f}" for _, r in rows) + " | |"
    )
    for key in metrics:
        lines.append(
            f"| {key} | " + " | ".join(_cell(r[key]) for _, r in rows) + f" | {_cell(result['floor'][key])} |"
        )
    k = result["seed_runs"]
    spread = (
        "\\|fp32(seed) − fp32(seed+1)\\|" if k == 1 else f"seed spread (√2 × std over {k + 1} fp32 seeds)"
    )
    verdict = [
        f"| training in bf16 (sampled fp32) | \\|bf16 − fp32\\| | {spread} | combined uncertainty | verdict |",
        "|---|---|---|---|---|",
    ]
    for key, v in result["training_effect"].items():
        verdict.append(
            f"| {key} | {v['bf16_change']:.4f} | {v['seed_spread']:.4f} | {v['uncertainty']:.4f} | {v['verdict']} |"
        )
    paired = _paired_lines(result)
    m = result["machine"]
    others = "a second fp32 run with seed+1" if k == 1 else f"{k} more fp32 runs with seed+1…seed+{k}"
    kp = result.get("paired_seeds", 1)
    if kp > 1:
        others += f" and bf16 runs with seed+1…seed+{kp - 1} (the paired seeds)"
    note = (
        f"{result['family']} on {result['kind']} ({result['data']}), {result['steps']} steps per run; fp32 and "
        f"bf16 trained with the same seed, {others}; sampled conditioned on "
        f"{result['n_eval']} held-out events; W1 in the model's normalised features (bootstrap uncertainty); "
        f"combined uncertainty = sqrt(σ_fp32² + σ_bf16² + seed spread²); {result['threads']} thread(s), "
        f"CPU {m['cpu']}, torch {m['torch']}."
    )
    return (
        "\n".join([f"### {result['family']} ({result['kind']})", "", *lines, "", *verdict, "", *paired, note])
        + "\n"
    )


def _paired_lines(result: dict[str, Any]) -> list[str]:
    """The paired-seeds verdict table (none for ``paired_seeds`` 1), with a blank line after it."""
    kp = result.get("paired_seeds", 1)
    if kp < 2:
        return []
    lines = [
        f"| training in bf16, {kp} seed pairs (sampled fp32) | bf16(s) − fp32(s), s = seed…seed+{kp - 1} | "
        "mean difference d̄ ± uncertainty | standard error | bootstrap | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for key, v in result["paired_effect"].items():
        d = ", ".join(f"{x:+.4f}" for x in v["differences"])
        lines.append(
            f"| {key} | {d} | {v['mean_difference']:+.4f} ± {v['uncertainty']:.4f} | {v['standard_error']:.4f} "
            f"| {v['bootstrap']:.4f} | {v['verdict']} |"
        )
    return [*lines, ""]
