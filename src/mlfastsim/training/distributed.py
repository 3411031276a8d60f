"""Distributed data parallel (DDP), switched on by torchrun's ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler, Sampler

from mlfastsim._utils.checkpoint import ModelWrapper

__all__ = [
    "DistInfo",
    "EpochSampler",
    "LossAdapter",
    "ShardSampler",
    "StopRequest",
    "all_gather_objects",
    "all_reduce_sum",
    "cleanup",
    "init_distributed",
    "resolve_device",
    "wrap_ddp",
]


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job; a single process is ``DistInfo(0, 1, 0, True)``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    is_main: bool = True

    @property
    def enabled(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the process group when torchrun's variables ask for more than one process.

    Uses ``nccl`` when training on CUDA (``device`` "cuda", or "auto" with a GPU present) and sets the
    current CUDA device to ``LOCAL_RANK``; ``gloo`` otherwise. Without ``WORLD_SIZE`` > 1 nothing happens.
    An already initialised group is reused.
    """
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        local = int(os.environ.get("LOCAL_RANK", rank))
        return DistInfo(rank, world, local, rank == 0)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(local)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo", rank=rank, world_size=world)
    return DistInfo(rank, world, local, rank == 0)


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """``"auto"``: ``cuda:local_rank`` when a GPU is present, else CPU; ``"cuda"`` without one: InputError."""
    if device == "cuda" and not torch.cuda.is_available():
        from mlfastsim._utils import InputError

        raise InputError("train config: device=cuda but no CUDA GPU is visible; use --set device=cpu")
    if device == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", local_rank)


def cleanup() -> None:
    """Leave the process group (no-op for a single process), after a barrier: a rank that tears gloo down
    while another is still in its last collective aborts ("terminate called without an active exception",
    seen once in CI)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


class LossAdapter(ModelWrapper):
    """``forward(batch) = model.loss(batch)``, so DDP can wrap a model whose Protocol has ``loss()``.

    DDP synchronises gradients through ``forward``; wrapping this adapter keeps the model unaware of DDP.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The model's losses for ``batch`` (key ``"loss"`` is minimised)."""
        return self.model.loss(batch)  # type: ignore[operator]


def wrap_ddp(model: torch.nn.Module, info: DistInfo, device: torch.device) -> torch.nn.Module:
    """A :class:`LossAdapter` around ``model``, wrapped in DDP when ``info.enabled``."""
    adapter = LossAdapter(model)
    if not info.enabled:
        return adapter
    from torch.nn.parallel import DistributedDataParallel

    device_ids = (
        [device.index if device.index is not None else info.local_rank] if device.type == "cuda" else None
    )
    return DistributedDataParallel(adapter, device_ids=device_ids)


class EpochSampler(DistributedSampler):
    """DistributedSampler whose order depends only on (seed, epoch), able to skip the first ``skip`` samples.

    Every rank shuffles the whole index list with a generator seeded ``seed + epoch`` (DistributedSampler's
    rule), pads it to a multiple of the world size and takes every ``world_size``-th index. With one process
    it is a seeded shuffle. ``skip`` drops the samples of this rank already consumed (mid-epoch resume).
    """

    def __init__(self, dataset: Dataset[Any], info: DistInfo, seed: int, epoch: int, skip: int = 0) -> None:
        super().__init__(
            dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=seed, drop_last=False
        )
        self.set_epoch(epoch)
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        return iter(indices[self.skip :])

    def __len__(self) -> int:
        return max(self.num_samples - self.skip, 0)


class ShardSampler(Sampler[int]):
    """Validation order: indices ``rank, rank + world_size, ...``, no padding (each sample counted once)."""

    def __init__(self, n: int, info: DistInfo) -> None:
        self.indices = list(range(info.rank, n, info.world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def all_reduce_sum(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``values`` over ranks (returned unchanged for a single process)."""
    if info.enabled:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def all_gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` (a one-item list for a single process)."""
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


class StopRequest:
    """Context manager for a graceful stop: the first SIGINT (Ctrl-C) or SIGTERM (a batch system, ``kill``)
    sets ``requested``, a second raises KeyboardInterrupt at once.

    The trainer checks :meth:`synced` after each step, saves ``last.pt`` and raises KeyboardInterrupt, so
    a stopped run ends on a step boundary with a valid resume point. Signals are only caught in the main
    thread; the previous handlers come back on exit.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested, self._installed, self.signum = False, False, 0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        self.requested = False
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handler) for sig in self.SIGNALS}
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            for sig, previous in self._previous.items():
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
            self._installed = False

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise self.interrupt()
        self.requested, self.signum = True, signum

    def interrupt(self) -> KeyboardInterrupt:
        """The exception to stop with: :class:`~mlfastsim._utils.Terminated` after SIGTERM, else
        KeyboardInterrupt."""
        from mlfastsim._utils import Terminated

        return Terminated() if self.signum == signal.SIGTERM else KeyboardInterrupt()

    def synced(self, info: DistInfo, device: torch.device) -> bool:
        """True when any rank was asked to stop (an all-reduce under DDP, so all ranks stop together)."""
        if not info.enabled:
            return self.requested
        flag = torch.tensor([float(self.requested)], device=device)
        return bool(all_reduce_sum(flag, info).item() > 0)
