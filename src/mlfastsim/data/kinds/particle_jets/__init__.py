"""The ``particle-jets`` kind: jets as constituent lists in the JetNet convention, at generator level,
detector level (the reference particle flow) or both, for seed 003's particle VAE in its two paradigms.

Container :class:`ParticleJets` (:mod:`.container`), codec :class:`ParticleJetCodec` (:mod:`.codec`), files
(our two-level HDF5 layout, public JetNet and HLS4ML files: :mod:`.io`), ``inspect`` (:mod:`.inspect`),
``mlfastsim generate particle-jets`` and synthetic examples (:mod:`.generate`).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import InputError
from mlfastsim.data.kinds.particle_jets.codec import ParticleJetCodec, ParticleJetData
from mlfastsim.data.kinds.particle_jets.container import (
    JET_FEATURES,
    LEVELS,
    PARTICLE_FEATURES,
    ParticleJets,
    concatenate_particle_jets,
    to_cartesian,
)
from mlfastsim.data.kinds.particle_jets.generate import (
    example_particle_jets,
    generate_particle_jet_file,
    resimulate_particle_jets,
)
from mlfastsim.data.kinds.particle_jets.inspect import format_particle_jet_inspection, inspect_particle_jets
from mlfastsim.data.kinds.particle_jets.io import (
    HLS4ML_CLASSES,
    jet_classes,
    read_particle_jets,
    sniff_particle_jets,
)
from mlfastsim.data.kinds.particle_jets.writer import write_particle_jets

__all__ = [
    "HLS4ML_CLASSES",
    "JET_FEATURES",
    "KIND",
    "LEVELS",
    "PARTICLE_FEATURES",
    "ParticleJetCodec",
    "ParticleJetData",
    "ParticleJets",
    "ParticleJetsKind",
    "concatenate_particle_jets",
    "jet_classes",
    "read_particle_jets",
    "to_cartesian",
    "write_particle_jets",
]

_PROCESSES = ("g", "q", "t", "w", "z")  # the JetNet presets (physics.generation.jetnet.JETNET_PRESETS)


class ParticleJetsKind:
    """The ``particle-jets`` data kind (see the module docstring)."""

    name = "particle-jets"
    summary = "particle-cloud jets [N, P, 4] (JetNet convention; generator and detector level; HDF5)"
    default_suffix = ".h5"
    data_config: type = ParticleJetData

    def sniff(self, path: Path) -> bool:
        """HDF5 with ``gen/``/``reco/particle_features``, ``particle_features`` or ``jetConstituentList``."""
        return sniff_particle_jets(path)

    def read(self, path: str | Path, max_events: int | None = None) -> ParticleJets:
        return read_particle_jets(path, max_events)

    def write(self, path: str | Path, ev: ParticleJets) -> None:
        """Atomically, in our HDF5 layout (``.h5`` / ``.hdf5`` only)."""
        if Path(path).suffix.lower() not in (".h5", ".hdf5"):
            raise InputError(f"{path}: particle jets are written as HDF5; use the suffix .h5 or .hdf5")
        write_particle_jets(path, ev)

    def concatenate(self, parts: list[ParticleJets]) -> ParticleJets:
        try:
            return concatenate_particle_jets(parts)
        except ValueError as exc:
            raise InputError(
                f"cannot join these particle-jet sets: {exc}; give files of one layout"
            ) from None

    def select(self, ev: ParticleJets, data: ParticleJetData, where: str) -> ParticleJets:
        """The jets of ``data.label`` (if set) whose ``data.level`` jet is matched (finite jet features)."""
        if data.level not in ev.levels:
            raise InputError(
                f"{where}: no {data.level!r} level in these jets (present: {', '.join(ev.levels)}); "
                f"set data.level to {' or '.join(ev.levels)}"
            )
        keep = np.isfinite(ev.jets(data.level)).all(axis=1)
        if data.label is not None:
            keep &= ev.y == data.label
        ev = ev.subset(keep)
        if len(ev) < 2:
            raise InputError(
                f"{where}: fewer than 2 jets after selection (data.label={data.label}, matched "
                f"{data.level} jets only); use more data"
            )
        return ev

    def fit_codec(self, train: ParticleJets, data: ParticleJetData) -> ParticleJetCodec:
        return ParticleJetCodec.fit(train, data)

    def load_codec(self, state: Mapping[str, Any]) -> ParticleJetCodec:
        return ParticleJetCodec.from_dict(state)

    def inspect(self, path: str | Path, max_events: int | None = None) -> dict[str, Any]:
        return inspect_particle_jets(path, max_events)

    def format_inspection(self, summary: Mapping[str, Any]) -> str:
        return format_particle_jet_inspection(summary)

    def example(self, n: int, seed: int) -> ParticleJets:
        """``n`` synthetic two-level jets, P = 30 (:func:`~.generate.example_particle_jets`; no Pythia)."""
        return example_particle_jets(n, seed)

    def resimulate(self, ev: ParticleJets, seed: int) -> ParticleJets:
        """The reference detector (default particle flow, JetNet radius) again on ``ev``'s stored
        generator-level regions: same gen level and ids, a new reco level."""
        from mlfastsim._utils import make_rng
        from mlfastsim.data.kinds.particle_jets.generate import reconstruct_regions

        try:
            jets, _ = reconstruct_regions(ev, make_rng(seed))
        except InputError as exc:
            raise InputError(f"particle-jets: {exc}") from None
        return dataclasses.replace(jets, attrs={})

    def add_generate_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--process", choices=_PROCESSES, default=None, help="JetNet jet type (needed unless --resimulate)"
        )
        parser.add_argument("--events", type=int, default=1000, help="number of jets (default 1000)")
        parser.add_argument(
            "--particles",
            type=int,
            default=30,
            metavar="P",
            help="constituents kept per level (JetNet: 30, 150)",
        )
        parser.add_argument(
            "--resimulate", metavar="FILE", default=None, help="re-run the detector on FILE's stored regions"
        )

    def generate(self, args: argparse.Namespace) -> dict[str, Any]:
        from mlfastsim.data.generate import parse_shard

        shard = parse_shard(args.shard)
        if args.resimulate:
            return resimulate_particle_jets(args.resimulate, args.out, seed=args.seed)
        if args.process is None:
            raise InputError(
                f"--process is required: one of {', '.join(_PROCESSES)} (or give --resimulate FILE)"
            )
        return generate_particle_jet_file(
            args.out, args.process, args.events, args.particles, args.seed, shard
        )


KIND = ParticleJetsKind()
