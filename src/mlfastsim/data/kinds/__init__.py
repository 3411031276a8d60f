"""The registry of data kinds: ``KINDS[name]`` bundles a kind's container, files, codec, inspection,
generation and synthetic examples. A new kind is one module here and one line in :data:`KINDS`."""

from __future__ import annotations

import os
from pathlib import Path

from mlfastsim._utils import InputError
from mlfastsim.data.checks import ValueCheck, check_events, read_events
from mlfastsim.data.io.layout import detect_format
from mlfastsim.data.kinds.base import Codec, DataKind, DataSettings, Events
from mlfastsim.data.kinds.jet_images import KIND as JET_IMAGES
from mlfastsim.data.kinds.particle_jets import KIND as PARTICLE_JETS
from mlfastsim.data.kinds.pid import KIND as PID
from mlfastsim.data.kinds.root import with_root_files
from mlfastsim.data.kinds.showers import KIND as SHOWERS
from mlfastsim.data.kinds.tpc import KIND as TPC

__all__ = [
    "KINDS",
    "Codec",
    "DataKind",
    "DataSettings",
    "Events",
    "ValueCheck",
    "check_events",
    "get_kind",
    "kind_of",
    "read_events",
]

#: name → kind, in the order ``sniff`` tries them; every kind also reads and writes ROOT files (.root).
KINDS: dict[str, DataKind] = {
    k.name: with_root_files(k) for k in (JET_IMAGES, PARTICLE_JETS, PID, SHOWERS, TPC)
}


def get_kind(name: str) -> DataKind:
    """The kind called ``name``; one-line InputError listing the known ones otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise InputError(f"unknown data kind {name!r}; choose one of {', '.join(KINDS)}") from None


def kind_of(path: str | os.PathLike[str]) -> DataKind:
    """The kind of the data in ``path``, from its content; one-line InputError when no kind reads it."""
    path = Path(path)
    detect_format(path)  # missing, empty, a directory or not Parquet/HDF5: one clear line
    for kind in KINDS.values():
        if kind.sniff(path):
            return kind
    raise InputError(
        f"{path}: not a file of any data kind mlfastsim reads ({', '.join(KINDS)}); "
        "check the file or make one with 'mlfastsim generate'"
    )
