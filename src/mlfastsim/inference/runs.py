"""Load a finished run and use it: sample, reconstruct, score — for any family and data kind, with nothing
from ``training``.

A checkpoint written by ``mlfastsim train`` carries, beside the weights, the family, the data kind, the
resolved run configuration and the fitted codec, so a run can be loaded and used with nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlfastsim._utils import InputError, config_from_dict, provenance, torch_generator
from mlfastsim._utils.checkpoint import load_checkpoint
from mlfastsim.data.kinds import Codec, DataKind, get_kind
from mlfastsim.models import (
    BatchKeys,
    GenerativeModel,
    ReconstructingModel,
    ScoringModel,
    build_model,
    get_family,
)
from mlfastsim.models.base import Batch

__all__ = ["LoadedRun", "batch_keys", "load_run", "reconstruct_run", "sample_run", "score_run"]


def batch_keys(model_config: Any) -> frozenset[str]:
    """The batch keys a family's model reads, as its config declares (:class:`~mlfastsim.models.BatchKeys`)."""
    if not isinstance(model_config, BatchKeys):
        raise TypeError(
            f"{type(model_config).__name__} does not declare batch_keys(); every family config must"
        )
    return model_config.batch_keys()


@dataclass
class LoadedRun:
    """A trained model with everything needed to use it.

    Attributes:
        family, kind: names in the registries; model: in eval mode; model_config, data_config: resolved
        dataclasses; codec: the fitted codec of the kind; run_config: the whole resolved run configuration
        (JSON types); checkpoint: the raw checkpoint dict.
    """

    family: str
    kind: DataKind
    model: torch.nn.Module
    model_config: Any
    data_config: Any
    codec: Codec
    run_config: dict[str, Any]
    checkpoint: dict[str, Any]

    @property
    def keys(self) -> frozenset[str]:
        return batch_keys(self.model_config)


def load_run(run_dir: str | Path, which: str = "best") -> LoadedRun:
    """Load ``best.pt`` (or ``last.pt``; falls back to it when there is no ``best.pt``) of a run, in eval mode."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"--run {run_dir}: not a run directory; train one with 'mlfastsim train'")
    path = run_dir / f"{which}.pt"
    if not path.exists():
        path = run_dir / "last.pt"
    ckpt = load_checkpoint(path)
    extra = ckpt.get("extra") or {}
    if "family" not in extra:
        raise InputError(f"{path}: not a checkpoint of 'mlfastsim train' (no model family stored)")
    family_name = extra["family"]
    made_by = f"mlfastsim {ckpt.get('package_version', '?')}"
    try:
        if "kind" not in extra or "codec" not in extra:
            raise InputError("no data kind or codec stored")
        family = get_family(family_name)
        kind = get_kind(extra["kind"])
        raw = extra["run_config"]
        data_config: Any = config_from_dict(kind.data_config, raw["data"], "data")
        model, model_config = build_model(family.name, raw["model"])
        model.load_state_dict(ckpt["model_state"])
        codec = kind.load_codec(extra["codec"])
    except (InputError, RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{path}: written by {made_by} for a {family_name} model that this version does not build "
            f"({first}); retrain it with this version ('mlfastsim train {family_name} ...')"
        ) from None
    model.eval()
    return LoadedRun(family.name, kind, model, model_config, data_config, codec, raw, ckpt)


def _slices(batch: Batch, size: int) -> Iterator[tuple[slice, Batch]]:
    n = len(next(iter(batch.values()))) if batch else 0
    for start in range(0, n, size):
        sl = slice(start, start + size)
        yield sl, {k: v[sl] for k, v in batch.items()}


@torch.no_grad()
def sample_run(
    run: LoadedRun,
    n: int | None = None,
    conditions: Any | None = None,
    seed: int = 0,
    batch_size: int = 1024,
    precision: str = "fp32",
) -> Any:
    """Generate events with a trained run: ``n`` from the prior, or one per event of ``conditions``.

    ``precision="bf16"`` runs the model under bfloat16 autocast (its outputs are cast back to float32
    before the codec decodes them). The model runs on the device its parameters are on; the noise is
    drawn there, the conditions are moved there and the outputs come back to the CPU.

    With ``conditions`` (events of the run's kind), the codec's conditions of each event (kinematics,
    generator-level particles, ... as the model declares) condition the model; the output keeps their ids
    and kinematics, so it is paired event by event with that file. From the prior, the output records what
    the model drew (e.g. jet kinematics) and has event id −1.
    """
    model = run.model
    if not isinstance(model, GenerativeModel):
        raise InputError(f"the {run.family} family does not generate ({get_family(run.family).summary})")
    if conditions is None and (n is None or n <= 0):
        raise InputError("give --n N (a positive number of events) or --conditions FILE")
    if conditions is None and model.needs_conditions():
        raise InputError(
            f"the {run.family} run is conditional; give --conditions FILE with events to condition on"
        )
    if precision not in ("fp32", "bf16"):
        raise InputError(f"precision {precision!r}: choose fp32 or bf16")
    device = _device_of(model)
    generator = torch_generator(seed, device)
    parts = []
    if conditions is not None:
        cond = run.codec.conditions(conditions, run.keys)
        total = len(conditions)
        for start in range(0, total, batch_size):
            sl = slice(start, start + batch_size)
            like = conditions.subset(sl)
            given = {k: v[sl].to(device) for k, v in cond.items()} or None
            out = _sample(run, len(like), given, generator, precision)
            parts.append(run.codec.decode(out, like))
    else:
        total = int(n or 0)
        for start in range(0, total, batch_size):
            out = _sample(run, min(batch_size, total - start), None, generator, precision)
            parts.append(run.codec.decode(out, None))
    events = run.kind.concatenate(parts)
    events.attrs = provenance(
        "mlfastsim sample",
        {"run_config": run.run_config, "family": run.family, "kind": run.kind.name, "n": total},
        seed,
    )
    return events


def _device_of(model: torch.nn.Module) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _sample(
    run: LoadedRun, n: int, cond: Batch | None, generator: torch.Generator, precision: str = "fp32"
) -> Batch:
    assert isinstance(run.model, GenerativeModel)
    device = generator.device
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        out = run.model.sample(n, cond=cond, generator=generator)
    return {k: (v.float() if v.dtype in (torch.bfloat16, torch.float16) else v).cpu() for k, v in out.items()}


@torch.no_grad()
def reconstruct_run(run: LoadedRun, events: Any, batch_size: int = 256) -> Any:
    """Encode and decode every event with an autoencoding run; the output keeps the events' ids, so event
    ``i`` of both can be compared (reconstruction EMD, masked MSE)."""
    if not isinstance(run.model, ReconstructingModel):
        raise InputError(f"the {run.family} model does not reconstruct events")
    parts = []
    for sl, batch in _slices(run.codec.encode(events, run.keys), batch_size):
        parts.append(run.codec.decode(run.model.reconstruct(batch), events.subset(sl)))
    out = run.kind.concatenate(parts)
    out.attrs = provenance("mlfastsim reconstruct", {"family": run.family, "kind": run.kind.name}, None)
    return out


@torch.no_grad()
def score_run(run: LoadedRun, events: Any, batch_size: int = 256) -> np.ndarray:
    """Anomaly score of every event (higher = less like the training data), float64 ``[N]``."""
    if not isinstance(run.model, ScoringModel):
        raise InputError(f"the {run.family} model has no anomaly score")
    scores = [
        run.model.score(batch).double().numpy()
        for _, batch in _slices(run.codec.encode(events, run.keys), batch_size)
    ]
    return np.concatenate(scores) if scores else np.zeros(0)
