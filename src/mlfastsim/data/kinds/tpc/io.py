"""TPC window files (HDF5): an atomic, batched writer, the reader and the sniffer.

Layout::

    tpc/adc          float32 [N, 8, 16]  ADC counts (pads × 100 ns buckets), gzip
    tpc/conditions   float64 [N, 5]      attribute feature_names: crossing_angle, dip_angle, position,
                                         drift_length, row (rad, rad, cm, cm, 0 inner / 1 outer)
    tpc/pad_offset   int64   [N]         the row's pad of window pad 0
    tpc/time_offset  int64   [N]         the time bucket of window bucket 0
    tpc/crossing     float64 [N, 2]      true crossing point (pad, bucket) in window coordinates
    event_id         int64   [N]
    file attribute ``mlfastsim``: the attributes as JSON (provenance, cost per segment)

every dataset chunked with Fletcher-32 checksums.
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
from mlfastsim.data.kinds.tpc.container import CONDITIONS, TPCWindows

__all__ = ["TPCWriter", "open_tpc_writer", "read_tpc_windows", "sniff_tpc", "write_tpc_windows"]

_MARKER = "tpc/adc"
_FIELDS = ("adc", "conditions", "pad_offset", "time_offset", "crossing")


def sniff_tpc(path: str | os.PathLike[str]) -> bool:
    """True for HDF5 files with a ``tpc/adc`` dataset."""
    if detect_format(Path(path)) != "hdf5":
        return False
    try:
        with h5py.File(path, "r") as f:
            return _MARKER in f
    except OSError:
        return False


class TPCWriter:
    """Appends batches of :class:`TPCWindows` to an open HDF5 file; use :func:`open_tpc_writer` (atomic)."""

    def __init__(self, file: h5py.File, attrs: dict[str, Any] | None = None) -> None:
        self.file, self.attrs, self.n = file, dict(attrs or {}), 0

    def _append(self, name: str, values: np.ndarray, gzip: bool = False) -> None:
        if name not in self.file:
            extra = values.shape[1:]
            self.file.create_dataset(
                name, shape=(0, *extra), maxshape=(None, *extra), dtype=values.dtype,
                chunks=(4096, *extra), fletcher32=True, shuffle=gzip,
                compression="gzip" if gzip else None, compression_opts=4 if gzip else None,
            )  # fmt: skip
        ds = self.file[name]
        old = ds.shape[0]
        ds.resize(old + len(values), axis=0)
        ds[old:] = values

    def write(self, ev: TPCWindows) -> None:
        """Append the segments of ``ev``."""
        for name in _FIELDS:
            self._append(f"tpc/{name}", getattr(ev, name), gzip=name == "adc")
        self.file["tpc/conditions"].attrs["feature_names"] = list(CONDITIONS)
        self._append("event_id", ev.event_id)
        self.n += len(ev)

    def finish(self) -> None:
        """Store the attributes (JSON in the file attribute ``mlfastsim``)."""
        if self.n == 0:
            raise ValueError("no TPC windows were written")
        self.file.attrs[ATTRS_KEY] = json.dumps(jsonable(self.attrs))


@contextlib.contextmanager
def open_tpc_writer(path: str | os.PathLike[str], attrs: dict[str, Any] | None = None) -> Iterator[TPCWriter]:
    """A :class:`TPCWriter` on a temporary file that replaces ``path`` when the block succeeds."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        writer = TPCWriter(f, attrs)
        yield writer
        writer.finish()


def write_tpc_windows(path: str | os.PathLike[str], ev: TPCWindows) -> None:
    """Write ``ev`` atomically in the layout of the module docstring, with its attributes."""
    with open_tpc_writer(path, ev.attrs) as writer:
        writer.write(ev)


def read_tpc_windows(path: str | os.PathLike[str], max_events: int | None = None) -> TPCWindows:
    """Read a TPC window file (at most ``max_events`` segments); one-line InputError when it is not one."""
    path = Path(path)
    if detect_format(path) != "hdf5":
        raise InputError(f"{path}: TPC windows are read from HDF5 files (.h5), not Parquet")
    n = None if max_events is None else max(int(max_events), 0)
    try:
        with h5py.File(path, "r") as f:
            if _MARKER not in f:
                raise InputError(
                    f"{path}: no tpc/adc dataset; not a TPC window file ('mlfastsim generate tpc')"
                )
            arrays = {name: f[f"tpc/{name}"][:n] for name in _FIELDS}
            event_id = f["event_id"][:n] if "event_id" in f else np.arange(len(arrays["adc"]))
            raw = f.attrs.get(ATTRS_KEY)
    except OSError as exc:
        detail = " ".join(str(exc).split())
        raise InputError(
            f"{path}: unreadable HDF5 file (truncated or corrupt: {detail}); regenerate it"
        ) from None
    except KeyError as exc:
        raise InputError(f"{path}: incomplete TPC window file (missing {exc}); regenerate it") from None
    try:
        attrs = json.loads(raw) if raw is not None else {}
        return TPCWindows(**arrays, event_id=event_id, attrs=attrs)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: malformed TPC window file ({exc}); regenerate it") from None
