"""Training: a trainer that knows no model, checkpoints, configs and overrides, torchrun / DDP."""

from mlfastsim.training.checkpoint import load_checkpoint, save_checkpoint
from mlfastsim.training.config import (
    TrainConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config_file,
)
from mlfastsim.training.distributed import DistInfo, cleanup, init_distributed
from mlfastsim.training.trainer import Trainer

__all__ = [
    "DistInfo",
    "TrainConfig",
    "Trainer",
    "apply_overrides",
    "cleanup",
    "config_from_dict",
    "config_to_dict",
    "init_distributed",
    "load_checkpoint",
    "load_config_file",
    "save_checkpoint",
]
