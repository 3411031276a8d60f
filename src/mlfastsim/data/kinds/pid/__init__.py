"""The ``pid`` kind: LHCb-RICH-like particle-identification tables (seed 004) — per track the inputs (P, η,
nTracks, charge, true species) and the RICH's DLL_e, DLL_μ, DLL_K, DLL_p, DLL_bt, with optional weights.

Container :class:`PIDTable` (:mod:`.container`), HDF5 files (:mod:`.io`), the quantile-transform codec
:class:`PIDCodec` (:mod:`.codec`), ``inspect`` (:mod:`.inspect`), ``mlfastsim generate pid`` and synthetic
examples (:mod:`.generate`).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import InputError
from mlfastsim.data.kinds.pid.codec import PIDCodec, PIDData
from mlfastsim.data.kinds.pid.container import DLL_NAMES, INPUT_NAMES, SPECIES, PIDTable, concatenate_pid
from mlfastsim.data.kinds.pid.generate import example_pid, generate_pid_file, resimulate_pid
from mlfastsim.data.kinds.pid.inspect import format_pid_inspection, inspect_pid
from mlfastsim.data.kinds.pid.io import read_pid, sniff_pid, write_pid

__all__ = [
    "DLL_NAMES",
    "INPUT_NAMES",
    "KIND",
    "SPECIES",
    "PIDCodec",
    "PIDData",
    "PIDKind",
    "PIDTable",
    "concatenate_pid",
    "read_pid",
    "write_pid",
]


class PIDKind:
    """The ``pid`` data kind (see the module docstring)."""

    name = "pid"
    summary = "RICH particle-identification tables: (P, eta, nTracks, charge, species) -> 5 DLLs (HDF5)"
    default_suffix = ".h5"
    data_config: type = PIDData

    def sniff(self, path: Path) -> bool:
        """HDF5 with ``inputs/species`` and ``outputs/dll``."""
        return sniff_pid(path)

    def read(self, path: str | Path, max_events: int | None = None) -> PIDTable:
        return read_pid(path, max_events)

    def write(self, path: str | Path, ev: PIDTable) -> None:
        """Atomically, as HDF5 (``.h5`` / ``.hdf5``)."""
        write_pid(path, ev)

    def concatenate(self, parts: list[PIDTable]) -> PIDTable:
        return concatenate_pid(parts)

    def select(self, ev: PIDTable, data: PIDData, where: str) -> PIDTable:
        """The tracks of ``data.species`` (all when empty); at least 2 needed."""
        if data.species:
            ev = ev.subset(np.isin(ev.species, [SPECIES.index(s) for s in data.species]))
        if len(ev) < 2:
            raise InputError(
                f"{where}: fewer than 2 tracks after selection (data.species={list(data.species)})"
            )
        return ev

    def fit_codec(self, train: PIDTable, data: PIDData) -> PIDCodec:
        return PIDCodec.fit(train, data)

    def load_codec(self, state: Mapping[str, Any]) -> PIDCodec:
        return PIDCodec.from_dict(state)

    def inspect(self, path: str | Path, max_events: int | None = None) -> dict[str, Any]:
        return inspect_pid(path, max_events)

    def format_inspection(self, summary: Mapping[str, Any]) -> str:
        return format_pid_inspection(summary)

    def example(self, n: int, seed: int) -> PIDTable:
        """``n`` synthetic tracks through the reference RICH (:func:`~.generate.example_pid`; no Pythia)."""
        return example_pid(n, seed)

    def resimulate(self, ev: PIDTable, seed: int) -> PIDTable:
        """The reference RICH (default settings) again on ``ev``'s tracks: same inputs and ids, new DLLs."""
        import dataclasses

        from mlfastsim._utils import make_rng
        from mlfastsim.physics.detector.rich import simulate_rich

        dll = simulate_rich(ev.p, ev.eta, ev.n_tracks, ev.species, make_rng(seed))["dll"]
        return dataclasses.replace(ev, dll=dll, attrs={})

    def add_generate_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--events", type=int, default=10_000, help="number of tracks (default 10000)")
        parser.add_argument(
            "--resimulate", metavar="FILE", default=None, help="run the RICH again on FILE's tracks"
        )

    def generate(self, args: argparse.Namespace) -> dict[str, Any]:
        from mlfastsim.data.generate import parse_shard

        shard = parse_shard(args.shard)
        if args.resimulate:
            return resimulate_pid(args.resimulate, args.out, seed=args.seed)
        return generate_pid_file(args.out, args.events, args.seed, shard)


KIND = PIDKind()
