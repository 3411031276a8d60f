"""The trainer: any model with ``loss(batch) -> {"loss": ...}``, or an adversarial one (several parameter
groups trained in turn, :mod:`.adversarial`); checkpoints, exact resume, DDP."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from mlfastsim._utils import FatalError, InputError, atomic_write_text, jsonable, progress, provenance
from mlfastsim._utils.checkpoint import NonFiniteError
from mlfastsim.models.base import Adversarial
from mlfastsim.training.adversarial import GroupTrainer
from mlfastsim.training.checkpoint import (
    MetricsLog,
    load_checkpoint,
    restore_rng_state,
    rng_state,
    save_checkpoint,
)
from mlfastsim.training.config import TrainConfig, build_optimizer, build_scheduler, config_to_dict
from mlfastsim.training.distributed import (
    EpochSampler,
    ShardSampler,
    StopRequest,
    all_gather_objects,
    all_reduce_sum,
    init_distributed,
    resolve_device,
    wrap_ddp,
)
from mlfastsim.training.resume import diverged_message, restore_trainer

__all__ = ["Configured", "Trainer", "TrainingDiverged"]


@runtime_checkable
class Configured(Protocol):
    """A model that carries its configuration (a frozen dataclass, stored in ``config.json`` and every
    checkpoint); the trainer trains any model, configured or not."""

    config: Any


class TrainingDiverged(FatalError):
    """A non-finite loss or weight: training stopped, nothing non-finite was saved."""


class Trainer:
    """Trains ``model`` on ``train_data`` (a map-style Dataset of dicts of tensors), writing into ``run_dir``.

    Run dir: ``config.json`` (train + model config + provenance), ``metrics.jsonl`` (one JSON object per
    line: step, epoch (0-based), split, every loss, lr, seconds), ``last.pt`` (each epoch, every
    ``checkpoint_every_steps``, at ``max_steps`` and on Ctrl-C) and ``best.pt`` (best validation loss).
    Under torchrun only rank 0 writes. ``extra_state`` (e.g. fitted normaliser, family name) goes into
    every checkpoint.

    An :class:`~mlfastsim.models.Adversarial` model gets one optimiser and schedule per parameter group and
    one group step per batch in the model's cycle (:class:`~.adversarial.GroupTrainer`); its checkpoints hold
    every group's optimiser and schedule state, its log every group's losses (``"critic/loss"``, …) and
    learning rate (``"critic/lr"``), its validation the model's ``loss()`` keys and every group's losses.
    ``best.pt`` and early stopping follow the validation key ``config.best_metric``.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        config: TrainConfig,
        run_dir: str | Path,
        train_data: Dataset[Any],
        val_data: Dataset[Any] | None = None,
        extra_state: dict[str, Any] | None = None,
    ) -> None:
        if len(train_data) == 0:  # type: ignore[arg-type]
            raise InputError("training data is empty; give a data file with events")
        if config.early_stopping_patience is not None and val_data is None:
            raise InputError("early_stopping_patience needs validation data; give a validation split")
        self.config, self.run_dir = config, Path(run_dir)
        self.train_data, self.val_data, self.extra_state = train_data, val_data, dict(extra_state or {})
        self.dist = init_distributed(config.device)
        if val_data is not None and len(val_data) < self.dist.world_size:  # type: ignore[arg-type]
            raise InputError(f"validation data has fewer events than the {self.dist.world_size} processes")
        self.device = resolve_device(config.device, self.dist.local_rank)
        self.model = model.to(self.device)
        self.steps_per_epoch = math.ceil(
            len(EpochSampler(train_data, self.dist, config.seed, 0)) / config.batch_size
        )
        total_steps = config.epochs * self.steps_per_epoch
        self.groups: GroupTrainer | None = None
        if isinstance(self.model, Adversarial):  # per-group optimisers; gradients averaged by GroupTrainer
            self.groups = GroupTrainer(self.model, config, total_steps, self.dist)
            self.wrapped: torch.nn.Module = self.model
            self.optimizer: Any = self.groups.optimizers
            self.scheduler: Any = self.groups.schedulers
        else:
            self.wrapped = wrap_ddp(self.model, self.dist, self.device)
            self.optimizer = build_optimizer(self.model, config)
            self.scheduler = build_scheduler(self.optimizer, config, total_steps)
        model_cfg = model.config if isinstance(model, Configured) else None
        self.resolved = {
            "train": config_to_dict(config),
            "model": config_to_dict(model_cfg) if dataclasses.is_dataclass(model_cfg) else None,
            "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
            "world_size": self.dist.world_size,
        }
        self.step = self.epoch = self.batch_in_epoch = self.bad_epochs = 0
        self.best_val_loss: float | None = None
        self.stopped_early, self.elapsed, self._in_step, self._stop = False, 0.0, False, StopRequest()
        self._rng: dict[str, Any] | None = None
        self._t0 = time.perf_counter()
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl", enabled=self.dist.is_main)

    # ----------------------------------------------------------------- public
    def fit(self, resume: bool = False) -> dict[str, Any]:
        """Train to ``epochs`` / ``max_steps`` / early stop; ``resume=True`` continues from ``last.pt``.

        Returns ``{"steps", "epochs", "best_val_loss", "wall_time_s", "stopped_early", "run_dir"}``.
        """
        self._t0 = t0 = time.perf_counter()
        if resume:
            self._restore(load_checkpoint(self.run_dir / "last.pt"))
        if self.dist.is_main:
            info = {
                **self.resolved,
                "provenance": provenance("mlfastsim train", self.resolved, self.config.seed),
            }
            atomic_write_text(self.run_dir / "config.json", json.dumps(jsonable(info), indent=2) + "\n")
        self.metrics.reset(self._before_checkpoint if resume else None)
        cuda = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda), self._stop:
            if self._rng is not None:
                restore_rng_state(self._rng, self.device)
            else:  # fresh run, or resumed on another world size (then not bit-identical)
                torch.manual_seed(self.config.seed + self.dist.rank + 104_729 * self.step)
            try:
                self._loop()
            except (FloatingPointError, NonFiniteError) as exc:
                raise TrainingDiverged(self._diverged(exc)) from None
            except KeyboardInterrupt:
                if not self._in_step and not self._stop.requested:  # consistent state: a valid resume point
                    self._save("last.pt", collective=False)
                raise
        return {
            "steps": self.step,
            "epochs": self.epoch,
            "best_val_loss": self.best_val_loss,
            "wall_time_s": time.perf_counter() - t0,
            "stopped_early": self.stopped_early,
            "run_dir": str(self.run_dir),
        }

    def validate(self) -> dict[str, float]:
        """Mean of every key of ``loss()`` over ``val_data`` (weighted by batch size), in eval mode; for an
        adversarial model also every group's losses (``"critic/loss"``, …)."""
        assert self.val_data is not None
        loader = self._loader(self.val_data, ShardSampler(len(self.val_data), self.dist), self.epoch)  # type: ignore[arg-type]
        sums: dict[str, torch.Tensor] = {}
        count = torch.zeros((), dtype=torch.float64, device=self.device)
        was_training = self.model.training
        self.model.eval()
        cuda = [self.device] if self.device.type == "cuda" else []
        with torch.no_grad(), torch.random.fork_rng(devices=cuda), self._autocast():
            torch.manual_seed(self.config.seed + 7919 * (self.epoch + 1) + self.dist.rank)
            for batch in loader:
                batch = self._to_device(batch)
                n = len(next(iter(batch.values())))
                values = dict(self.model.loss(batch))  # type: ignore[operator]
                if self.groups is not None:
                    values.update(self.groups.validation_losses(batch))
                for key, value in values.items():
                    sums[key] = sums.get(key, 0.0) + value.detach().double() * n
                count += n
        self.model.train(was_training)
        keys = sorted(sums)
        totals = all_reduce_sum(torch.stack([count, *(sums[k] for k in keys)]), self.dist).tolist()
        return {k: v / max(totals[0], 1.0) for k, v in zip(keys, totals[1:], strict=True)}

    # --------------------------------------------------------------- the loop
    def _loop(self) -> None:
        cfg, main = self.config, self.dist.is_main
        total = cfg.epochs * self.steps_per_epoch
        total = min(total, cfg.max_steps) if cfg.max_steps is not None else total
        bar = progress(total=total, initial=min(self.step, total), desc="train") if main else None
        acc: dict[str, tuple[torch.Tensor, int]] = {}
        n_acc = 0
        try:
            for epoch in range(self.epoch, cfg.epochs):
                if self.stopped_early or (cfg.max_steps is not None and self.step >= cfg.max_steps):
                    break
                self.epoch = epoch
                sampler = EpochSampler(
                    self.train_data, self.dist, cfg.seed, epoch, self.batch_in_epoch * cfg.batch_size
                )
                hit_max = stop = False
                self.wrapped.train()
                for batch in self._loader(self.train_data, sampler, epoch):
                    for key, value in self._train_step(batch).items():
                        total_so_far, count = acc.get(key, (torch.zeros(()), 0))
                        acc[key] = (total_so_far + value, count + 1)
                    n_acc += 1
                    if bar is not None:
                        bar.update(1)
                    if self.step % cfg.log_every_steps == 0:
                        self._log_train(acc, bar)
                        acc, n_acc = {}, 0
                    stop = self._stop_requested()
                    hit_max = cfg.max_steps is not None and self.step >= cfg.max_steps
                    if stop or hit_max:
                        break
                    every = cfg.checkpoint_every_steps
                    if every and self.step % every == 0 and self.batch_in_epoch < self.steps_per_epoch:
                        self._save("last.pt")
                if n_acc and (stop or hit_max):
                    self._log_train(acc, bar)
                    acc, n_acc = {}, 0
                if self.batch_in_epoch >= self.steps_per_epoch:
                    self._end_epoch(epoch, bar)
                self._save("last.pt")
                if stop:  # last.pt is saved: a clean resume point
                    raise self._stop.interrupt()
        finally:
            if bar is not None:
                bar.close()

    def _train_step(self, batch: Any) -> dict[str, torch.Tensor]:
        batch = self._to_device(batch)
        self._in_step = True
        if self.groups is not None:
            out = self.groups.step(batch, self.step, self._autocast, self.step + 1)
            self.step += 1
            self.batch_in_epoch += 1
            self._in_step = False
            return out
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            losses = self.wrapped(batch)
        if not isinstance(losses, Mapping) or "loss" not in losses:
            raise TypeError(f"{type(self.model).__name__}.loss() must return a dict with the key 'loss'")
        loss = losses["loss"]
        if not torch.isfinite(loss.detach()):
            raise FloatingPointError(
                f"training loss is {loss.item()} at step {self.step + 1}; lower lr or check data"
            )
        loss.backward()
        out = {k: v.detach().float() for k, v in losses.items()}
        if self.config.grad_clip is not None:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            out["grad_norm"] = torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip).detach().float()
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        self.batch_in_epoch += 1
        self._in_step = False
        return out

    def _end_epoch(self, epoch: int, bar: Any) -> None:
        self.epoch, self.batch_in_epoch = epoch + 1, 0
        if self.val_data is None or (epoch + 1) % self.config.val_every != 0:
            return
        metrics = self.validate()
        self._log("val", metrics, epoch)
        key = self.config.best_metric
        if key not in metrics:
            raise InputError(
                f"train config: best_metric={key!r} is not a validation value ({', '.join(sorted(metrics))})"
            )
        if bar is not None:
            bar.set_postfix({f"val_{key}": f"{metrics[key]:.4g}"})
        if self.best_val_loss is None or metrics[key] < self.best_val_loss:
            self.best_val_loss, self.bad_epochs = metrics[key], 0
            self._save("best.pt")
        else:
            self.bad_epochs += 1
            patience = self.config.early_stopping_patience
            self.stopped_early = patience is not None and self.bad_epochs >= patience

    # ------------------------------------------------------------ helpers
    def _loader(self, data: Dataset[Any], sampler: Sampler[int], epoch: int) -> DataLoader[Any]:
        gen = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch)  # not the global RNG
        return DataLoader(
            data,
            batch_size=self.config.batch_size,
            sampler=sampler,
            num_workers=self.config.num_workers,
            generator=gen,
            pin_memory=self.device.type == "cuda",
        )

    def _to_device(self, batch: Any) -> dict[str, torch.Tensor]:
        if not isinstance(batch, Mapping):
            raise InputError(f"datasets must return dicts of tensors, got {type(batch).__name__}")
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def _autocast(self) -> Any:
        bf16 = self.config.precision == "bf16"
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16)

    def _log_train(self, acc: dict[str, tuple[torch.Tensor, int]], bar: Any) -> None:
        """Mean of each logged value over the steps that made it (an adversarial group's over its steps)."""
        values = {k: float(total) / count for k, (total, count) in acc.items()}
        self._log("train", values, self.epoch)
        if bar is not None:
            bar.set_postfix({k: f"{v:.4g}" for k, v in values.items() if k != "grad_norm"})

    def _log(self, split: str, values: dict[str, float], epoch: int) -> None:
        seconds = self.elapsed + time.perf_counter() - self._t0
        if self.groups is not None:
            lrs = self.groups.lrs()
            rates = {"lr": lrs[self.groups.cycle[-1]], **{f"{g}/lr": v for g, v in lrs.items()}}
        else:
            rates = {"lr": self.optimizer.param_groups[0]["lr"]}
        self.metrics.append(
            {"step": self.step, "epoch": epoch, "split": split, **values, **rates, "seconds": seconds}
        )

    def _before_checkpoint(self, record: dict[str, Any]) -> bool:
        step = record.get("step", 0)
        return step < self.step or (
            step == self.step and (record.get("split") == "train" or self.batch_in_epoch == 0)
        )

    def _save(self, name: str, collective: bool = True) -> None:
        states = (
            all_gather_objects(rng_state(self.device), self.dist) if collective else [rng_state(self.device)]
        )
        if not self.dist.is_main:
            return
        save_checkpoint(
            self.run_dir / name,
            model=self.model,
            optimizer=cast(Any, self.optimizer),  # or the groups' optimisers (.adversarial.NamedStates)
            scheduler=self.scheduler,
            step=self.step,
            epoch=self.epoch,
            config=self.resolved,
            extra=self.extra_state,
            seed=self.config.seed,
            best_val_loss=self.best_val_loss,
            bad_epochs=self.bad_epochs,
            trainer_state={
                "batch_in_epoch": self.batch_in_epoch,
                "elapsed_s": self.elapsed + time.perf_counter() - self._t0,
                "stopped_early": self.stopped_early,
                "world_size": self.dist.world_size,
            },
            rng_states=states,
        )

    def _restore(self, ckpt: dict[str, Any]) -> None:
        restore_trainer(self, ckpt)

    def _diverged(self, exc: BaseException) -> str:
        return diverged_message(self.run_dir / "last.pt", self.step + 1, exc)

    def _stop_requested(self) -> bool:
        return self._stop.synced(self.dist, self.device)
