"""Adversarial training for the trainer, which still knows no model: per-group optimisers and schedules and
the cycle of group steps of any :class:`~mlfastsim.models.Adversarial` model (GANs of seed 004).

The model declares its parameter groups in training order (``parameter_groups()``, e.g. critic then
generator) and each group's optimiser steps per cycle (``group_steps()``, e.g. ``{"critic": 5,
"generator": 1}``; ``train.groups.<name>.steps`` overrides it). Each trainer step takes one batch and makes
one optimiser step of one group: the cycle critic, critic, critic, critic, critic, generator, critic, … as
in Gulrajani et al. 2017, Algorithm 1 (every critic step sees fresh real events). The group of step ``s`` is
a function of ``s`` alone, so a resumed run continues the cycle where it stopped.

During a group's step only that group's parameters require gradients (the others are frozen: no wasted
backward through them, no stray gradients), its loss ``group_loss(name, batch)["loss"]`` is minimised by its
own optimiser (settings: ``[train]`` with ``train.groups.<name>`` overrides, see
:func:`~mlfastsim.training.config.group_config`), clipped at its ``grad_clip`` and scheduled by its own
warm-up/cosine schedule over its own number of steps. Under torchrun the initial parameters are broadcast
from rank 0 and each group's gradients are averaged over ranks (one flat all-reduce) before its step —
what DDP does, without DDP's assumption that every parameter gets a gradient in every step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from mlfastsim._utils import InputError
from mlfastsim.models.base import Adversarial, Batch
from mlfastsim.training.config import (
    GROUP_NAMES,
    TrainConfig,
    build_optimizer,
    build_scheduler,
    group_config,
)
from mlfastsim.training.distributed import DistInfo

__all__ = ["GroupTrainer", "NamedStates", "group_cycle", "steps_of_group"]


class NamedStates(dict[str, Any]):
    """Optimisers (or schedules) by group name, saved and restored as one ``{"groups": {name: state}}``."""

    def state_dict(self) -> dict[str, Any]:
        """``{"groups": {name: its state_dict()}}``."""
        return {"groups": {name: obj.state_dict() for name, obj in self.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore every group's state; one-line InputError when the checkpoint's groups differ."""
        groups = state.get("groups") if isinstance(state, Mapping) else None
        if not isinstance(groups, Mapping) or set(groups) != set(self):
            found = sorted(groups) if isinstance(groups, Mapping) else "one optimiser (not adversarial)"
            raise InputError(
                f"--resume: the checkpoint's parameter groups ({found}) differ from the model's "
                f"({sorted(self)}); resume with the model that wrote it"
            )
        for name, obj in self.items():
            obj.load_state_dict(groups[name])


def group_cycle(model: Adversarial, config: TrainConfig) -> tuple[str, ...]:
    """The groups of one cycle in order: each group of ``parameter_groups()`` repeated its step count."""
    groups = list(model.parameter_groups())
    steps = dict(model.group_steps())
    for name in groups:
        override = getattr(config.groups, name).steps if name in GROUP_NAMES else None
        steps[name] = override if override is not None else steps.get(name, 1)
        if steps[name] < 1:
            raise InputError(f"group {name!r}: {steps[name]} steps per cycle; give at least 1")
    return tuple(name for name in groups for _ in range(steps[name]))


def steps_of_group(cycle: tuple[str, ...], group: str, total: int) -> int:
    """How many of the trainer steps ``0 … total − 1`` belong to ``group`` (its schedule's horizon)."""
    full, rest = divmod(total, len(cycle))
    return full * cycle.count(group) + cycle[:rest].count(group)


class GroupTrainer:
    """The optimisers, schedules and step cycle of one adversarial model (see the module docstring).

    Args:
        model: the (unwrapped) model, on its device.
        config: the run's training settings.
        total_steps: trainer steps of the whole run (``epochs × steps per epoch``): the schedules' horizon.
        info: the process's place in a torchrun job.
    """

    def __init__(self, model: Adversarial, config: TrainConfig, total_steps: int, info: DistInfo) -> None:
        self.model, self.info = model, info
        self.params: dict[str, list[torch.nn.Parameter]] = {
            name: [p for p in ps if p.requires_grad] for name, ps in model.parameter_groups().items()
        }
        seen: set[int] = set()
        for name, ps in self.params.items():
            if not ps:
                raise InputError(f"parameter group {name!r} has no trainable parameters")
            if seen & {id(p) for p in ps}:
                raise InputError(f"parameter group {name!r} shares parameters with another group")
            seen |= {id(p) for p in ps}
        self.cycle = group_cycle(model, config)
        self.configs = {name: group_config(config, name) for name in self.params}
        self.optimizers = NamedStates(
            {name: build_optimizer(ps, self.configs[name]) for name, ps in self.params.items()}
        )
        self.schedulers = NamedStates(
            {
                name: build_scheduler(
                    self.optimizers[name], self.configs[name], steps_of_group(self.cycle, name, total_steps)
                )
                for name in self.params
            }
        )
        if info.enabled:
            assert isinstance(model, torch.nn.Module)
            for tensor in [*model.parameters(), *model.buffers()]:
                dist.broadcast(tensor.data, src=0)

    def group_at(self, step: int) -> str:
        """The group trained at trainer step ``step`` (0-based)."""
        return self.cycle[step % len(self.cycle)]

    def lrs(self) -> dict[str, float]:
        """The current learning rate of each group."""
        return {name: float(opt.param_groups[0]["lr"]) for name, opt in self.optimizers.items()}

    def _only(self, group: str | None) -> None:
        """Only ``group``'s parameters require gradients (all groups' when None)."""
        for name, ps in self.params.items():
            for p in ps:
                p.requires_grad_(group is None or name == group)

    def step(self, batch: Batch, step: int, autocast: Callable[[], Any], where: int) -> dict[str, Tensor]:
        """One optimiser step of the group of trainer step ``step`` on ``batch``; returns its losses as
        ``"<group>/<key>"`` (detached), plus ``"<group>/grad_norm"`` when it clips. ``where``: the 1-based
        step for error messages."""
        group = self.group_at(step)
        self._only(group)
        try:
            for ps in self.params.values():
                for p in ps:
                    p.grad = None
            with autocast():
                losses = self.model.group_loss(group, batch)
            if not isinstance(losses, Mapping) or "loss" not in losses:
                raise TypeError(f"{type(self.model).__name__}.group_loss() must return a dict with 'loss'")
            loss = losses["loss"]
            if not torch.isfinite(loss.detach()):
                raise FloatingPointError(
                    f"{group} loss is {loss.item()} at step {where}; lower train.groups.{group}.lr or check data"
                )
            loss.backward()
            params = self.params[group]
            if self.info.enabled:
                _average_gradients(params, self.info.world_size)
            out = {f"{group}/{k}": v.detach().float() for k, v in losses.items()}
            clip = self.configs[group].grad_clip
            if clip is not None:
                norm = torch.nn.utils.clip_grad_norm_(params, clip)
                out[f"{group}/grad_norm"] = norm.detach().float()
            self.optimizers[group].step()
            self.schedulers[group].step()
        finally:
            self._only(None)
        return out

    def validation_losses(self, batch: Batch) -> dict[str, Tensor]:
        """Every group's losses on a validation batch, as ``"<group>/<key>"`` (gradients enabled for the
        penalties that need them; no parameter changes)."""
        out: dict[str, Tensor] = {}
        with torch.enable_grad():
            for group in self.params:
                for key, value in self.model.group_loss(group, batch).items():
                    out[f"{group}/{key}"] = value.detach()
        for ps in self.params.values():
            for p in ps:
                p.grad = None
        return out


def _average_gradients(params: list[torch.nn.Parameter], world_size: int) -> None:
    """Average the gradients of ``params`` over the ranks with one all-reduce of their concatenation."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n
