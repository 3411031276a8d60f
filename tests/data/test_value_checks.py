"""Bad values in files are refused at the door (issue 13, point 4), for every data kind: NaN, ±inf and negative
energies with the event index; and the files we write carry checksums, so a corrupted chunk is detected."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest

from mlfastsim._utils import InputError
from mlfastsim.data.checks import DeclaresValueChecks
from mlfastsim.data.kinds import KINDS, check_events, read_events

KIND_NAMES = list(KINDS)


def _float_fields(ev: Any) -> list[str]:
    n = len(ev)
    return [
        f.name
        for f in dataclasses.fields(ev)
        if isinstance(getattr(ev, f.name), np.ndarray)
        and getattr(ev, f.name).dtype.kind == "f"
        and getattr(ev, f.name).ndim
        and len(getattr(ev, f.name)) == n
    ]


def _first_strict_field(ev: Any) -> str:
    """A floating field where NaN is not a missing-value marker."""
    rules = ev.value_checks if isinstance(ev, DeclaresValueChecks) else {}
    return next(name for name in _float_fields(ev) if not (name in rules and rules[name].nan_ok))


@pytest.mark.parametrize("kind_name", KIND_NAMES)
def test_examples_pass_and_nan_or_inf_is_refused_with_the_event_index(kind_name: str, tmp_path: Path) -> None:
    kind = KINDS[kind_name]
    ev = kind.example(12, seed=1)
    check_events(ev, "example")
    field = _first_strict_field(ev)
    for bad in (np.nan, np.inf, -np.inf):
        broken = kind.example(12, seed=1)
        getattr(broken, field).reshape(12, -1)[7, 0] = bad
        path = tmp_path / f"bad{kind.default_suffix}"
        kind.write(path, broken)
        with pytest.raises(InputError) as info:
            read_events(kind, path)
        message = str(info.value)
        assert "\n" not in message and "event 7" in message and field in message and str(path) in message
        assert f"event 7 (event_id {int(broken.event_id[7])})" in message  # the event named by its id too


@pytest.mark.parametrize(
    ("kind_name", "field", "column"),
    [
        ("jet-images", "images", None),
        ("particle-jets", "reco", 2),
        ("pid", "p", None),
        ("showers", "response", None),
        ("tpc", "adc", None),
    ],
)
def test_negative_energies_are_refused(
    kind_name: str, field: str, column: int | None, tmp_path: Path
) -> None:
    kind = KINDS[kind_name]
    ev = kind.example(12, seed=1)
    values = getattr(ev, field)
    if column is None:
        values.reshape(12, -1)[4, :] = -1.0
    else:
        values[4, 0, column] = -1.0
    path = tmp_path / f"neg{kind.default_suffix}"
    kind.write(path, ev)
    with pytest.raises(InputError, match=rf"event 4 .*{field}.* negative values"):
        read_events(kind, path)


def test_missing_values_marked_by_nan_pass(tmp_path: Path) -> None:
    """Public jet-image files have no jet axis (NaN): not an error."""
    ev = KINDS["jet-images"].example(6, seed=1)
    ev.eta[:] = np.nan
    check_events(ev, "public-like")


def _corrupt_hdf5_chunk(path: Path) -> str:
    """Overwrite bytes in the middle of the largest stored chunk; returns the dataset's name."""
    best: tuple[int, int, str] = (0, 0, "")
    with h5py.File(path, "r") as f:

        def visit(name: str, obj: Any) -> None:
            nonlocal best
            if isinstance(obj, h5py.Dataset) and obj.chunks is not None and obj.id.get_num_chunks():
                info = obj.id.get_chunk_info(0)
                if info.size > best[1]:
                    best = (info.byte_offset, info.size, name)

        f.visititems(visit)
    offset, size, name = best
    assert size > 16, "no chunked dataset to corrupt"
    raw = bytearray(path.read_bytes())
    middle = offset + size // 2
    raw[middle : middle + 8] = bytes(
        b ^ 0x5A for b in raw[middle : middle + 8]
    )  # not 0xFF: Fletcher-32 misses it
    path.write_bytes(bytes(raw))
    return name


@pytest.mark.parametrize("kind_name", KIND_NAMES)
def test_a_corrupted_hdf5_chunk_is_detected(kind_name: str, tmp_path: Path) -> None:
    kind = KINDS[kind_name]
    path = tmp_path / "data.h5"
    kind.write(path, kind.example(24, seed=1))
    name = _corrupt_hdf5_chunk(path)
    with pytest.raises(InputError) as info:
        read_events(kind, path)
    assert "corrupt" in str(info.value) and "\n" not in str(info.value), name


def test_a_corrupted_parquet_page_is_detected(tmp_path: Path) -> None:
    kind = KINDS["jet-images"]
    path = tmp_path / "data.parquet"
    kind.write(path, kind.example(24, seed=1))
    meta = pq.ParquetFile(path).metadata.row_group(0).column(0)
    raw = bytearray(path.read_bytes())
    middle = meta.data_page_offset + meta.total_compressed_size // 2
    raw[middle : middle + 8] = bytes(
        b ^ 0x5A for b in raw[middle : middle + 8]
    )  # not 0xFF: Fletcher-32 misses it
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="corrupt"):
        read_events(kind, path)


@pytest.mark.parametrize("kind_name", KIND_NAMES)
def test_quantities_unknown_in_every_event_pass_but_one_nan_among_values_does_not(kind_name: str) -> None:
    """Prior samples carry NaN kinematics for every event (unknown): allowed; a single NaN is corruption."""
    kind = KINDS[kind_name]
    probe = kind.example(10, seed=1)
    rules = probe.value_checks if isinstance(probe, DeclaresValueChecks) else {}
    field = next(
        name
        for name in _float_fields(probe)
        if getattr(probe, name).ndim <= 2 and not (name in rules and rules[name].nan_ok)
    )
    for rows in (slice(None), 3):
        ev = kind.example(10, seed=1)
        values = getattr(ev, field)
        (values if values.ndim == 1 else values[:, 0])[rows] = np.nan
        if rows == 3:
            with pytest.raises(InputError, match="event 3"):
                check_events(ev, "corrupt")
        else:
            check_events(ev, "prior-like")
