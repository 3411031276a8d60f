"""Shower files (HDF5), in the dataset names of the LHCb calorimeter GAN data of seed 004::

    ParticlePoint     float32 [N, 3]     entry point (x, y, z) on the ECAL face [mm]
    ParticleMomentum  float32 [N, 3]     (px, py, pz) [GeV]
    EnergyDeposit     float32 [N, G, G]  cell energies [GeV] (rows y, columns x), gzip
    ParticlePDG       int32   [N]        22, ±11 (0 unknown)
    event_id          int64   [N]
    file attribute ``mlfastsim``: the attributes as JSON (provenance, detector settings, cost per shower)

every dataset chunked with Fletcher-32 checksums. Writing is atomic and may be streamed in batches
(:func:`open_shower_writer`); reading takes only the rows asked for.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from mlfastsim._utils import InputError, atomic_path, jsonable
from mlfastsim.data.io.layout import ATTRS_KEY, detect_format
from mlfastsim.data.kinds.showers.container import Showers, concatenate_showers

__all__ = [
    "ShowerWriter",
    "iter_showers",
    "open_shower_writer",
    "read_showers",
    "sniff_showers",
    "write_showers",
]

_POINT, _MOMENTUM, _ENERGY, _PDG = "ParticlePoint", "ParticleMomentum", "EnergyDeposit", "ParticlePDG"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def sniff_showers(path: str | os.PathLike[str]) -> bool:
    """True for HDF5 files with ``EnergyDeposit`` and ``ParticleMomentum`` datasets."""
    if detect_format(Path(path)) != "hdf5":
        return False
    try:
        with h5py.File(path, "r") as f:
            return _ENERGY in f and _MOMENTUM in f
    except OSError:
        return False


class ShowerWriter:
    """Appends :class:`Showers` batches (one grid) to an open HDF5 file; :meth:`finish` stores ``attrs``."""

    def __init__(self, file: h5py.File, attrs: dict[str, Any] | None = None) -> None:
        self.file, self.attrs, self.n = file, dict(attrs or {}), 0
        self._grid: int | None = None

    def _append(self, name: str, values: np.ndarray, rows: int, gzip: bool = False) -> None:
        if name not in self.file:
            extra = values.shape[1:]
            self.file.create_dataset(
                name, shape=(0, *extra), maxshape=(None, *extra), dtype=values.dtype, chunks=(rows, *extra),
                fletcher32=True, shuffle=gzip, compression="gzip" if gzip else None,
                compression_opts=4 if gzip else None,
            )  # fmt: skip
        ds = self.file[name]
        old = ds.shape[0]
        ds.resize(old + len(values), axis=0)
        ds[old:] = values

    def write(self, showers: Showers) -> None:
        """Append ``showers`` (the grid of the first batch; ValueError otherwise)."""
        if self._grid is not None and showers.grid != self._grid:
            raise ValueError(f"batch grid {showers.grid} differs from the first batch's {self._grid}")
        self._grid = showers.grid
        self._append(_POINT, showers.point, 4096)
        self._append(_MOMENTUM, showers.momentum, 4096)
        self._append(_ENERGY, showers.response, 256, gzip=True)
        self._append(_PDG, showers.pdg, 4096)
        self._append("event_id", showers.event_id, 4096)
        self.n += len(showers)

    def finish(self) -> None:
        if self._grid is None:
            raise ValueError("no showers were written")
        self.file.attrs[ATTRS_KEY] = json.dumps(jsonable(self.attrs))


@contextlib.contextmanager
def open_shower_writer(
    path: str | os.PathLike[str], attrs: dict[str, Any] | None = None
) -> Iterator[ShowerWriter]:
    """A :class:`ShowerWriter` on a temporary file that replaces ``path`` when the block succeeds."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        writer = ShowerWriter(f, attrs)
        yield writer
        writer.finish()


def write_showers(path: str | os.PathLike[str], showers: Showers) -> None:
    """Write ``showers`` atomically (module docstring), with their attributes."""
    if Path(path).suffix.lower() not in (".h5", ".hdf5"):
        raise InputError(f"{path}: showers are written as HDF5; use the suffix .h5 or .hdf5")
    with open_shower_writer(path, showers.attrs) as writer:
        writer.write(showers)


def _dataset(f: h5py.File, name: str, path: Path, shape: tuple[int | None, ...]) -> h5py.Dataset:
    ds = f.get(name)
    if not isinstance(ds, h5py.Dataset):
        raise InputError(f"{path}: no dataset {name!r}; the file is incomplete, regenerate it")
    if len(ds.shape) != len(shape) or any(
        s is not None and s != d for s, d in zip(shape, ds.shape, strict=True)
    ):
        want = ", ".join("*" if s is None else str(s) for s in shape)
        raise InputError(f"{path}: {name} has shape {list(ds.shape)}, expected [{want}]; not a shower file")
    return ds


def iter_showers(
    path: str | os.PathLike[str], max_events: int | None = None, batch_size: int | None = 8192
) -> Iterator[Showers]:
    """The first ``max_events`` showers (all when None) of a shower file, in batches of ``batch_size``."""
    path = Path(path)
    if max_events is not None and max_events <= 0:
        raise InputError(f"--max-events must be positive, got {max_events}")
    if detect_format(path) != "hdf5":
        raise InputError(f"{path}: showers are read from HDF5 files (.h5), not Parquet")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(
            f"{path}: unreadable HDF5 file (truncated or corrupt: {_one_line(exc)}); regenerate it"
        ) from None
    with f:
        energy = _dataset(f, _ENERGY, path, (None, None, None))
        n, g = energy.shape[:2]
        if energy.shape[2] != g:
            raise InputError(
                f"{path}: {_ENERGY} cells are {energy.shape[1]} × {energy.shape[2]}, expected square"
            )
        point = _dataset(f, _POINT, path, (n, 3))
        momentum = _dataset(f, _MOMENTUM, path, (n, 3))
        pdg = _dataset(f, _PDG, path, (n,)) if _PDG in f else None
        ids = _dataset(f, "event_id", path, (n,)) if "event_id" in f else None
        raw = f.attrs.get(ATTRS_KEY)
        try:
            attrs = json.loads(raw) if raw is not None else {"source": str(path)}
        except (TypeError, ValueError):
            raise InputError(
                f"{path}: attribute {ATTRS_KEY!r} is not valid JSON; regenerate the file"
            ) from None
        stop = n if max_events is None else min(max_events, n)
        step = max(stop, 1) if batch_size is None else batch_size
        for lo in range(0, stop, step):
            hi = min(lo + step, stop)
            try:
                yield Showers(
                    np.concatenate([point[lo:hi], momentum[lo:hi]], axis=1),
                    energy[lo:hi],
                    ids[lo:hi] if ids is not None else np.arange(lo, hi),
                    pdg[lo:hi] if pdg is not None else np.zeros(hi - lo, np.int32),
                    attrs,
                )
            except (OSError, ValueError, TypeError) as exc:
                raise InputError(
                    f"{path}: unreadable data in showers {lo}–{hi} (truncated or corrupt: {_one_line(exc)}); "
                    "regenerate the file"
                ) from None


def read_showers(path: str | os.PathLike[str], max_events: int | None = None) -> Showers:
    """All showers (or the first ``max_events``) of a shower file."""
    parts = list(iter_showers(path, max_events, batch_size=None))
    if not parts:
        raise InputError(f"{path}: holds no showers; regenerate it")
    if len(parts) == 1:
        return parts[0]
    out = concatenate_showers(parts)
    out.attrs = parts[0].attrs
    return out
