"""The checkpoint file format (model, optimiser, scheduler, config, step, seeds, RNG states), atomically written.

Below training and inference both: the trainer writes checkpoints, ``inference`` reads them without
importing anything of training.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from mlfastsim._utils.atomic import atomic_path
from mlfastsim._utils.errors import InputError
from mlfastsim._utils.provenance import package_version

__all__ = [
    "CHECKPOINT_FORMAT",
    "load_checkpoint",
    "restore_rng_state",
    "rng_state",
    "save_checkpoint",
    "unwrap_model",
]

#: Bumped when the layout of the checkpoint dict changes incompatibly.
CHECKPOINT_FORMAT = 1


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The user's model inside DDP / loss-adapter wrappers (anything with a ``module`` or ``model`` slot)."""
    while True:
        inner = getattr(model, "module", None)
        if not isinstance(inner, torch.nn.Module):
            inner = getattr(model, "model", None) if getattr(model, "_is_loss_adapter", False) else None
        if not isinstance(inner, torch.nn.Module):
            return model
        model = inner


def rng_state(device: torch.device | str | None = None) -> dict[str, Any]:
    """This process's global torch RNG states: CPU always, CUDA for ``device`` when it is a CUDA device.

    numpy's global RNG is never used by the trainer, so it is not recorded.
    """
    state: dict[str, Any] = {"torch_cpu": torch.get_rng_state()}
    device = torch.device(device) if device is not None else None
    if device is not None and device.type == "cuda" and torch.cuda.is_available():
        state["torch_cuda"] = torch.cuda.get_rng_state(device)
        state["cuda_device"] = device.index
    return state


def restore_rng_state(state: Mapping[str, Any], device: torch.device | str | None = None) -> None:
    """Restore the states recorded by :func:`rng_state` (CUDA only when both sides use CUDA)."""
    torch.set_rng_state(state["torch_cpu"])
    device = torch.device(device) if device is not None else None
    if "torch_cuda" in state and device is not None and device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["torch_cuda"], device)


def save_checkpoint(
    path: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    scheduler: Any,
    step: int,
    epoch: int,
    config: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
    seed: int | None = None,
    best_val_loss: float | None = None,
    bad_epochs: int = 0,
    trainer_state: Mapping[str, Any] | None = None,
    rng_states: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """Write a checkpoint atomically (temp file + rename, so a crash never leaves a half file).

    Args:
        path: target file, e.g. ``run/last.pt``.
        model: the model (DDP / adapter wrappers are unwrapped; the user's module's state is saved).
        optimizer, scheduler: their ``state_dict()`` is saved (scheduler may be None).
        step: optimiser steps done; epoch: the epoch in progress (0-based) or, at an epoch end, the next.
        config: the resolved configuration (train + model), plain JSON types.
        extra: anything else to restore with the model (fitted normaliser, model family name, ...).
        seed: the run's seed. best_val_loss, bad_epochs: early-stopping state.
        trainer_state: the trainer's own bookkeeping (batch index within the epoch, wall time, ...).
        rng_states: one RNG state per rank (see :func:`rng_state`); default: this process's.
    """
    payload = {
        "format": CHECKPOINT_FORMAT,
        "package_version": package_version(),
        "model_state": unwrap_model(model).state_dict(),
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
        "scheduler_state": scheduler.state_dict() if scheduler is not None else None,
        "config": dict(config),
        "step": int(step),
        "epoch": int(epoch),
        "seed": seed,
        "best_val_loss": best_val_loss,
        "bad_epochs": int(bad_epochs),
        "trainer_state": dict(trainer_state or {}),
        "rng_states": [dict(s) for s in rng_states] if rng_states is not None else [rng_state()],
        "extra": dict(extra or {}),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; one-line InputError when missing or corrupt.

    Uses ``torch.load(weights_only=False)`` because the file holds plain Python objects (config dicts,
    RNG states, the fitted normaliser): load only checkpoints you or mlfastsim wrote — unpickling an
    untrusted file can run arbitrary code.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path} not found; train first or check --run / --resume")
    try:
        data = torch.load(path, map_location=map_location, weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"checkpoint {path} is corrupt or unreadable ({reason}); retrain or use best.pt"
        ) from None
    if not isinstance(data, dict) or "model_state" not in data or "format" not in data:
        raise InputError(
            f"checkpoint {path} is not an mlfastsim checkpoint; give a last.pt / best.pt of a run"
        )
    if data["format"] > CHECKPOINT_FORMAT:
        raise InputError(
            f"checkpoint {path} has format {data['format']} (newer than {CHECKPOINT_FORMAT}); "
            "upgrade mlfastsim"
        )
    return data
