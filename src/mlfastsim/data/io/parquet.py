"""Jet images in Parquet: column ``X_jets`` (nested lists 3 × 125 × 125) plus scalars, any row-group size.

Our files add generator-level particles as list columns ``gen_<field>`` and the attributes as JSON in
the schema metadata (key ``mlfastsim``). Public files (CMS end-to-end) have one event per row group and
doubles; both are read the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlfastsim._utils import InputError, jsonable
from mlfastsim.data.io.layout import ATTRS_KEY, channels_first
from mlfastsim.data.schemas import JetImages
from mlfastsim.physics.detector.geometry import CHANNELS, IMAGE_SIZE
from mlfastsim.physics.particles import PARTICLE_DTYPE

__all__ = ["ParquetJetWriter", "iter_parquet"]

_SCALARS = ("pt", "m0", "y", "eta", "phi")
_BATCH_ROWS = 256


def _one_line(exc: BaseException) -> str:
    """Arrow's message on one line (its thrift errors span several)."""
    return " ".join(str(exc).split())


def _open(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path, page_checksum_verification=True)  # our files carry page CRCs
    except (pa.ArrowException, OSError) as exc:
        raise InputError(
            f"{path}: unreadable Parquet file (truncated or corrupt: {_one_line(exc)}); regenerate it"
        ) from None


def _nested_images(column: pa.ChunkedArray | pa.Array, path: Path) -> np.ndarray:
    """``[n, 3, 125, 125]`` float32 from a nested-list column, either layout, checking every list length."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(arr)
    dims = []
    level: pa.Array = arr
    for _ in range(3):
        if not (
            pa.types.is_list(level.type)
            or pa.types.is_large_list(level.type)
            or pa.types.is_fixed_size_list(level.type)
        ):
            raise InputError(f"{path}: column X_jets is not a 3-level nested list; expected 3 × 125 × 125")
        if pa.types.is_fixed_size_list(level.type):
            size = level.type.list_size
        elif len(level) == 0:
            size = 0
        else:
            bounds = pc.min_max(level.value_lengths())
            size = bounds["min"].as_py()
            if size != bounds["max"].as_py() or level.null_count:
                raise InputError(
                    f"{path}: X_jets has ragged or missing nested lists; every image must be 3 × 125 × 125"
                )
        dims.append(size)
        level = level.flatten()
    values = level.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    if n == 0:
        return np.zeros((0, len(CHANNELS), IMAGE_SIZE, IMAGE_SIZE), np.float32)
    shape = (n, *dims)
    first = channels_first(shape, f"{path}: X_jets")
    images = values.reshape(shape)
    return images if first else np.ascontiguousarray(images.transpose(0, 3, 1, 2))


def _gen_particles(table: pa.Table) -> list[np.ndarray] | None:
    fields: tuple[str, ...] = PARTICLE_DTYPE.names or ()
    names = [f"gen_{f}" for f in fields]
    if not all(name in table.column_names for name in names):
        return None
    first = table.column(names[0]).combine_chunks()
    offsets = first.offsets.to_numpy()
    offsets = offsets - offsets[0]
    flat = np.zeros(offsets[-1], dtype=PARTICLE_DTYPE)
    for field, name in zip(fields, names, strict=True):
        flat[field] = table.column(name).combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return [flat[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def _attrs(pf: pq.ParquetFile) -> dict[str, Any]:
    meta = pf.metadata.metadata or {}
    raw = meta.get(ATTRS_KEY.encode())
    return json.loads(raw) if raw else {}


def iter_parquet(path: Path, start: int = 0, stop: int | None = None) -> Iterator[JetImages]:
    """Jets ``start … stop-1`` of a Parquet file in batches of up to 256 rows."""
    pf = _open(path)
    columns = pf.schema_arrow.names
    if "X_jets" not in columns:
        raise InputError(
            f"{path}: no column 'X_jets' (columns: {', '.join(columns[:8])}); not a jet-image file"
        )
    attrs = _attrs(pf)
    n_total = pf.metadata.num_rows
    stop = n_total if stop is None else min(stop, n_total)
    row = 0
    try:
        for batch in pf.iter_batches(batch_size=_BATCH_ROWS):
            lo, hi = row, row + batch.num_rows
            row = hi
            if hi <= start:
                continue
            if lo >= stop:
                break
            table = pa.Table.from_batches([batch]).slice(max(start - lo, 0), min(hi, stop) - max(lo, start))
            yield _to_jets(table, attrs, path, max(start, lo))
    except (pa.ArrowException, OSError) as exc:
        raise InputError(
            f"{path}: unreadable Parquet data near row {row} (truncated or corrupt: {_one_line(exc)})"
        ) from None


def _to_jets(table: pa.Table, attrs: dict[str, Any], path: Path, first_row: int) -> JetImages:
    n = table.num_rows
    scalars = {}
    for name in _SCALARS:
        if name in table.column_names:
            scalars[name] = table.column(name).to_numpy().astype(np.float32)
        else:
            scalars[name] = np.full(n, np.nan, np.float32)
    return JetImages(
        images=_nested_images(table.column("X_jets"), path),
        gen=_gen_particles(table),
        attrs=attrs,
        event_id=table.column("event_id").to_numpy()
        if "event_id" in table.column_names
        else np.arange(first_row, first_row + n),
        **scalars,
    )


def _images_array(images: np.ndarray) -> pa.Array:
    n = len(images)
    flat = pa.array(np.ascontiguousarray(images, dtype=np.float32).reshape(-1))
    inner = pa.FixedSizeListArray.from_arrays(flat, IMAGE_SIZE)
    middle = pa.FixedSizeListArray.from_arrays(inner, IMAGE_SIZE)
    outer = pa.FixedSizeListArray.from_arrays(middle, len(CHANNELS))
    assert len(outer) == n
    return outer


def _gen_arrays(gen: list[np.ndarray]) -> dict[str, pa.Array]:
    offsets = np.zeros(len(gen) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(g) for g in gen])
    flat = np.concatenate(gen) if gen else np.zeros(0, PARTICLE_DTYPE)
    out = {}
    for field in PARTICLE_DTYPE.names or ():
        values = np.ascontiguousarray(flat[field])
        out[f"gen_{field}"] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))
    return out


class ParquetJetWriter:
    """Append batches of jets to a Parquet file; attributes are stored when the file is closed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: pq.ParquetWriter | None = None

    def write(self, jets: JetImages) -> None:
        columns: dict[str, pa.Array] = {"X_jets": _images_array(jets.images)}
        for name in _SCALARS:
            columns[name] = pa.array(getattr(jets, name).astype(np.float32))
        columns["event_id"] = pa.array(jets.event_id.astype(np.int64))
        if jets.gen is not None:
            columns.update(_gen_arrays(jets.gen))
        table = pa.table(columns)
        if self._writer is None:
            self._writer = pq.ParquetWriter(
                self.path, table.schema, compression="zstd", write_page_checksum=True
            )
        elif table.schema != self._writer.schema:
            raise ValueError(
                "every batch written to one file must have the same columns (gen particles or not)"
            )
        self._writer.write_table(table)

    def close(self, attrs: dict[str, Any]) -> None:
        if self._writer is None:  # no jets: an empty file with the right columns
            empty = JetImages(
                np.zeros((0, len(CHANNELS), IMAGE_SIZE, IMAGE_SIZE), np.float32),
                np.zeros(0),
                np.zeros(0),
                np.zeros(0),
            )
            self.write(empty)
        assert self._writer is not None
        self._writer.add_key_value_metadata({ATTRS_KEY: json.dumps(jsonable(attrs))})
        self._writer.close()

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
