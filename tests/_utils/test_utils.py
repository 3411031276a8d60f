"""Tests of seeding, atomic writes and JSON-ready values."""

import json
from pathlib import Path

import numpy as np
import pytest

from mlfastsim._utils import atomic_path, jsonable, make_rng, shard_seed


def test_shard_seeds_are_distinct_and_reproducible() -> None:
    seeds = [shard_seed(7, i, 8) for i in range(8)]
    assert len(set(seeds)) == 8
    assert seeds == [shard_seed(7, i, 8) for i in range(8)]
    assert shard_seed(7, 0, 8, "pythia") != shard_seed(7, 0, 8, "detector")
    assert all(1 <= s <= 900_000_000 for s in seeds)
    with pytest.raises(ValueError):
        shard_seed(7, 8, 8)


def test_make_rng_reproducible() -> None:
    assert make_rng(3).normal() == make_rng(3).normal()


def test_atomic_path_leaves_nothing_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert np.array_equal(sorted(p.name for p in tmp_path.iterdir()), ["out.bin"])


def test_atomic_writes_get_the_usual_permissions(tmp_path: Path) -> None:
    import os
    import stat

    from mlfastsim._utils import atomic_write_text

    target = tmp_path / "x.txt"
    atomic_write_text(target, "hello")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_jsonable_makes_numpy_scalars_python_numbers_and_nonfinite_strings() -> None:
    value = {"loss": np.float32(0.5), "n": (np.int64(3), np.array(2.5)), 4: np.float64("inf"), "s": "x"}
    out = jsonable(value)
    assert out == {"loss": 0.5, "n": [3, 2.5], "4": "inf", "s": "x"}
    assert type(out["loss"]) is float and type(out["n"][0]) is int and type(out["n"][1]) is float
    assert json.loads(json.dumps(out, allow_nan=False)) == out
