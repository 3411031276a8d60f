"""Training runs of any registered family on any data kind it accepts.

A run directory holds what the trainer writes (``config.json``, ``metrics.jsonl``, ``last.pt``,
``best.pt``); every checkpoint also carries the family, the data kind, the resolved run configuration,
the fitted codec and a fingerprint of the data file, so :func:`mlfastsim.inference.load_run` can load and
use a run with nothing else and ``--resume`` can refuse to continue it on something else
(:mod:`.rundir`: one run per directory, one training at a time).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mlfastsim._utils import (
    InputError,
    apply_overrides,
    atomic_write_text,
    config_from_dict,
    config_to_dict,
    jsonable,
)
from mlfastsim._utils.checkpoint import load_checkpoint, rewrite_checkpoint, save_checkpoint
from mlfastsim.data.datasets import BatchDataset, train_val_split
from mlfastsim.data.kinds import Codec, get_kind, read_events
from mlfastsim.inference import batch_keys
from mlfastsim.models import Fitted, Prepared, SecondStage, build_model, get_family
from mlfastsim.training.config import TrainConfig
from mlfastsim.training.rundir import (
    check_same_model,
    check_same_run,
    check_training_data,
    claim_run_dir,
    file_fingerprint,
)
from mlfastsim.training.trainer import Trainer

__all__ = ["RunConfig", "resolve_run_config", "setup_model", "train_run"]

_TABLES = ("model", "train", "data")


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run needs: family, data kind, the family's model config, training and the
    kind's data settings (``[data]``)."""

    family: str
    kind: str
    model: Any
    data: Any
    train: TrainConfig = field(default_factory=TrainConfig)


def resolve_run_config(
    family: str,
    kind: str,
    file_config: dict[str, Any] | None = None,
    overrides: list[str] | None = None,
    **train_overrides: Any,
) -> RunConfig:
    """Merge defaults, a config file (tables ``[model]``, ``[train]``, ``[data]``) and ``--set`` overrides.

    ``kind`` is the data kind of the training file (it chooses the ``[data]`` settings); the family must
    accept it. ``train_overrides`` (e.g. ``epochs=3``; None values are ignored) are applied last.
    """
    fam, data_kind = get_family(family), get_kind(kind)
    if kind not in fam.kinds:
        takers = [f for f, x in _families_for(kind)]
        raise InputError(
            f"the {family} family does not take {kind} data (it takes {', '.join(fam.kinds)}); "
            f"families for {kind}: {', '.join(takers) or 'none yet'}"
        )
    file_config = dict(file_config or {})
    unknown = sorted(set(file_config) - set(_TABLES))
    if unknown:
        raise InputError(f"config file: unknown table [{unknown[0]}]; use [model], [train] and [data]")
    cfg = RunConfig(
        family=family,
        kind=kind,
        model=config_from_dict(fam.config, file_config.get("model", {}), "model"),
        train=config_from_dict(TrainConfig, file_config.get("train", {}), "train"),
        data=config_from_dict(data_kind.data_config, file_config.get("data", {}), "data"),
    )
    sets = list(overrides or [])
    for item in sets:
        if item.split("=", 1)[0].split(".", 1)[0] not in _TABLES:
            raise InputError(
                f"--set {item!r}: start the key with model., train. or data. (e.g. train.lr=3e-4)"
            )
    cfg = apply_overrides(cfg, sets)
    extra = {k: v for k, v in train_overrides.items() if v is not None}
    if extra:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **extra))
    _check_data_settings(cfg.data)
    return cfg


def _check_data_settings(data: Any) -> None:
    """The ``[data]`` fields every kind has (:class:`~mlfastsim.data.kinds.DataSettings`), checked at parse
    time: a validation fraction in [0, 1) and a positive event limit."""
    if not 0.0 <= data.val_fraction < 1.0:
        raise InputError(f"data.val_fraction={data.val_fraction} must lie in [0, 1), e.g. 0.1")
    if data.max_events is not None and data.max_events < 2:
        raise InputError(f"data.max_events={data.max_events}: a run needs at least 2 events (or none: all)")


def _families_for(kind: str) -> list[tuple[str, Any]]:
    from mlfastsim.models import FAMILIES

    return [(name, f) for name, f in FAMILIES.items() if kind in f.kinds]


def _fit_model_to_data(cfg: RunConfig, fields: dict[str, Any]) -> RunConfig:
    """Set the model's data-dependent fields from the codec (those its config has); a model configured
    unconditional (``n_cond = 0``) stays unconditional."""
    names = {f.name for f in dataclasses.fields(cfg.model)}
    updates = {k: v for k, v in fields.items() if k in names}
    if "n_cond" in names and cfg.model.n_cond == 0:
        updates["n_cond"] = 0
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **updates))


def setup_model(cfg: RunConfig, train: Any) -> tuple[RunConfig, Codec, torch.nn.Module]:
    """Fit the kind's codec on the training events, set the model's data-dependent fields from it, and
    build the model with initial weights from ``cfg.train.seed``. Returns (resolved config, codec, model)."""
    codec = get_kind(cfg.kind).fit_codec(train, cfg.data)
    cfg = _fit_model_to_data(cfg, codec.model_fields())
    with torch.random.fork_rng():
        torch.manual_seed(cfg.train.seed)  # the initial weights follow the run's seed
        try:
            model, _ = build_model(cfg.family, config_to_dict(cfg.model))
        except (RuntimeError, ValueError, TypeError) as exc:
            if isinstance(exc, InputError):
                raise
            first = " ".join(str(exc).split())[:200]
            raise InputError(
                f"model config: the {cfg.family} model cannot be built with these settings ({first}); "
                "check the [model] table and --set model.* values"
            ) from None
    return cfg, codec, model


def train_run(
    cfg: RunConfig, data_path: str | Path, out: str | Path, resume: bool = False, overwrite: bool = False
) -> dict[str, Any]:
    """Train ``cfg.family`` on the events of ``data_path``; checkpoints and logs go to ``out``.

    ``out`` is checked (writable, not another run's unless ``overwrite``, not in use by another training)
    before the data is read; ``resume`` continues the run in ``out`` and refuses another model, data file,
    ``[data]`` setting or normaliser. Returns the trainer's summary plus the numbers of events.
    """
    with claim_run_dir(out, resume, overwrite) as out:
        previous = load_checkpoint(out / "last.pt") if resume else None
        if previous is not None:
            check_same_run(
                previous, cfg.family, cfg.kind, config_to_dict(cfg.data), data_path, config_to_dict(cfg.train)
            )
        return _train(cfg, data_path, out, previous)


def _train(
    cfg: RunConfig, data_path: str | Path, out: Path, previous: dict[str, Any] | None
) -> dict[str, Any]:
    kind = get_kind(cfg.kind)
    events = kind.select(read_events(kind, data_path, cfg.data.max_events), cfg.data, str(data_path))
    idx_train, idx_val = train_val_split(len(events), cfg.data.val_fraction, cfg.train.seed)
    train_events = events.subset(idx_train)
    cfg, codec, model = setup_model(cfg, train_events)
    if previous is not None:
        check_same_model(previous, config_to_dict(cfg.model), codec.to_dict())
    keys = batch_keys(cfg.model)
    extra = {
        "family": cfg.family,
        "kind": cfg.kind,
        "run_config": config_to_dict(cfg),
        "codec": codec.to_dict(),
        "data_path": str(data_path),
        "data_fingerprint": file_fingerprint(data_path),
        "data_provenance": events.attrs,
    }
    train_data = BatchDataset(codec.encode(train_events, keys))
    check_training_data(train_data.tensors, str(data_path))
    counts = {"n_train": len(idx_train), "n_val": len(idx_val), "family": cfg.family, "kind": cfg.kind}
    if isinstance(model, Prepared):
        model.prepare(train_data.tensors)
    if isinstance(model, Fitted):  # e.g. the library: it stores its training data, no gradient descent
        return {**_store_fitted(model, cfg, train_data, out, extra), **counts}
    val_data = BatchDataset(codec.encode(events.subset(idx_val), keys)) if len(idx_val) else None
    trainer = Trainer(model, cfg.train, out, train_data, val_data, extra_state=extra)
    summary = trainer.fit(resume=previous is not None)
    if isinstance(model, SecondStage):
        summary.update(_fit_second_stage(model, train_data, out, cfg.train.seed))
    return {**summary, **counts}


def _fit_second_stage(model: SecondStage, data: BatchDataset, out: Path, seed: int) -> dict[str, Any]:
    """Fit what a model fits after training (e.g. gvae's flow prior) on the weights of ``best.pt`` and of
    ``last.pt`` each, and write it back into that checkpoint (rank 0; the other ranks' copies are not used).
    When both hold the same weights (the last epoch was the best) the fit is done once and written to both."""
    if int(os.environ.get("RANK", "0")) != 0:
        return {}
    assert isinstance(model, torch.nn.Module)
    fitted: dict[str, Any] = {}
    done: tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, float]] | None = None
    for name in ("best.pt", "last.pt"):
        path = out / name
        if not path.exists():
            continue
        ckpt = load_checkpoint(path)
        before = ckpt["model_state"]
        if done is not None and _same_state(before, done[0]):
            after, stats = done[1], done[2]
        else:
            model.load_state_dict(before)
            stats = model.fit_second_stage(data.tensors, seed)
            if not stats:
                return {}
            after = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            done = (before, after, stats)
        ckpt["model_state"] = after
        rewrite_checkpoint(path, ckpt)
        fitted[name.removesuffix(".pt")] = stats
    return {"second_stage": fitted}


def _same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _store_fitted(
    model: Fitted, cfg: RunConfig, data: BatchDataset, out: Path, extra: dict[str, Any]
) -> dict[str, Any]:
    """Fit a model without gradients (the library) and write its checkpoints and config."""
    model.fit_data(data.tensors)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun every rank fits the same; rank 0 alone writes
        return {"stored_events": len(data)}
    out.mkdir(parents=True, exist_ok=True)
    resolved = config_to_dict(cfg)
    assert isinstance(model, torch.nn.Module)
    for name in ("last.pt", "best.pt"):
        save_checkpoint(
            out / name,
            model=model,
            optimizer=None,
            scheduler=None,
            step=0,
            epoch=0,
            config=resolved,
            extra=extra,
            seed=cfg.train.seed,
        )
    atomic_write_text(out / "config.json", json.dumps(jsonable(resolved), indent=2))
    return {"stored_events": len(data)}
