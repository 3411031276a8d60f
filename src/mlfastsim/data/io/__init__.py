"""Read and write jet-image files (Parquet and HDF5, the CMS end-to-end conventions), atomically.

The reader detects the format from the file's first bytes and the layout (channels-first or -last)
from the shapes, checks the channel order (tracks pT, ECAL, HCAL) on the data, and turns every
problem with a file into one :class:`~mlfastsim._utils.InputError` line naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from mlfastsim._utils import InputError, atomic_path
from mlfastsim.data.io.hdf5 import HDF5JetWriter, iter_hdf5
from mlfastsim.data.io.inspect import inspect_file
from mlfastsim.data.io.layout import check_channel_order, detect_format, format_for_suffix
from mlfastsim.data.io.parquet import ParquetJetWriter, iter_parquet
from mlfastsim.data.schemas import JetImages

__all__ = [
    "JetImageWriter",
    "detect_format",
    "inspect_file",
    "iter_jet_images",
    "read_jet_images",
    "write_jet_images",
]


def iter_jet_images(
    path: str | os.PathLike[str], start: int = 0, stop: int | None = None
) -> Iterator[JetImages]:
    """Jets ``start … stop-1`` of a jet-image file, in batches (≤ 256 jets), channel order checked on the first."""
    path = Path(path)
    fmt = detect_format(path)
    batches = iter_parquet(path, start, stop) if fmt == "parquet" else iter_hdf5(path, start, stop)
    checked = False
    for batch in batches:
        if not checked and len(batch):
            check_channel_order(batch.images[:64], str(path))
            checked = True
        yield batch


def read_jet_images(path: str | os.PathLike[str], max_events: int | None = None, start: int = 0) -> JetImages:
    """Read a whole jet-image file (or ``max_events`` jets from ``start``) into memory.

    Returns:
        :class:`JetImages` with images float32 ``[N, 3, 125, 125]`` (GeV), scalars, generator-level
        particles when stored, and the file's attributes.
    """
    if max_events is not None and max_events <= 0:
        raise InputError(f"max_events must be positive, got {max_events}")
    stop = None if max_events is None else start + max_events
    batches = list(iter_jet_images(path, start, stop))
    if not batches:
        raise InputError(f"{path}: no jets (from event {start}); the file is empty or shorter than that")
    gen = None
    if all(b.gen is not None for b in batches):
        gen = [g for b in batches for g in (b.gen or [])]
    return JetImages(
        images=np.concatenate([b.images for b in batches]),
        pt=np.concatenate([b.pt for b in batches]),
        m0=np.concatenate([b.m0 for b in batches]),
        y=np.concatenate([b.y for b in batches]),
        eta=np.concatenate([b.eta for b in batches if b.eta is not None]),
        phi=np.concatenate([b.phi for b in batches if b.phi is not None]),
        gen=gen,
        attrs=batches[0].attrs,
        event_id=np.concatenate([b.event_id for b in batches]),
    )


class JetImageWriter:
    """Stream batches of jets into a file that appears only when complete (atomic rename on close).

    Use as a context manager; ``attrs`` (a dict, updatable until close) is stored with the file. On any
    exception (Ctrl-C included) the partial file is removed and an existing target is left untouched.

    Args:
        path: target file.
        fmt: "parquet" or "hdf5"; None infers from the suffix.
        attrs: attributes (JSON types) to store.
    """

    def __init__(
        self, path: str | os.PathLike[str], fmt: str | None = None, attrs: dict[str, Any] | None = None
    ):
        self.path = Path(path)
        self.fmt = format_for_suffix(self.path, fmt)
        self.attrs: dict[str, Any] = attrs if attrs is not None else {}
        self._atomic = atomic_path(self.path)
        self._writer: ParquetJetWriter | HDF5JetWriter | None = None

    def __enter__(self) -> JetImageWriter:
        tmp = self._atomic.__enter__()
        self._writer = ParquetJetWriter(tmp) if self.fmt == "parquet" else HDF5JetWriter(tmp)
        return self

    def write(self, jets: JetImages) -> None:
        """Append a batch of jets."""
        assert self._writer is not None, "use JetImageWriter as a context manager"
        self._writer.write(jets)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        assert self._writer is not None
        if exc_type is None:
            try:
                self._writer.close(self.attrs)
            except BaseException as error:
                self._atomic.__exit__(type(error), error, error.__traceback__)
                raise
        else:
            self._writer.abort()
        return bool(self._atomic.__exit__(exc_type, exc, tb))


def write_jet_images(
    path: str | os.PathLike[str], jets: JetImages, fmt: str | None = None, batch_size: int = 256
) -> None:
    """Write ``jets`` (with ``jets.attrs``) atomically to ``path`` (.parquet or .h5/.hdf5, or ``fmt``)."""
    with JetImageWriter(path, fmt, dict(jets.attrs)) as writer:
        for start in range(0, len(jets), batch_size):
            writer.write(jets.subset(slice(start, start + batch_size)))
        if len(jets) == 0:
            writer.write(jets)
