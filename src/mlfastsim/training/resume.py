"""Resuming a training: the trainer's state from ``last.pt`` (:func:`restore_trainer`), the changed training
settings on ``--resume`` (each is applied, and said so, or refused — never dropped), and the one line of a
diverged run (:func:`diverged_message`, naming the checkpoint it keeps).

A resumed run restores the optimiser's and schedule's state from ``last.pt``; PyTorch's
``load_state_dict`` also restores the hyperparameters stored in them (learning rate, betas, weight decay),
which would silently undo ``--resume --set train.lr=...``. :func:`apply_optimizer_settings` writes the
current settings back after the restore; with unchanged settings the result is bit for bit the same
as without it, so an interrupted run still resumes exactly.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from mlfastsim._utils import InputError, jsonable
from mlfastsim.training.checkpoint import load_checkpoint
from mlfastsim.training.config import TrainConfig, config_to_dict

if TYPE_CHECKING:
    from mlfastsim.training.trainer import Trainer

__all__ = [
    "REFUSED",
    "apply_optimizer_settings",
    "changed_train_settings",
    "diverged_message",
    "restore_trainer",
]

#: Settings that a resumed run cannot change: they define the run's data order (seed, batch size), the
#: optimiser's state layout (optimizer, a group's steps per cycle) or what "best" means (best_metric).
REFUSED = ("seed", "batch_size", "optimizer", "best_metric", "steps")


def _flat(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def changed_train_settings(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """A one-line description of the training settings that differ from the run's (they are applied:
    the trainer reads them live and :func:`apply_optimizer_settings` restores the optimiser's), or a
    one-line InputError for one that cannot change (:data:`REFUSED`). ``""`` when nothing changed."""
    before, after = _flat(jsonable(dict(old))), _flat(jsonable(dict(new)))
    changes = []
    for key in sorted(set(before) & set(after)):
        if before[key] == after[key]:
            continue
        if key.split(".")[-1] in REFUSED:
            raise InputError(
                f"--resume: train.{key}={json.dumps(after[key])} differs from the run's "
                f"{json.dumps(before[key])}, which a resumed run cannot change; start a new run "
                "(new --out or --overwrite)"
            )
        changes.append(f"train.{key} {json.dumps(before[key])} -> {json.dumps(after[key])}")
    return ", ".join(changes)


def apply_optimizer_settings(optimizer: torch.optim.Optimizer, scheduler: Any, config: TrainConfig) -> None:
    """Set ``config``'s lr, betas and weight decay on a restored optimiser and its LambdaLR schedule.

    The schedule's base learning rate becomes ``config.lr`` and the current rate ``lr × factor(step)``
    — what the schedule itself computes, so unchanged settings change nothing.
    """
    for group in optimizer.param_groups:
        group["initial_lr"] = config.lr
        group["betas"] = tuple(config.betas)
        group["weight_decay"] = config.weight_decay
    if scheduler is None:
        for group in optimizer.param_groups:
            group["lr"] = config.lr
        return
    scheduler.base_lrs = [config.lr for _ in optimizer.param_groups]
    step = scheduler.last_epoch
    for group, base, factor in zip(
        optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas, strict=True
    ):
        group["lr"] = base * factor(step)
    scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]


def restore_trainer(trainer: Trainer, ckpt: dict[str, Any]) -> None:
    """Put ``trainer`` into the state of checkpoint ``ckpt`` (``last.pt``) for ``--resume``: model,
    optimisers and schedules (with the current settings applied, said on stderr when they changed), step,
    epoch, position in the epoch, best validation value, early-stopping count, elapsed time, this rank's RNG
    states (when the world size is the run's) and the extra state. A one-line InputError for another model's
    settings or weights, or a refused training setting (:func:`changed_train_settings`)."""
    old_model, new_model = ckpt["config"].get("model"), trainer.resolved["model"]
    if old_model is not None and new_model is not None and old_model != jsonable(new_model):
        from mlfastsim.training.rundir import first_difference

        diff = first_difference(old_model, new_model, "model") or ("model", "?", "?")
        raise InputError(
            f"--resume: {diff[0]}={diff[2]!r} differs from the run's {diff[1]!r}; "
            "resume with the run's model settings or start a new run"
        )
    applied = changed_train_settings(ckpt["config"].get("train", {}), config_to_dict(trainer.config))
    try:
        trainer.model.load_state_dict(ckpt["model_state"])
    except RuntimeError as exc:
        raise InputError(f"--resume: last.pt does not match the model ({str(exc).splitlines()[0]})") from None
    trainer.optimizer.load_state_dict(ckpt["optimizer_state"])
    if ckpt["scheduler_state"] is not None:
        trainer.scheduler.load_state_dict(ckpt["scheduler_state"])
    if trainer.groups is not None:
        groups = trainer.groups
        for name, opt in groups.optimizers.items():
            apply_optimizer_settings(opt, groups.schedulers[name], groups.configs[name])
    else:
        apply_optimizer_settings(trainer.optimizer, trainer.scheduler, trainer.config)
    if applied and trainer.dist.is_main:
        print(f"resume: applying changed settings from step {ckpt['step']}: {applied}", file=sys.stderr)
    state = ckpt["trainer_state"]
    trainer.step, trainer.epoch = ckpt["step"], ckpt["epoch"]
    trainer.batch_in_epoch = state.get("batch_in_epoch", 0)
    trainer.best_val_loss, trainer.bad_epochs = ckpt["best_val_loss"], ckpt["bad_epochs"]
    trainer.stopped_early = state.get("stopped_early", False)
    trainer.elapsed = state.get("elapsed_s", 0.0)
    rngs = ckpt["rng_states"]
    trainer._rng = rngs[trainer.dist.rank] if len(rngs) == trainer.dist.world_size else None
    trainer.extra_state = {**ckpt["extra"], **trainer.extra_state}


def diverged_message(last: Path, step: int, exc: BaseException) -> str:
    """The one line for a run that diverged at optimiser ``step`` (1-based): the reason, which checkpoint
    (``last``, with its step) is kept, and what to change."""
    try:
        kept = (
            f"{last} (step {load_checkpoint(last)['step']}) is kept" if last.exists() else "none was written"
        )
    except InputError:
        kept = f"{last} is unreadable"
    reason = " ".join(str(exc).split())
    return (
        f"training stopped at step {step}: {reason}; nothing non-finite was saved, the last good "
        f"checkpoint {kept} — lower train.lr (or a group's lr), set train.grad_clip, or check the data"
    )
