"""PID-table files (HDF5), written atomically, read with one clear line for every problem.

Layout::

    inputs/p         float32 [N]     momentum [GeV/c]
    inputs/eta       float32 [N]
    inputs/n_tracks  int32   [N]     tracks of the track's event
    inputs/charge    int8    [N]     ±1
    inputs/species   int8    [N]     index into (e, mu, pi, K, p); attribute ``names``
    outputs/dll      float32 [N, 5]  (dll_e, dll_mu, dll_K, dll_p, dll_bt); attribute ``names``
    weight           float32 [N]     per-track weight (sWeights may be negative)
    event_id         int64   [N]     track identity (shard · 2³² + row)
    collision        int64   [N]     pp collision of the track
    file attribute ``mlfastsim``: provenance as JSON (producer, config, seed, version, wall time per track)

every dataset chunked with Fletcher-32 checksums.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from mlfastsim._utils import InputError, atomic_path, jsonable
from mlfastsim.data.io.layout import ATTRS_KEY, detect_format
from mlfastsim.data.kinds.pid.container import DLL_NAMES, SPECIES, PIDTable

__all__ = ["read_pid", "sniff_pid", "write_pid"]

_INPUTS = {"p": "f4", "eta": "f4", "n_tracks": "i4", "charge": "i1", "species": "i1"}
_CHUNK = 65_536


def sniff_pid(path: Path) -> bool:
    """HDF5 with ``inputs/species`` and ``outputs/dll``."""
    try:
        if detect_format(path) != "hdf5":
            return False
        with h5py.File(path, "r") as f:
            return "inputs/species" in f and "outputs/dll" in f
    except (OSError, InputError):
        return False


def write_pid(path: str | os.PathLike[str], table: PIDTable) -> None:
    """Write ``table`` (with its attributes) atomically in the layout above (``.h5`` / ``.hdf5``)."""
    path = Path(path)
    if path.suffix.lower() not in (".h5", ".hdf5"):
        raise InputError(f"{path}: PID tables are written as HDF5; use the suffix .h5 or .hdf5")

    def put(f: h5py.File, name: str, values: np.ndarray, dtype: Any) -> h5py.Dataset:
        chunks = (max(1, min(_CHUNK, len(values))), *values.shape[1:])
        return f.create_dataset(name, data=values.astype(dtype), chunks=chunks, fletcher32=True)

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for name, dtype in _INPUTS.items():
            put(f, f"inputs/{name}", getattr(table, name), dtype)
        f["inputs/species"].attrs["names"] = list(SPECIES)
        put(f, "outputs/dll", table.dll, "f4").attrs["names"] = list(DLL_NAMES)
        put(f, "weight", table.weight, "f4")
        put(f, "event_id", table.event_id, "i8")
        put(f, "collision", table.collision, "i8")
        f.attrs[ATTRS_KEY] = json.dumps(jsonable(table.attrs))


def read_pid(path: str | os.PathLike[str], max_events: int | None = None) -> PIDTable:
    """Read a PID table (the first ``max_events`` tracks when given)."""
    path = Path(path)
    if max_events is not None and max_events <= 0:
        raise InputError(f"max_events must be positive, got {max_events}")
    detect_format(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(
            f"{path}: unreadable HDF5 file (truncated or corrupt: {exc}); regenerate it"
        ) from None
    with f:
        missing = [k for k in (*(f"inputs/{n}" for n in _INPUTS), "outputs/dll") if k not in f]
        if missing:
            raise InputError(f"{path}: no dataset {missing[0]!r}; not a PID table ('mlfastsim generate pid')")
        names = [str(n) for n in f["outputs/dll"].attrs.get("names", DLL_NAMES)]
        if tuple(names) != DLL_NAMES:
            raise InputError(f"{path}: DLL columns {names}, expected {list(DLL_NAMES)}")
        sl = slice(0, max_events)
        try:
            columns = {name: f[f"inputs/{name}"][sl] for name in _INPUTS}
            optional = {k: f[k][sl] for k in ("weight", "event_id", "collision") if k in f}
            dll = f["outputs/dll"][sl]
        except (OSError, KeyError) as exc:
            raise InputError(
                f"{path}: unreadable data (truncated or corrupt: {exc}); regenerate it"
            ) from None
        raw = f.attrs.get(ATTRS_KEY)
    if len(dll) == 0:
        raise InputError(f"{path}: no tracks; the file is empty")
    try:
        return PIDTable(**columns, dll=dll, **optional, attrs=json.loads(raw) if raw else {})
    except ValueError as exc:
        raise InputError(f"{path}: inconsistent PID table ({exc})") from None
