"""Training runs of registered model families on jet-image files, and sampling from a finished run.

A run directory holds what the trainer writes (``config.json``, ``metrics.jsonl``, ``last.pt``,
``best.pt``); every checkpoint also carries the model family, its resolved configuration, the data
configuration and the fitted normalisers, so a run can be loaded and sampled with nothing else.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlfastsim._utils import InputError, atomic_write_text, jsonable, provenance, torch_generator
from mlfastsim.data import (
    GEN_FEATURE_NAMES,
    ConditionNormaliser,
    HitCloud,
    HitCloudDataset,
    HitNormaliser,
    JetImages,
    cloud_to_image,
    gen_particles_to_padded,
    image_to_cloud,
    read_jet_images,
    train_val_split,
)
from mlfastsim.models import MODELS, build_model
from mlfastsim.physics.detector.geometry import CRYSTAL_DETA, CRYSTAL_DPHI, IMAGE_SIZE
from mlfastsim.training.checkpoint import load_checkpoint, save_checkpoint
from mlfastsim.training.config import TrainConfig, apply_overrides, config_from_dict, config_to_dict
from mlfastsim.training.trainer import Trainer

__all__ = [
    "DataConfig",
    "LoadedRun",
    "RunConfig",
    "load_run",
    "reconstruct_run",
    "resolve_run_config",
    "sample_run",
    "train_run",
]


@dataclass(frozen=True)
class DataConfig:
    """Which hits and per-jet conditions a model sees.

    Attributes:
        n_max: hits kept per jet (highest energy first); the rest are dropped.
        channels: image channels turned into hits: 0 tracks pT, 1 ECAL, 2 HCAL. ECAL only by default
            (seed 001); ``(0, 1, 2)`` adds a channel feature (seed 002).
        conditions: per-jet scalars for conditional models, from ``pt``, ``eta``, ``m0``.
        label: keep only jets with this label ``y`` (e.g. 0 = quark jets, so gluons are anomalies).
        val_fraction: fraction of jets held out for validation.
        max_events: read at most this many jets from the file.
        gen_max: generator-level particles kept per jet (highest pT first) for models that use them.
    """

    n_max: int = 400
    channels: tuple[int, ...] = (1,)
    conditions: tuple[str, ...] = ("pt", "eta", "m0")
    label: float | None = None
    val_fraction: float = 0.1
    max_events: int | None = None
    gen_max: int = 64


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run needs: model family and its config, training and data settings."""

    family: str
    model: Any
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)


def resolve_run_config(
    family: str,
    file_config: dict[str, Any] | None = None,
    overrides: list[str] | None = None,
    **train_overrides: Any,
) -> RunConfig:
    """Merge defaults, a config file (tables ``[model]``, ``[train]``, ``[data]``) and ``--set`` overrides.

    ``train_overrides`` (e.g. ``epochs=3``, ``max_steps=None`` is ignored) are applied last.
    """
    if family not in MODELS:
        raise InputError(f"unknown model family {family!r}; choose one of {', '.join(MODELS)}")
    file_config = dict(file_config or {})
    unknown = sorted(set(file_config) - {"model", "train", "data"})
    if unknown:
        raise InputError(f"config file: unknown table [{unknown[0]}]; use [model], [train] and [data]")
    config_cls = MODELS[family][0]
    cfg = RunConfig(
        family=family,
        model=config_from_dict(config_cls, file_config.get("model", {}), "model"),
        train=config_from_dict(TrainConfig, file_config.get("train", {}), "train"),
        data=config_from_dict(DataConfig, file_config.get("data", {}), "data"),
    )
    sets = list(overrides or [])
    for item in sets:
        if item.split("=", 1)[0].split(".", 1)[0] not in ("model", "train", "data"):
            raise InputError(
                f"--set {item!r}: start the key with model., train. or data. (e.g. train.lr=3e-4)"
            )
    cfg = apply_overrides(cfg, sets)
    extra = {k: v for k, v in train_overrides.items() if v is not None}
    if extra:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **extra))
    return cfg


def _conditions(jets: JetImages, names: tuple[str, ...]) -> np.ndarray:
    known = {"pt": jets.pt, "eta": jets.eta, "m0": jets.m0}
    for name in names:
        if name not in known:
            raise InputError(f"data.conditions: unknown condition {name!r}; choose from pt, eta, m0")
    if not names:
        return np.zeros((len(jets), 0), dtype=np.float32)
    return np.stack([known[n] for n in names], axis=1).astype(np.float32)


def _model_fields(family: str) -> set[str]:
    return {f.name for f in dataclasses.fields(MODELS[family][0])}


def _fit_model_to_data(cfg: RunConfig, n_features: int, norm: HitNormaliser, min_energy: float) -> RunConfig:
    """Set the model's data-dependent fields from the data and the fitted normaliser.

    Hit count, feature count, number of conditions and channels, and the map from normalised
    positions to detector cells (``row = rint(x · scale + offset)``) for models that use it.
    """
    half = IMAGE_SIZE // 2
    wanted: dict[str, Any] = {
        "n_max": cfg.data.n_max,
        "n_features": n_features,
        "n_cond": len(cfg.data.conditions),
        "n_channels": len(cfg.data.channels),
        "gen_features": len(GEN_FEATURE_NAMES),
        "pixel_scale": (norm.std[0] / CRYSTAL_DETA, norm.std[1] / CRYSTAL_DPHI),
        "pixel_offset": (norm.mean[0] / CRYSTAL_DETA + half, norm.mean[1] / CRYSTAL_DPHI + half),
        "energy_norm": (norm.mean[2], norm.std[2]),
        "min_log_energy": (float(np.log(max(min_energy, norm.energy_floor))) - norm.mean[2]) / norm.std[2],
    }
    fields = _model_fields(cfg.family)
    updates = {k: v for k, v in wanted.items() if k in fields}
    if "n_cond" in fields and getattr(cfg.model, "n_cond", 0) == 0:
        updates["n_cond"] = 0  # an unconditional model stays unconditional
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **updates))


def _load_jets(path: str | Path, data: DataConfig) -> JetImages:
    jets = read_jet_images(path, max_events=data.max_events)
    if data.label is not None:
        jets = jets.subset(jets.y == data.label)
    if len(jets) < 2:
        raise InputError(
            f"{path}: fewer than 2 jets after selection (data.label={data.label}); use more data"
        )
    return jets


def _dataset(
    cloud: HitCloud,
    cond: np.ndarray,
    gen: tuple[np.ndarray, np.ndarray] | None,
    norm: HitNormaliser,
    cond_norm: ConditionNormaliser,
    idx: np.ndarray,
) -> HitCloudDataset:
    part = HitCloud(cloud.features[idx], cloud.mask[idx], cloud.feature_names)
    gen_part = None if gen is None else (gen[0][idx], gen[1][idx])
    return HitCloudDataset(part, cond[idx], norm, cond_norm, gen=gen_part)


def train_run(cfg: RunConfig, data_path: str | Path, out: str | Path, resume: bool = False) -> dict[str, Any]:
    """Train ``cfg.family`` on the jets of ``data_path``; checkpoints and logs go to ``out``.

    Returns the trainer's summary plus the numbers of training and validation jets.
    """
    out = Path(out)
    if resume and not (out / "last.pt").exists():
        raise InputError(f"--resume: {out}/last.pt not found; train without --resume first")
    jets = _load_jets(data_path, cfg.data)
    cloud = image_to_cloud(jets.images, n_max=cfg.data.n_max, channels=cfg.data.channels)
    cond = _conditions(jets, cfg.data.conditions)
    use_gen = bool(getattr(cfg.model, "use_gen", False))
    gen = None
    if use_gen:
        if jets.gen is None:
            raise InputError(f"{data_path}: model.use_gen needs generator-level particles in the file")
        gen = gen_particles_to_padded(jets.gen, jets.eta, jets.phi, cfg.data.gen_max)
    idx_train, idx_val = train_val_split(len(jets), cfg.data.val_fraction, cfg.train.seed)
    norm = HitNormaliser().fit(cloud.features[idx_train], cloud.mask[idx_train])
    cond_norm = ConditionNormaliser().fit(cond[idx_train])
    train_energies = cloud.features[idx_train][..., 2][cloud.mask[idx_train]]
    cfg = _fit_model_to_data(cfg, cloud.features.shape[2], norm, float(train_energies.min()))
    with torch.random.fork_rng():
        torch.manual_seed(cfg.train.seed)  # the initial weights follow the run's seed
        model, _ = build_model(cfg.family, config_to_dict(cfg.model))
    extra = {
        "family": cfg.family,
        "run_config": config_to_dict(cfg),
        "normaliser": norm.to_dict(),
        "cond_normaliser": cond_norm.to_dict(),
        "feature_names": list(cloud.feature_names),
        "data_path": str(data_path),
        "data_provenance": jets.attrs,
    }
    train_data = _dataset(cloud, cond, gen, norm, cond_norm, idx_train)
    if hasattr(model, "set_condition_bank"):
        model.set_condition_bank(train_data.tensors["cond"])  # type: ignore[operator]
    if hasattr(model, "fit_data"):  # the library stores its training data; no gradient descent
        return {
            **_store_library(model, cfg, train_data, out, extra),
            "n_train": len(idx_train),
            "n_val": len(idx_val),
            "family": cfg.family,
        }
    trainer = Trainer(
        model,
        cfg.train,
        out,
        train_data,
        _dataset(cloud, cond, gen, norm, cond_norm, idx_val) if len(idx_val) else None,
        extra_state=extra,
    )
    summary = trainer.fit(resume=resume)
    return {**summary, "n_train": len(idx_train), "n_val": len(idx_val), "family": cfg.family}


def _store_library(
    model: torch.nn.Module, cfg: RunConfig, data: HitCloudDataset, out: Path, extra: dict[str, Any]
) -> dict[str, Any]:
    """Fill a library model with the training jets and write its checkpoints and config."""
    model.fit_data(data.tensors)  # type: ignore[operator]
    out.mkdir(parents=True, exist_ok=True)
    resolved = config_to_dict(cfg)
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
    return {"stored_jets": len(model.mask)}  # type: ignore[arg-type]


@dataclass
class LoadedRun:
    """A trained model with everything needed to sample from it."""

    family: str
    model: torch.nn.Module
    config: RunConfig
    normaliser: HitNormaliser
    cond_normaliser: ConditionNormaliser
    feature_names: tuple[str, ...]
    checkpoint: dict[str, Any]


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
    family = extra["family"]
    raw = extra["run_config"]
    made_by = f"mlfastsim {ckpt.get('package_version', '?')}"
    try:
        cfg = RunConfig(
            family=family,
            model=config_from_dict(MODELS[family][0], raw["model"], "model"),
            train=config_from_dict(TrainConfig, raw["train"], "train"),
            data=config_from_dict(DataConfig, raw["data"], "data"),
        )
        model, _ = build_model(family, raw["model"])
        model.load_state_dict(ckpt["model_state"])
    except (InputError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{path}: written by {made_by} for a {family} model that this version does not build ({first}); "
            f"retrain it with this version ('mlfastsim train {family} ...')"
        ) from None
    model.eval()
    return LoadedRun(
        family=family,
        model=model,
        config=cfg,
        normaliser=HitNormaliser.from_dict(extra["normaliser"]),
        cond_normaliser=ConditionNormaliser.from_dict(extra["cond_normaliser"]),
        feature_names=tuple(extra["feature_names"]),
        checkpoint=ckpt,
    )


def _unconditional_ok(model: torch.nn.Module) -> bool:
    check = getattr(model, "unconditional_ok", None)
    return bool(check()) if callable(check) else False


@torch.no_grad()
def sample_run(
    run: LoadedRun,
    n: int | None = None,
    conditions: JetImages | None = None,
    seed: int = 0,
    batch_size: int = 1024,
) -> JetImages:
    """Generate jets from a trained run: ``n`` from the prior, or one per jet of ``conditions``.

    With ``conditions`` (a jet-image file's jets), the per-jet scalars (and, for models that use them,
    the generator-level particles) condition the model; the output keeps their pt, m0, y, η, φ and
    particles, so it is directly comparable to that file. From the prior, the output records the jet
    pt, m0 and η the model drew for each jet (conditional models); those it did not draw are NaN.
    Returns images in GeV.
    """
    cfg = run.config
    n_cond = int(getattr(cfg.model, "n_cond", 0) or 0)
    if conditions is None and (n is None or n <= 0):
        raise InputError("give --n N (a positive number of jets) or --conditions FILE")
    conditional_only = (n_cond or getattr(cfg.model, "use_gen", False)) and not _unconditional_ok(run.model)
    if conditions is None and conditional_only:
        raise InputError(
            f"the {run.family} run is conditional; give --conditions FILE with jets to condition on"
        )
    total = len(conditions) if conditions is not None else int(n or 0)
    cond = None
    gen = None
    if conditions is not None and n_cond:
        cond = run.cond_normaliser.transform(_conditions(conditions, cfg.data.conditions))
    if conditions is not None and getattr(cfg.model, "use_gen", False):
        if conditions.gen is None:
            raise InputError("--conditions: the model uses generator-level particles and the file has none")
        gen = gen_particles_to_padded(conditions.gen, conditions.eta, conditions.phi, cfg.data.gen_max)
    generator = torch_generator(seed)
    feats, masks, drawn = [], [], []
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        c = None if cond is None else torch.as_tensor(cond[start:stop], dtype=torch.float32)
        kwargs: dict[str, Any] = {}
        if gen is not None:
            kwargs["gen_features"] = torch.as_tensor(gen[0][start:stop], dtype=torch.float32)
            kwargs["gen_mask"] = torch.as_tensor(gen[1][start:stop])
        try:
            out = run.model.sample(stop - start, cond=c, generator=generator, **kwargs)  # type: ignore[operator]
        except NotImplementedError as exc:
            raise InputError(f"--run {run.family}: {exc}") from None
        f = run.normaliser.inverse_transform(out["features"].float().numpy(), out["mask"].numpy())
        if "matched_cond" in out and conditions is not None and "pt" in cfg.data.conditions:
            # a replayed jet: rescale its energies to the requested jet pT
            col = cfg.data.conditions.index("pt")
            stored = run.cond_normaliser.inverse_transform(out["matched_cond"].numpy())[:, col]
            wanted = conditions.pt[start:stop]
            f[..., 2] *= (wanted / np.maximum(stored, 1e-6))[:, None]
        feats.append(f)
        masks.append(out["mask"].numpy().astype(bool))
        if conditions is None and "matched_cond" in out and n_cond:
            drawn.append(out["matched_cond"].numpy())
    mask = np.concatenate(masks)
    cloud = HitCloud(np.concatenate(feats), mask, run.feature_names)
    images = cloud_to_image(cloud, channels=cfg.data.channels)
    attrs = provenance(
        "mlfastsim sample",
        {"run_config": run.checkpoint["extra"]["run_config"], "family": run.family, "n": total},
        seed,
    )
    if conditions is not None:
        return JetImages(
            images,
            conditions.pt,
            conditions.m0,
            conditions.y,
            conditions.eta,
            conditions.phi,
            conditions.gen,
            attrs,
        )
    nan = np.full(total, np.nan, dtype=np.float32)
    kinematics = {name: nan for name in ("pt", "eta", "m0")}
    if drawn:  # the jets' kinematics drawn by the model (a library's stored jets, gvae's condition bank)
        values = run.cond_normaliser.inverse_transform(np.concatenate(drawn))
        kinematics.update({n: values[:, i].astype(np.float32) for i, n in enumerate(cfg.data.conditions)})
    return JetImages(images, kinematics["pt"], kinematics["m0"], nan, kinematics["eta"], attrs=attrs)


def _model_batches(run: LoadedRun, jets: JetImages, batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
    """The jets as the model's normalised batch dicts (features, mask, cond, and particles if it uses them)."""
    cfg = run.config
    cloud = image_to_cloud(jets.images, n_max=cfg.data.n_max, channels=cfg.data.channels)
    feats = run.normaliser.transform(cloud.features, cloud.mask)
    cond = run.cond_normaliser.transform(_conditions(jets, cfg.data.conditions))
    gen = None
    if getattr(cfg.model, "use_gen", False) and jets.gen is not None:
        gen = gen_particles_to_padded(jets.gen, jets.eta, jets.phi, cfg.data.gen_max)
    for start in range(0, len(jets), batch_size):
        sl = slice(start, start + batch_size)
        batch = {
            "features": torch.as_tensor(feats[sl], dtype=torch.float32),
            "mask": torch.as_tensor(cloud.mask[sl]),
            "cond": torch.as_tensor(cond[sl], dtype=torch.float32),
        }
        if gen is not None:
            batch["gen_features"] = torch.as_tensor(gen[0][sl], dtype=torch.float32)
            batch["gen_mask"] = torch.as_tensor(gen[1][sl])
        yield batch


@torch.no_grad()
def reconstruct_run(run: LoadedRun, jets: JetImages, batch_size: int = 256) -> JetImages:
    """Encode and decode every jet of ``jets`` with an autoencoding run; returns images in GeV.

    The output keeps the input's scalars and particles, so event ``i`` of both can be compared
    (reconstruction EMD, masked MSE).
    """
    if not hasattr(run.model, "reconstruct"):
        raise InputError(f"the {run.family} model does not reconstruct jets")
    cfg = run.config
    out_f, out_m = [], []
    for batch in _model_batches(run, jets, batch_size):
        out = run.model.reconstruct(batch)  # type: ignore[operator]
        out_f.append(out["features"].float().numpy())
        out_m.append(out["mask"].numpy().astype(bool))
    mask = np.concatenate(out_m)
    features = run.normaliser.inverse_transform(np.concatenate(out_f), mask)
    images = cloud_to_image(HitCloud(features, mask, run.feature_names), channels=cfg.data.channels)
    attrs = provenance("mlfastsim reconstruct", {"family": run.family}, None)
    return JetImages(images, jets.pt, jets.m0, jets.y, jets.eta, jets.phi, jets.gen, attrs)


@torch.no_grad()
def score_run(run: LoadedRun, jets: JetImages, batch_size: int = 256) -> np.ndarray:
    """Anomaly score of every jet (higher = less like the training data), float64 ``[N]``.

    ``gvae``: negative ELBO (nats); ``gvae-paper``: masked reconstruction MSE.
    """
    if not hasattr(run.model, "score"):
        raise InputError(f"the {run.family} model has no anomaly score")
    scores = []
    for batch in _model_batches(run, jets, batch_size):
        scores.append(run.model.score(batch).double().numpy())  # type: ignore[operator]
    return np.concatenate(scores) if scores else np.zeros(0)
