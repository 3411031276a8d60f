"""Changed training settings on ``--resume``: each is applied (and said so) or refused — never dropped.

A resumed run restores the optimiser's and schedule's state from ``last.pt``; PyTorch's
``load_state_dict`` also restores the hyperparameters stored in them (learning rate, betas, weight decay),
which would silently undo ``--resume --set train.lr=...``. :func:`apply_optimizer_settings` writes the
current settings back after the restore; with unchanged settings the result is bit for bit the same
as without it, so an interrupted run still resumes exactly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import torch

from mlfastsim._utils import InputError, jsonable
from mlfastsim.training.config import TrainConfig

__all__ = ["REFUSED", "apply_optimizer_settings", "changed_train_settings"]

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
