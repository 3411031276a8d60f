"""The ``jet-images`` kind: CMS end-to-end jet images (``[3, 125, 125]`` GeV), their files, and the codec that
turns them into normalised hit clouds (seeds 000–002) and back.

Container :class:`~mlfastsim.data.schemas.JetImages`; files through :mod:`mlfastsim.data.io` (Parquet and
HDF5, ours and the public convention); generation through :mod:`mlfastsim.data.generate`.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlfastsim._utils import InputError, config_from_dict, config_to_dict, make_rng, provenance
from mlfastsim.data.io import inspect_file, read_jet_images, write_jet_images
from mlfastsim.data.io.inspect import format_inspection
from mlfastsim.data.io.layout import detect_format
from mlfastsim.data.kinds.base import Batch
from mlfastsim.data.normalisation import ConditionNormaliser, HitNormaliser
from mlfastsim.data.representations import (
    GEN_FEATURE_NAMES,
    channel_cells,
    cloud_to_image,
    gen_particles_to_padded,
    image_to_cloud,
)
from mlfastsim.data.schemas import HitCloud, JetImages, concatenate_jets
from mlfastsim.physics.detector.geometry import CRYSTAL_DETA, CRYSTAL_DPHI, IMAGE_SIZE

__all__ = ["KIND", "JetImageCodec", "JetImageData", "JetImagesKind"]

_CONDITION_NAMES = ("pt", "eta", "m0")
_GEN_KEYS = frozenset(("gen_features", "gen_mask"))


@dataclass(frozen=True)
class JetImageData:
    """Which hits and per-jet conditions a model sees (the ``[data]`` table of a jet-image run).

    Attributes:
        n_max: hits kept per jet (highest energy first); the rest are dropped.
        channels: image channels turned into hits: 0 tracks pT, 1 ECAL, 2 HCAL. ECAL only by default
            (seed 001); ``(0, 1, 2)`` adds a channel feature (seed 002). Tracks and ECAL hits are crystals,
            HCAL hits towers (one per tower, at its centre, with its energy).
        channel_budget: hits kept per channel of ``channels`` (the most energetic of each), summing to at
            most ``n_max``; empty: the ``n_max`` most energetic hits of all channels together.
        conditions: per-jet scalars for conditional models, from ``pt``, ``eta``, ``m0``.
        label: keep only jets with this label ``y`` (e.g. 0 = quark jets, so gluons are anomalies).
        val_fraction: fraction of jets held out for validation.
        max_events: read at most this many jets from the file.
        gen_max: generator-level particles kept per jet (highest pT first) for models that use them.
    """

    n_max: int = 400
    channels: tuple[int, ...] = (1,)
    channel_budget: tuple[int, ...] = ()
    conditions: tuple[str, ...] = ("pt", "eta", "m0")
    label: float | None = None
    val_fraction: float = 0.1
    max_events: int | None = None
    gen_max: int = 64

    def __post_init__(self) -> None:
        for key in ("n_max", "gen_max"):
            if getattr(self, key) < 1:
                raise InputError(f"data.{key}={getattr(self, key)} must be >= 1")
        if not self.channels or len(set(self.channels)) != len(self.channels):
            raise InputError(f"data.channels={list(self.channels)}: give distinct channels from 0, 1, 2")
        for channel in self.channels:
            if channel not in (0, 1, 2):
                raise InputError(
                    f"data.channels: unknown channel {channel}; choose from 0 (tracks pT), 1 (ECAL), 2 (HCAL)"
                )
        if self.channel_budget and (
            len(self.channel_budget) != len(self.channels) or sum(self.channel_budget) > self.n_max
        ):
            raise InputError(
                f"data.channel_budget={list(self.channel_budget)}: give one hit count per channel of "
                f"data.channels={list(self.channels)}, summing to at most data.n_max={self.n_max}"
            )
        for name in self.conditions:
            if name not in _CONDITION_NAMES:
                raise InputError(
                    f"data.conditions: unknown condition {name!r}; choose from {', '.join(_CONDITION_NAMES)}"
                )


def _cloud(images: np.ndarray, data: JetImageData) -> HitCloud:
    """The hit cloud a run with settings ``data`` sees (physical units)."""
    budget = data.channel_budget or None
    return image_to_cloud(images, n_max=data.n_max, channels=data.channels, budget=budget)


def _conditions(jets: JetImages, names: tuple[str, ...]) -> np.ndarray:
    """``[N, C]`` float32 per-jet scalars named ``names`` (physical units)."""
    known = {"pt": jets.pt, "eta": jets.eta, "m0": jets.m0}
    if not names:
        return np.zeros((len(jets), 0), dtype=np.float32)
    return np.stack([known[n] for n in names], axis=1).astype(np.float32)


class JetImageCodec:
    """Jet images ↔ normalised hit clouds (:class:`HitNormaliser`) with normalised per-jet conditions.

    Fitted on the training split; its state (normalisers, data config, lowest training hit energy) is
    stored in the checkpoint. Batches: ``features [N, n_max, F]``, ``mask``, ``cond [N, C]`` and, when
    asked for, ``gen_features [N, gen_max, 9]`` / ``gen_mask`` (:data:`GEN_FEATURE_NAMES`).
    """

    def __init__(
        self,
        data: JetImageData,
        norm: HitNormaliser,
        cond_norm: ConditionNormaliser,
        feature_names: tuple[str, ...],
        min_energy: float,
        channel_min_energy: tuple[float, ...] | None = None,
    ) -> None:
        self.data, self.norm, self.cond_norm = data, norm, cond_norm
        self.feature_names, self.min_energy = feature_names, min_energy
        self.channel_min_energy = channel_min_energy  # GeV, per channel slot (several channels only)

    @classmethod
    def fit(cls, train: JetImages, data: JetImageData) -> JetImageCodec:
        """Fit the normalisers on the training jets' hits and conditions."""
        cloud = _cloud(train.images, data)
        if not cloud.mask.any():
            raise InputError("the training jets have no hits in the chosen channels; check data.channels")
        norm = HitNormaliser().fit(cloud.features, cloud.mask)
        cond_norm = ConditionNormaliser().fit(_conditions(train, data.conditions))
        energy = cloud.features[..., 2][cloud.mask]
        per_channel = None  # each channel's zero suppression (the reference: HCAL 0.8, ECAL 0.111 GeV)
        if len(data.channels) > 1:
            slot = np.rint(cloud.features[..., 3][cloud.mask])
            lows = [energy[slot == s] for s in range(len(data.channels))]
            per_channel = tuple(float(e.min() if e.size else energy.min()) for e in lows)
        return cls(data, norm, cond_norm, cloud.feature_names, float(energy.min()), per_channel)

    # ------------------------------------------------------------------ batches
    def _gen(self, jets: JetImages, keys: frozenset[str]) -> Batch:
        if not keys & _GEN_KEYS:
            return {}
        if jets.gen is None:
            raise InputError(
                "the model uses generator-level particles (model.use_gen) and these jets have none; "
                "give a file made by 'mlfastsim generate jet-images'"
            )
        feats, mask = gen_particles_to_padded(jets.gen, jets.eta, jets.phi, self.data.gen_max)
        return {
            "gen_features": torch.as_tensor(feats, dtype=torch.float32),
            "gen_mask": torch.as_tensor(mask),
        }

    def _cond(self, jets: JetImages) -> torch.Tensor:
        return torch.as_tensor(self.cond_norm.transform(_conditions(jets, self.data.conditions)))

    def encode(self, ev: JetImages, keys: frozenset[str]) -> Batch:
        """Normalised hits (``features``, ``mask``), conditions and, if in ``keys``, particles of every jet."""
        cloud = _cloud(ev.images, self.data)
        batch: Batch = {
            "features": torch.as_tensor(self.norm.transform(cloud.features, cloud.mask)),
            "mask": torch.as_tensor(cloud.mask, dtype=torch.bool),
            "cond": self._cond(ev),
        }
        return {**batch, **self._gen(ev, keys)}

    def conditions(self, ev: JetImages, keys: frozenset[str]) -> Batch:
        """The jets' conditions (``cond`` when the model is conditional) and particles (when it uses them)."""
        batch: Batch = {"cond": self._cond(ev)} if "cond" in keys else {}
        return {**batch, **self._gen(ev, keys)}

    def decode(self, out: Batch, like: JetImages | None) -> JetImages:
        """Generated or reconstructed hits painted back into images (GeV).

        With ``like``, the jets keep its scalars, particles and event ids; a replayed stored jet
        (``matched_cond`` in ``out``, the library) has its energies rescaled by requested / stored jet pT.
        Without ``like``, the jet kinematics the model drew (``matched_cond``) are recorded, the others are
        NaN, and the event ids are −1 (the jets belong to no reference event).
        """
        mask = out["mask"].numpy().astype(bool)
        feats = self.norm.inverse_transform(out["features"].float().numpy(), mask)
        names = self.data.conditions
        drawn = (
            self.cond_norm.inverse_transform(out["matched_cond"].numpy())
            if "matched_cond" in out and out["matched_cond"].shape[1] == len(names) and names
            else None
        )
        if like is not None and drawn is not None and "pt" in names:
            stored = drawn[:, names.index("pt")]
            feats[..., 2] *= (like.pt / np.maximum(stored, 1e-6))[:, None]
        images = cloud_to_image(HitCloud(feats, mask, self.feature_names), channels=self.data.channels)
        if like is not None:
            return JetImages(
                images, like.pt, like.m0, like.y, like.eta, like.phi, like.gen, event_id=like.event_id
            )
        n = len(images)
        nan = np.full(n, np.nan, dtype=np.float32)
        kinematics = {name: nan for name in _CONDITION_NAMES}
        if drawn is not None:
            kinematics.update({name: drawn[:, i].astype(np.float32) for i, name in enumerate(names)})
        return JetImages(
            images,
            kinematics["pt"],
            kinematics["m0"],
            nan,
            kinematics["eta"],
            event_id=np.full(n, -1, dtype=np.int64),
        )

    def model_fields(self) -> dict[str, Any]:
        """Hit and feature counts, conditions, channels and the map from normalised positions to detector
        cells (``row = rint(x · scale + offset)``) for the families that use them."""
        norm, half = self.norm, IMAGE_SIZE // 2
        return {
            "n_max": self.data.n_max,
            "n_features": len(self.feature_names),
            "n_cond": len(self.data.conditions),
            "n_channels": len(self.data.channels),
            "channel_cells": channel_cells(self.data.channels),
            "image_channels": tuple(self.data.channels),
            "gen_features": len(GEN_FEATURE_NAMES),
            "pixel_scale": (norm.std[0] / CRYSTAL_DETA, norm.std[1] / CRYSTAL_DPHI),
            "pixel_offset": (norm.mean[0] / CRYSTAL_DETA + half, norm.mean[1] / CRYSTAL_DPHI + half),
            "energy_norm": (norm.mean[2], norm.std[2]),
            "min_log_energy": self._log_threshold(self.min_energy),  # and per channel (none with one)
            "channel_min_log_energy": tuple(self._log_threshold(e) for e in self.channel_min_energy or ()),
        }

    def _log_threshold(self, energy: float) -> float:
        """A hit energy (GeV) as the models' normalised log energy."""
        return (float(np.log(max(energy, self.norm.energy_floor))) - self.norm.mean[2]) / self.norm.std[2]

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": config_to_dict(self.data),
            "normaliser": self.norm.to_dict(),
            "cond_normaliser": self.cond_norm.to_dict(),
            "feature_names": list(self.feature_names),
            "min_energy": self.min_energy,
            "channel_min_energy": None if self.channel_min_energy is None else list(self.channel_min_energy),
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> JetImageCodec:
        return cls(
            config_from_dict(JetImageData, state["data"], "data"),
            HitNormaliser.from_dict(state["normaliser"]),
            ConditionNormaliser.from_dict(state["cond_normaliser"]),
            tuple(state["feature_names"]),
            float(state["min_energy"]),
            None if state.get("channel_min_energy") is None else tuple(state["channel_min_energy"]),
        )


def _example_particles(rng: np.random.Generator, n_particles: int) -> np.ndarray:
    """A jet's worth of photons and charged pions around (η, φ) = (0, 0): exponential pT (GeV), Gaussian
    spread of 0.05 rad; the detector's input for :meth:`JetImagesKind.example`."""
    from mlfastsim.physics.particles import empty_particles

    p = empty_particles(n_particles)
    p["pt"] = rng.exponential(8.0, n_particles) + 1.0
    p["eta"] = rng.normal(0.0, 0.05, n_particles)
    p["phi"] = rng.normal(0.0, 0.05, n_particles)
    p["e"] = p["pt"] * np.cosh(p["eta"])
    charged = rng.random(n_particles) < 0.6
    p["pdgid"] = np.where(charged, 211, 22)
    p["charge"] = np.where(charged, rng.choice([-1.0, 1.0], n_particles), 0.0)
    p["in_jet"] = True
    return p


class JetImagesKind:
    """The ``jet-images`` data kind (see the module docstring)."""

    name = "jet-images"
    summary = "calorimeter jet images [3, 125, 125] (CMS end-to-end convention; Parquet or HDF5)"
    data_config: type = JetImageData
    default_suffix = ".parquet"

    def sniff(self, path: Path) -> bool:
        """Parquet with an ``X_jets`` column, or HDF5 with an ``X_jets`` dataset."""
        fmt = detect_format(path)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            try:
                return "X_jets" in pq.read_schema(path).names
            except Exception:  # an unreadable file: the reader gives the one-line error
                return True
        import h5py

        try:
            with h5py.File(path, "r") as f:
                return "X_jets" in f
        except OSError:
            return False

    def read(self, path: str | Path, max_events: int | None = None) -> JetImages:
        return read_jet_images(path, max_events=max_events)

    def write(self, path: str | Path, ev: JetImages) -> None:
        write_jet_images(path, ev)

    def concatenate(self, parts: list[JetImages]) -> JetImages:
        return concatenate_jets(parts)

    def select(self, ev: JetImages, data: JetImageData, where: str) -> JetImages:
        if data.label is not None:
            ev = ev.subset(ev.y == data.label)
        if len(ev) < 2:
            raise InputError(
                f"{where}: fewer than 2 jets after selection (data.label={data.label}); use more data"
            )
        return ev

    def fit_codec(self, train: JetImages, data: JetImageData) -> JetImageCodec:
        return JetImageCodec.fit(train, data)

    def load_codec(self, state: Mapping[str, Any]) -> JetImageCodec:
        return JetImageCodec.from_dict(state)

    def inspect(self, path: str | Path, max_events: int | None = None) -> dict[str, Any]:
        return inspect_file(path, max_events)

    def format_inspection(self, summary: Mapping[str, Any]) -> str:
        return format_inspection(dict(summary))

    def example(self, n: int, seed: int) -> JetImages:
        """``n`` jets of 6–20 photons and pions (:func:`_example_particles`) through the reference detector,
        with their particles stored (so particle-conditioned models can use them)."""
        from mlfastsim.physics.detector import simulate_jet
        from mlfastsim.physics.kinematics import jet_pt_mass

        rng = make_rng(seed)
        images, gen, pt, m0 = [], [], [], []
        for _ in range(n):
            particles = _example_particles(rng, int(rng.integers(6, 21)))
            image, reaches = simulate_jet(particles, 0.0, 0.0, rng)
            images.append(image)
            gen.append(particles[reaches])
            jet_pt, mass = jet_pt_mass(particles["eta"], particles["phi"], particles["pt"])
            pt.append(float(jet_pt))
            m0.append(float(mass))
        zeros = np.zeros(n, dtype=np.float32)
        attrs = provenance("mlfastsim example jet-images", {"kind": self.name, "n": n}, seed)
        return JetImages(np.stack(images), np.array(pt), np.array(m0), zeros, zeros, zeros, gen, attrs)

    def resimulate(self, ev: JetImages, seed: int) -> JetImages:
        """The reference detector (default settings) again on ``ev``'s generator-level particles and jet
        axes: same jets, scalars, particles and ids, new images."""
        import dataclasses

        from mlfastsim.physics.detector import simulate_jet

        if ev.gen is None:
            raise InputError("these jets carry no generator-level particles; nothing to resimulate")
        rng = make_rng(seed)
        images = [simulate_jet(ev.gen[i], float(ev.eta[i]), float(ev.phi[i]), rng)[0] for i in range(len(ev))]
        return dataclasses.replace(ev, images=np.stack(images), attrs={})

    def add_generate_arguments(self, parser: argparse.ArgumentParser) -> None:
        from mlfastsim.physics.generation import PRESETS

        parser.add_argument("--events", type=int, default=1000, help="number of jets (default 1000)")
        parser.add_argument(
            "--process", default="qcd", help=f"Pythia preset: {', '.join(PRESETS)} (default qcd)"
        )
        parser.add_argument(
            "--pileup", type=float, default=0.0, metavar="MU", help="mean pile-up interactions (default 0)"
        )
        parser.add_argument(
            "--format", choices=("parquet", "hdf5"), default=None, help="default: from the suffix"
        )
        parser.add_argument(
            "--resimulate", metavar="FILE", default=None, help="re-run the detector on FILE's particles"
        )

    def generate(self, args: argparse.Namespace) -> dict[str, Any]:
        from mlfastsim.data.generate import generate_jet_images, parse_shard, resimulate_jet_images
        from mlfastsim.physics.generation import get_preset

        shard = parse_shard(args.shard)
        get_preset(args.process)
        if args.events <= 0:
            raise InputError(f"--events must be a positive number of jets, got {args.events}")
        if args.resimulate:
            return resimulate_jet_images(args.resimulate, args.out, seed=args.seed, fmt=args.format)
        return generate_jet_images(
            args.out, args.process, args.events, args.seed, args.pileup, shard, fmt=args.format
        )


KIND = JetImagesKind()
