"""The ``tpc`` kind: NICA MPD TPC pad-row windows of track segments (seed 004), 8 pads × 16 time buckets of
ADC counts given the segment's crossing angle, dip angle, position along the row, drift distance and row.

Container :class:`TPCWindows` (:mod:`.container`), codec :class:`TPCCodec` (:mod:`.codec`), HDF5 files
(:mod:`.io`), ``inspect`` (:mod:`.inspect`), ``mlfastsim generate tpc`` with ``--resimulate`` and examples
(:mod:`.generate`); the physics in :mod:`mlfastsim.physics.detector.tpc`.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlfastsim._utils import InputError
from mlfastsim.data.kinds.tpc.codec import (
    MODEL_CONDITIONS,
    SPAN_CONDITIONS,
    TPCCodec,
    TPCData,
    model_conditions,
    spans,
)
from mlfastsim.data.kinds.tpc.container import CONDITIONS, TPCWindows, concatenate_tpc_windows
from mlfastsim.data.kinds.tpc.generate import example_tpc_windows, generate_tpc_file, resimulate_tpc_file
from mlfastsim.data.kinds.tpc.inspect import format_tpc_inspection, inspect_tpc
from mlfastsim.data.kinds.tpc.io import read_tpc_windows, sniff_tpc, write_tpc_windows

__all__ = [
    "CONDITIONS",
    "KIND",
    "MODEL_CONDITIONS",
    "SPAN_CONDITIONS",
    "TPCCodec",
    "TPCData",
    "TPCKind",
    "TPCWindows",
    "concatenate_tpc_windows",
    "model_conditions",
    "read_tpc_windows",
    "spans",
    "write_tpc_windows",
]

_ROWS = {"inner": 0, "outer": 1, "both": None}


class TPCKind:
    """The ``tpc`` data kind (see the module docstring)."""

    name = "tpc"
    summary = "MPD TPC pad-row windows [8 pads, 16 time buckets] of track segments (seed 004; HDF5)"
    default_suffix = ".h5"
    data_config: type = TPCData

    def sniff(self, path: Path) -> bool:
        """HDF5 with a ``tpc/adc`` dataset."""
        return sniff_tpc(path)

    def read(self, path: str | Path, max_events: int | None = None) -> TPCWindows:
        return read_tpc_windows(path, max_events)

    def write(self, path: str | Path, ev: TPCWindows) -> None:
        """Atomically, as HDF5 (``.h5`` / ``.hdf5`` only)."""
        if Path(path).suffix.lower() not in (".h5", ".hdf5"):
            raise InputError(f"{path}: TPC windows are written as HDF5; use the suffix .h5 or .hdf5")
        write_tpc_windows(path, ev)

    def concatenate(self, parts: list[TPCWindows]) -> TPCWindows:
        return concatenate_tpc_windows(parts)

    def select(self, ev: TPCWindows, data: TPCData, where: str) -> TPCWindows:
        """The segments of ``data.row`` (all when None); at least 2 needed."""
        if data.row is not None:
            ev = ev.subset(ev.conditions[:, 4] == data.row)
        if len(ev) < 2:
            raise InputError(
                f"{where}: fewer than 2 segments after selection (data.row={data.row}); use more data"
            )
        return ev

    def fit_codec(self, train: TPCWindows, data: TPCData) -> TPCCodec:
        return TPCCodec.fit(train, data)

    def load_codec(self, state: Mapping[str, Any]) -> TPCCodec:
        return TPCCodec.from_dict(state)

    def inspect(self, path: str | Path, max_events: int | None = None) -> dict[str, Any]:
        return inspect_tpc(path, max_events)

    def format_inspection(self, summary: Mapping[str, Any]) -> str:
        return format_tpc_inspection(summary)

    def example(self, n: int, seed: int) -> TPCWindows:
        """``n`` segments through the real pad-row simulation (:func:`~.generate.example_tpc_windows`)."""
        return example_tpc_windows(n, seed)

    def resimulate(self, ev: TPCWindows, seed: int) -> TPCWindows:
        """The reference pad-row simulation (default settings) again on ``ev``'s segments: same conditions
        and ids, new windows."""
        from mlfastsim._utils import make_rng
        from mlfastsim.data.kinds.tpc.generate import simulate_tpc

        return simulate_tpc(ev.conditions, make_rng(seed), ev.event_id)[0]

    def add_generate_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--events", type=int, default=10_000, help="number of track segments (default 10000)"
        )
        parser.add_argument("--row", choices=tuple(_ROWS), default="both", help="row type (default both)")
        parser.add_argument(
            "--resimulate", metavar="FILE", default=None, help="simulate FILE's segments again with --seed"
        )

    def generate(self, args: argparse.Namespace) -> dict[str, Any]:
        from mlfastsim.data.generate import parse_shard

        shard = parse_shard(args.shard)
        if args.resimulate:
            return resimulate_tpc_file(args.resimulate, args.out, seed=args.seed)
        return generate_tpc_file(args.out, args.events, args.seed, shard, _ROWS[args.row])


KIND = TPCKind()
