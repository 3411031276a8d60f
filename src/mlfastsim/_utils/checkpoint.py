"""The checkpoint file format (model, optimiser, scheduler, config, step, seeds, RNG states), atomically written
and verified.

Below training and inference both: the trainer writes checkpoints, ``inference`` reads them without
importing anything of training. Every checkpoint carries a SHA-256 of its whole content (weights bit for
bit, :func:`content_hash`); the loader recomputes it and refuses a file whose bytes changed. Only plain
types and tensors are stored, so files load with ``torch.load(weights_only=True)`` (no code runs while
unpickling), and non-finite weights are never written.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import shutil
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlfastsim._utils.atomic import atomic_path
from mlfastsim._utils.errors import FatalError, InputError
from mlfastsim._utils.provenance import package_version

__all__ = [
    "CHECKPOINT_FORMAT",
    "ModelWrapper",
    "NonFiniteError",
    "content_hash",
    "load_checkpoint",
    "restore_rng_state",
    "rewrite_checkpoint",
    "rng_state",
    "save_checkpoint",
    "unwrap_model",
]

#: Bumped when the layout of the checkpoint dict changes incompatibly (2: content hash, weights_only).
CHECKPOINT_FORMAT = 2
#: The key of the content hash in a checkpoint.
HASH_KEY = "content_sha256"


class NonFiniteError(FatalError):
    """A model state with NaN or inf values was about to be written."""


class ModelWrapper(torch.nn.Module):
    """A module around the user's model, held in ``self.model`` (the trainer's loss adapter): checkpoints
    save the inner model's state, not the wrapper's."""

    model: torch.nn.Module


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The user's model inside its wrappers: ``DistributedDataParallel`` (its ``module``) and
    :class:`ModelWrapper` (its ``model``), in any nesting; any other module is returned as it is."""
    from torch.nn.parallel import DistributedDataParallel

    while True:
        if isinstance(model, DistributedDataParallel):
            model = model.module
        elif isinstance(model, ModelWrapper):
            model = model.model
        else:
            return model


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


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as Python numbers and lists, so that the checkpoint loads
    with ``torch.load(weights_only=True)`` (tensors, dicts, lists, tuples and primitives only)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def _feed(h: Any, value: Any) -> None:
    """Feed a canonical serialisation of ``value`` (dicts by sorted key, tensors by dtype, shape and raw
    bytes) into the hash ``h``."""
    if isinstance(value, Mapping):
        h.update(b"{%d" % len(value))
        for key in sorted(value, key=repr):
            h.update(repr(key).encode())
            _feed(h, value[key])
        h.update(b"}")
    elif isinstance(value, (list, tuple)):
        h.update(b"[%d" % len(value))
        for item in value:
            _feed(h, item)
        h.update(b"]")
    elif isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    else:
        h.update(f"{type(value).__name__}:{value!r};".encode())


def content_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 of everything in ``payload`` except its ``content_sha256`` key (weights bit for bit)."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in payload.items() if k != HASH_KEY})
    return h.hexdigest()


def _check_finite(path: Path, state: Mapping[str, Any]) -> None:
    for key, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
            raise NonFiniteError(
                f"refusing to write {path}: the model's {key} has non-finite values (NaN or inf)"
            )


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
    """Write a checkpoint atomically (temp file + rename, so a crash never leaves a half file), with its
    content hash; :class:`NonFiniteError` (nothing written) when a weight is NaN or inf.

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
    path = Path(path)
    model_state = unwrap_model(model).state_dict()
    _check_finite(path, model_state)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "package_version": package_version(),
        "model_state": model_state,
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
        "scheduler_state": scheduler.state_dict() if scheduler is not None else None,
        "config": _plain(dict(config)),
        "step": int(step),
        "epoch": int(epoch),
        "seed": seed,
        "best_val_loss": None if best_val_loss is None else float(best_val_loss),
        "bad_epochs": int(bad_epochs),
        "trainer_state": _plain(dict(trainer_state or {})),
        "rng_states": [dict(s) for s in rng_states] if rng_states is not None else [rng_state()],
        "extra": _plain(dict(extra or {})),
    }
    payload[HASH_KEY] = content_hash(payload)
    with atomic_path(path) as tmp:
        try:
            torch.save(payload, tmp)
        except RuntimeError as exc:  # torch's zip writer reports a failed write (a full disk) this way
            full = shutil.disk_usage(tmp.parent).free < (1 << 20)
            code = errno.ENOSPC if full else errno.EIO
            raise OSError(code, f"{os.strerror(code)} ({' '.join(str(exc).split())})", str(path)) from None
    return path


def rewrite_checkpoint(path: str | Path, data: Mapping[str, Any]) -> Path:
    """Write a checkpoint dict (e.g. one read with :func:`load_checkpoint` and edited on purpose, as tests
    of broken runs do) atomically with a fresh content hash. Editing a checkpoint any other way makes it
    fail verification."""
    payload = {k: v for k, v in data.items() if k != HASH_KEY}
    payload[HASH_KEY] = content_hash(payload)
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and verify a checkpoint written by :func:`save_checkpoint`.

    ``torch.load(weights_only=True)``: nothing but tensors and plain types is unpickled, so loading runs
    no code. One-line InputError when the file is missing, unreadable, not a checkpoint, of a newer
    format, without a content hash (written before format 2) or when its content hash does not match
    (bytes changed on disk: the weights are not the ones that were saved).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path} not found; train first or check --run / --resume")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as exc:
        text = " ".join(str(exc).split())
        reason = text.split(". ")[0][:200] if text else type(exc).__name__  # torch's first sentence
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
    stored = data.get(HASH_KEY)
    if stored is None:
        raise InputError(
            f"checkpoint {path} has no content hash (format {data['format']}, written before checkpoints "
            "were verified); retrain it with this version"
        )
    if content_hash(data) != stored:
        raise InputError(
            f"checkpoint {path} is corrupt: its content hash does not match (bytes changed on disk); "
            "retrain or use the other checkpoint of the run (best.pt / last.pt)"
        )
    return data
