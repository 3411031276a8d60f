"""Training configuration and the optimiser and schedule it builds; config helpers live in ``_utils.config``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from mlfastsim._utils import InputError
from mlfastsim._utils.config import apply_overrides, config_from_dict, config_to_dict, load_config_file

__all__ = [
    "GROUP_NAMES",
    "GroupConfig",
    "GroupSettings",
    "TrainConfig",
    "apply_overrides",
    "build_optimizer",
    "build_scheduler",
    "config_from_dict",
    "config_to_dict",
    "group_config",
    "load_config_file",
]


#: The parameter-group names a config can tune (``train.groups.<name>``), those adversarial families use.
GROUP_NAMES = ("generator", "critic", "discriminator", "regressor")


@dataclass(frozen=True)
class GroupConfig:
    """Optimiser settings of one parameter group of an adversarial model; None inherits the ``[train]`` value.

    ``steps`` overrides the model's optimiser steps of the group per cycle (``group_steps()``), e.g. the
    critic steps per generator step of a WGAN-GP (Gulrajani et al. 2017 use 5; the MPD TPC GAN 8).
    """

    lr: float | None = None
    optimizer: Literal["adam", "adamw"] | None = None
    betas: tuple[float, float] | None = None
    weight_decay: float | None = None
    schedule: Literal["constant", "cosine"] | None = None
    warmup_steps: int | None = None
    grad_clip: float | None = None
    steps: int | None = None

    def __post_init__(self) -> None:
        for key in ("lr", "weight_decay", "warmup_steps"):
            value = getattr(self, key)
            if value is not None and value < 0:
                raise InputError(f"train.groups: {key}={value} must be >= 0")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise InputError(f"train.groups: grad_clip={self.grad_clip} must be > 0")
        if self.steps is not None and self.steps < 1:
            raise InputError(f"train.groups: steps={self.steps} must be >= 1")
        if self.betas is not None and not all(0.0 <= b < 1.0 for b in self.betas):
            raise InputError(f"train.groups: betas={self.betas} must lie in [0, 1)")


@dataclass(frozen=True)
class GroupSettings:
    """Per-group settings (``[train.groups.critic]`` in a config file, ``--set train.groups.critic.lr=1e-4``);
    a group a model declares under another name trains with the ``[train]`` settings."""

    generator: GroupConfig = field(default_factory=GroupConfig)
    critic: GroupConfig = field(default_factory=GroupConfig)
    discriminator: GroupConfig = field(default_factory=GroupConfig)
    regressor: GroupConfig = field(default_factory=GroupConfig)


@dataclass(frozen=True)
class TrainConfig:
    """How to train a model; knows nothing of the model itself.

    ``max_steps`` stops training early (mid-epoch if needed) but is not the horizon of the cosine
    schedule, which always spans ``epochs`` full epochs (so a resumed run follows the same schedule).
    ``betas``: Adam's (β₁, β₂). ``groups``: per-group overrides for adversarial models (:class:`GroupConfig`).
    ``best_metric``: the validation value (a key of the model's ``loss()`` or ``"<group>/<key>"``) whose
    minimum selects ``best.pt`` and drives early stopping (a GAN's ``"loss"`` is a moving target).
    """

    epochs: int = 10
    max_steps: int | None = None
    batch_size: int = 64
    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    schedule: Literal["constant", "cosine"] = "constant"
    warmup_steps: int = 0
    grad_clip: float | None = 1.0
    val_every: int = 1
    early_stopping_patience: int | None = None
    checkpoint_every_steps: int | None = None
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp32", "bf16"] = "fp32"
    num_workers: int = 0
    log_every_steps: int = 10
    best_metric: str = "loss"
    groups: GroupSettings = field(default_factory=GroupSettings)

    def __post_init__(self) -> None:
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "val_every": self.val_every}
        positive["log_every_steps"] = self.log_every_steps
        for key in ("max_steps", "early_stopping_patience", "checkpoint_every_steps"):
            if getattr(self, key) is not None:
                positive[key] = getattr(self, key)
        for key, value in positive.items():
            if value < 1:
                raise InputError(f"train config: {key}={value} must be >= 1")
        for key in ("lr", "weight_decay", "warmup_steps", "num_workers"):
            if getattr(self, key) < 0:
                raise InputError(f"train config: {key}={getattr(self, key)} must be >= 0")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise InputError(f"train config: grad_clip={self.grad_clip} must be > 0 or none")
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise InputError(f"train config: betas={self.betas} must lie in [0, 1)")


def group_config(config: TrainConfig, group: str) -> TrainConfig:
    """The training settings of parameter group ``group``: ``config`` with the group's non-None overrides
    (``config.groups.<group>``; groups of other names get ``config`` unchanged)."""
    if group not in GROUP_NAMES:
        return config
    settings: GroupConfig = getattr(config.groups, group)
    updates = {
        k: getattr(settings, k)
        for k in ("lr", "optimizer", "betas", "weight_decay", "schedule", "warmup_steps", "grad_clip")
        if getattr(settings, k) is not None
    }
    return dataclasses.replace(config, **updates) if updates else config


def build_optimizer(
    model: torch.nn.Module | Iterable[torch.nn.Parameter], config: TrainConfig
) -> torch.optim.Optimizer:
    """Adam or AdamW over the trainable parameters (of a module, or given), with ``lr``, ``betas`` and
    ``weight_decay`` from the config."""
    source = model.parameters() if isinstance(model, torch.nn.Module) else model
    params = [p for p in source if p.requires_grad]
    if not params:
        raise InputError("the model has no trainable parameters; nothing to train")
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int) -> Any:
    """Linear warm-up over ``warmup_steps``, then constant or cosine decay to 0 at ``total_steps``."""
    warmup, cosine = config.warmup_steps, config.schedule == "cosine"

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if not cosine:
            return 1.0
        return 0.5 * (1.0 + math.cos(math.pi * min((step - warmup) / max(total_steps - warmup, 1), 1.0)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
