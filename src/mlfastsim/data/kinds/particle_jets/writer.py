"""The writer of our two-level particle-jet HDF5 layout (described in :mod:`.io`): atomic, batched,
every dataset chunked with Fletcher-32 checksums, the particle arrays gzip-compressed."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

import h5py
import numpy as np

from mlfastsim._utils import atomic_path, jsonable
from mlfastsim.data.io.layout import ATTRS_KEY
from mlfastsim.data.kinds.particle_jets.container import JET_FEATURES, PARTICLE_FEATURES, ParticleJets
from mlfastsim.physics.particles import PARTICLE_DTYPE

__all__ = ["ParticleJetWriter", "open_particle_jet_writer", "write_particle_jets"]

_AXIS_NAMES = ("eta", "phi")


class ParticleJetWriter:
    """Appends batches of :class:`ParticleJets` (same levels, P and regions in each) to an open HDF5 file;
    :meth:`finish` stores ``attrs``. Use :func:`open_particle_jet_writer` (atomic)."""

    def __init__(self, file: h5py.File, attrs: dict[str, Any] | None = None) -> None:
        self.file, self.attrs = file, dict(attrs or {})
        self.n = 0
        self._signature: tuple[Any, ...] | None = None
        self._n_region_particles = 0

    def _append(
        self, name: str, values: np.ndarray, rows: int, gzip: bool = False, names: Any = None
    ) -> None:
        if name not in self.file:
            extra = values.shape[1:]
            self.file.create_dataset(
                name, shape=(0, *extra), maxshape=(None, *extra), dtype=values.dtype,
                chunks=(max(1, rows), *extra), fletcher32=True, shuffle=gzip,
                compression="gzip" if gzip else None, compression_opts=4 if gzip else None,
            )  # fmt: skip
            if names is not None:
                self.file[name].attrs["feature_names"] = list(names)
        ds = self.file[name]
        old = ds.shape[0]
        ds.resize(old + len(values), axis=0)
        ds[old:] = values

    def write(self, jets: ParticleJets) -> None:
        """Append ``jets`` (levels, P, regions and axis as in the first batch; ValueError otherwise)."""
        signature = (jets.levels, jets.n_particles, jets.regions is not None, jets.gen_axis is not None)
        if self._signature is not None and signature != self._signature:
            raise ValueError(f"batch {signature} differs from the first batch {self._signature}")
        self._signature = signature
        rows = max(1, min(256, 2**20 // (16 * jets.n_particles)))
        for level in jets.levels:
            self._append(f"{level}/particle_features", jets.particles(level), rows, True, PARTICLE_FEATURES)
            self._append(f"{level}/jet_features", jets.jets(level), 4096, names=JET_FEATURES)
        self._append("y", jets.y, 4096)
        self._append("event_id", jets.event_id, 4096)
        if jets.gen_axis is not None:
            self._append("gen_axis", jets.gen_axis, 4096, names=_AXIS_NAMES)
        if jets.regions is not None:
            if "regions/offsets" not in self.file:
                self._append("regions/offsets", np.zeros(1, np.int64), 4096)
            ends = np.cumsum([len(r) for r in jets.regions], dtype=np.int64) + self._n_region_particles
            self._append("regions/offsets", ends, 4096)
            flat = np.concatenate(jets.regions) if jets.regions else np.zeros(0, PARTICLE_DTYPE)
            self._append("regions/particles", flat.astype(PARTICLE_DTYPE), 8192, True)
            self._n_region_particles = int(ends[-1]) if len(ends) else self._n_region_particles
        self.n += len(jets)

    def finish(self) -> None:
        """Store the attributes (JSON in the file attribute ``mlfastsim``)."""
        if self._signature is None:
            raise ValueError("no jets were written")
        self.file.attrs[ATTRS_KEY] = json.dumps(jsonable(self.attrs))


@contextlib.contextmanager
def open_particle_jet_writer(
    path: str | os.PathLike[str], attrs: dict[str, Any] | None = None
) -> Iterator[ParticleJetWriter]:
    """A :class:`ParticleJetWriter` on a temporary file that replaces ``path`` when the block succeeds
    (an exception leaves an existing ``path`` untouched). Update ``writer.attrs`` inside the block."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        writer = ParticleJetWriter(f, attrs)
        yield writer
        writer.finish()


def write_particle_jets(path: str | os.PathLike[str], jets: ParticleJets) -> None:
    """Write ``jets`` atomically in our layout (module docstring), with their attributes."""
    with open_particle_jet_writer(path, jets.attrs) as writer:
        writer.write(jets)
