"""Jet images in HDF5: ``X_jets [N, 125, 125, 3]`` channels-last plus ``pt``, ``m0``, ``y`` (public convention).

Our files add ``eta``, ``phi``, the generator-level particles (``gen_particles``, a structured array of all
jets' particles, and ``gen_offsets [N+1]``) and the attributes as JSON in the file attribute ``mlfastsim``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from mlfastsim._utils import InputError, jsonable
from mlfastsim.data.io.layout import ATTRS_KEY, channels_first
from mlfastsim.data.schemas import JetImages
from mlfastsim.physics.detector.geometry import CHANNELS, IMAGE_SIZE
from mlfastsim.physics.particles import PARTICLE_DTYPE

__all__ = ["HDF5JetWriter", "iter_hdf5"]

_SCALARS = ("pt", "m0", "y", "eta", "phi")
_BATCH_ROWS = 256


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise InputError(
            f"{path}: unreadable HDF5 file (truncated or corrupt: {exc}); regenerate it"
        ) from None


def iter_hdf5(path: Path, start: int = 0, stop: int | None = None) -> Iterator[JetImages]:
    """Jets ``start … stop-1`` of an HDF5 file in batches of up to 256."""
    with _open(path) as f:
        if "X_jets" not in f:
            raise InputError(
                f"{path}: no dataset 'X_jets' (has: {', '.join(list(f)[:8])}); not a jet-image file"
            )
        images = f["X_jets"]
        first = channels_first(images.shape, f"{path}: X_jets")
        n_total = images.shape[0]
        stop = n_total if stop is None else min(stop, n_total)
        raw = f.attrs.get(ATTRS_KEY)
        attrs: dict[str, Any] = json.loads(raw) if raw else {}
        has_gen = "gen_particles" in f and "gen_offsets" in f
        try:
            offsets = f["gen_offsets"][...] if has_gen else None
        except OSError as exc:  # a failed checksum, a truncated file
            raise InputError(
                f"{path}: unreadable data in gen_offsets (truncated or corrupt: {' '.join(str(exc).split())})"
            ) from None
        for lo in range(start, stop, _BATCH_ROWS):
            hi = min(lo + _BATCH_ROWS, stop)
            try:
                block = images[lo:hi].astype(np.float32, copy=False)
                scalars = {
                    name: f[name][lo:hi].astype(np.float32)
                    if name in f
                    else np.full(hi - lo, np.nan, np.float32)
                    for name in _SCALARS
                }
                ids = f["event_id"][lo:hi] if "event_id" in f else np.arange(lo, hi)
                gen = None
                if offsets is not None:
                    flat = f["gen_particles"][offsets[lo] : offsets[hi]].astype(PARTICLE_DTYPE)
                    rel = offsets[lo : hi + 1] - offsets[lo]
                    gen = [flat[rel[i] : rel[i + 1]] for i in range(hi - lo)]
            except (OSError, KeyError) as exc:
                raise InputError(
                    f"{path}: unreadable data in events {lo}–{hi} (truncated or corrupt: {exc})"
                ) from None
            if not first:
                block = np.ascontiguousarray(block.transpose(0, 3, 1, 2))
            yield JetImages(images=block, gen=gen, attrs=attrs, event_id=ids, **scalars)


class HDF5JetWriter:
    """Append batches of jets to an HDF5 file (channels-last, chunked one event per chunk, gzip), every
    dataset with Fletcher-32 checksums (a corrupted chunk fails to read instead of giving other numbers)."""

    def __init__(self, path: Path) -> None:
        self.file = h5py.File(path, "w")
        s, c = IMAGE_SIZE, len(CHANNELS)
        self.file.create_dataset(
            "X_jets",
            shape=(0, s, s, c),
            maxshape=(None, s, s, c),
            dtype="f4",
            chunks=(1, s, s, c),
            compression="gzip",
            compression_opts=4,
            shuffle=True,
            fletcher32=True,
        )
        for name in _SCALARS:
            self.file.create_dataset(
                name, shape=(0,), maxshape=(None,), dtype="f4", chunks=(1024,), fletcher32=True
            )
        self.n = 0
        self.n_particles = 0
        self.has_gen: bool | None = None

    def _append(self, name: str, values: np.ndarray, dtype: Any = None) -> None:
        if name not in self.file:
            self.file.create_dataset(
                name,
                shape=(0, *values.shape[1:]),
                maxshape=(None, *values.shape[1:]),
                dtype=dtype or values.dtype,
                chunks=(4096, *values.shape[1:]),
                fletcher32=True,
            )
        ds = self.file[name]
        old = ds.shape[0]
        ds.resize(old + len(values), axis=0)
        ds[old:] = values

    def write(self, jets: JetImages) -> None:
        has_gen = jets.gen is not None
        if self.has_gen is not None and has_gen != self.has_gen:
            raise ValueError("every batch written to one file must have gen particles, or none")
        self.has_gen = has_gen
        self._append("X_jets", jets.images.transpose(0, 2, 3, 1))
        for name in _SCALARS:
            self._append(name, getattr(jets, name))
        self._append("event_id", jets.event_id.astype(np.int64))
        if jets.gen is not None:
            if "gen_offsets" not in self.file:
                self._append("gen_offsets", np.zeros(1, np.int64))
            counts = np.cumsum([len(g) for g in jets.gen]) + self.n_particles
            self._append("gen_offsets", counts.astype(np.int64))
            flat = np.concatenate(jets.gen) if jets.gen else np.zeros(0, PARTICLE_DTYPE)
            self._append("gen_particles", flat.astype(PARTICLE_DTYPE), PARTICLE_DTYPE)
            self.n_particles = int(counts[-1]) if len(counts) else self.n_particles
        self.n += len(jets)

    def close(self, attrs: dict[str, Any]) -> None:
        self.file.attrs[ATTRS_KEY] = json.dumps(jsonable(attrs))
        self.file.attrs["channels"] = json.dumps(list(CHANNELS))
        self.file.close()

    def abort(self) -> None:
        self.file.close()
