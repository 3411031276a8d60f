"""The ``showers`` kind: single photons and electrons in an LHCb-like Shashlik ECAL (seed 004): conditions
``[N, 6]`` (entry point mm, momentum GeV) and responses ``[N, 30, 30]`` GeV on 20 mm cells.

Container :class:`Showers` (:mod:`.container`), codec :class:`ShowerCodec` (:mod:`.codec`), HDF5 files
(:mod:`.io`), ``inspect`` (:mod:`.inspect`), incidence observables (:mod:`.observables`), ``mlfastsim generate
showers``, its resimulation and synthetic examples (:mod:`.generate`; physics in
:mod:`mlfastsim.physics.detector.lhcb_ecal`).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import InputError
from mlfastsim.data.kinds.showers.codec import MODEL_CONDITIONS, ShowerCodec, ShowerData
from mlfastsim.data.kinds.showers.container import CONDITION_NAMES, Showers, concatenate_showers
from mlfastsim.data.kinds.showers.generate import (
    SPECIES,
    example_showers,
    generate_shower_file,
    resimulate_events,
    resimulate_showers,
)
from mlfastsim.data.kinds.showers.inspect import format_shower_inspection, inspect_showers
from mlfastsim.data.kinds.showers.io import read_showers, sniff_showers, write_showers
from mlfastsim.data.kinds.showers.observables import incidence_observables

__all__ = [
    "CONDITION_NAMES",
    "KIND",
    "MODEL_CONDITIONS",
    "ShowerCodec",
    "ShowerData",
    "Showers",
    "ShowersKind",
    "concatenate_showers",
    "incidence_observables",
    "read_showers",
    "write_showers",
]


class ShowersKind:
    """The ``showers`` data kind (see the module docstring)."""

    name = "showers"
    summary = (
        "LHCb-like ECAL showers: conditions [N, 6] (point mm, momentum GeV) → energies [N, 30, 30] (HDF5)"
    )
    default_suffix = ".h5"
    data_config: type = ShowerData

    def sniff(self, path: Path) -> bool:
        """HDF5 with ``EnergyDeposit`` and ``ParticleMomentum`` datasets."""
        return sniff_showers(path)

    def read(self, path: str | Path, max_events: int | None = None) -> Showers:
        return read_showers(path, max_events)

    def write(self, path: str | Path, ev: Showers) -> None:
        """Atomically, as HDF5 (``.h5`` / ``.hdf5`` only)."""
        write_showers(path, ev)

    def concatenate(self, parts: list[Showers]) -> Showers:
        try:
            return concatenate_showers(parts)
        except ValueError as exc:
            raise InputError(f"cannot join these shower sets: {exc}; give files of one grid") from None

    def select(self, ev: Showers, data: ShowerData, where: str) -> Showers:
        """The showers of ``data.particles`` (if set) with finite conditions moving into the ECAL."""
        keep = np.isfinite(ev.conditions).all(axis=1) & (ev.momentum[:, 2] > 0)
        if data.particles:
            keep &= np.isin(np.abs(ev.pdg), np.asarray(data.particles))
        ev = ev.subset(keep)
        if len(ev) < 2:
            raise InputError(
                f"{where}: fewer than 2 showers after selection (data.particles={list(data.particles)}); "
                "use more data"
            )
        return ev

    def fit_codec(self, train: Showers, data: ShowerData) -> ShowerCodec:
        return ShowerCodec.fit(train, data)

    def load_codec(self, state: Mapping[str, Any]) -> ShowerCodec:
        return ShowerCodec.from_dict(state)

    def inspect(self, path: str | Path, max_events: int | None = None) -> dict[str, Any]:
        return inspect_showers(path, max_events)

    def format_inspection(self, summary: Mapping[str, Any]) -> str:
        return format_shower_inspection(summary)

    def example(self, n: int, seed: int) -> Showers:
        """``n`` reference showers of the real simulation (:func:`~.generate.example_showers`; ≈1 ms each)."""
        return example_showers(n, seed)

    def resimulate(self, ev: Showers, seed: int) -> Showers:
        """The reference ECAL again on ``ev``'s particles (their recorded detector settings): same conditions
        and ids, new maps (:func:`~.generate.resimulate_events`)."""
        return resimulate_events(ev, seed)

    def add_generate_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--events", type=int, default=1000, help="number of showers (default 1000)")
        parser.add_argument(
            "--particles",
            default=",".join(SPECIES),
            help="species, comma-separated: gamma, e (default gamma,e)",
        )
        parser.add_argument(
            "--energy",
            default="2,100",
            metavar="MIN,MAX",
            help="energy range in GeV, flat in ln E (default 2,100)",
        )
        parser.add_argument(
            "--resimulate", metavar="FILE", default=None, help="simulate FILE's particles again (new --seed)"
        )

    def generate(self, args: argparse.Namespace) -> dict[str, Any]:
        from mlfastsim.data.generate import parse_shard

        shard = parse_shard(args.shard)
        if args.resimulate:
            return resimulate_showers(args.resimulate, args.out, seed=args.seed)
        try:
            lo, hi = (float(v) for v in args.energy.split(","))
        except ValueError:
            raise InputError(
                f"--energy {args.energy!r}: write the range as MIN,MAX in GeV (e.g. 2,100)"
            ) from None
        species = tuple(s.strip() for s in args.particles.split(",") if s.strip())
        return generate_shower_file(args.out, args.events, args.seed, shard, species, (lo, hi))


KIND = ShowersKind()
