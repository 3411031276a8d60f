"""Training configuration and the optimiser and schedule it builds; config helpers live in ``_utils.config``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch

from mlfastsim._utils import InputError
from mlfastsim._utils.config import apply_overrides, config_from_dict, config_to_dict, load_config_file

__all__ = [
    "TrainConfig",
    "apply_overrides",
    "build_optimizer",
    "build_scheduler",
    "config_from_dict",
    "config_to_dict",
    "load_config_file",
]


@dataclass(frozen=True)
class TrainConfig:
    """How to train a model; knows nothing of the model itself.

    ``max_steps`` stops training early (mid-epoch if needed) but is not the horizon of the cosine
    schedule, which always spans ``epochs`` full epochs (so a resumed run follows the same schedule).
    """

    epochs: int = 10
    max_steps: int | None = None
    batch_size: int = 64
    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = 1e-3
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


def build_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam or AdamW over the trainable parameters, with ``lr`` and ``weight_decay`` from the config."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise InputError("the model has no trainable parameters; nothing to train")
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=config.lr, weight_decay=config.weight_decay)


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
