"""``mlfastsim merge``: shard files of every kind into one, checked disjoint and complete (ids shard·2³²+index)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlfastsim.cli.main import main
from mlfastsim.data.kinds import KINDS


def _shards(tmp: Path, name: str, sizes: tuple[int, ...]) -> list[Path]:
    """Shard files of kind ``name`` as a job array of ``len(sizes)`` jobs writes them."""
    kind, paths = KINDS[name], []
    for i, n in enumerate(sizes):
        events = kind.example(n, seed=10 + i)
        events.event_id = (i << 32) + np.arange(n, dtype=np.int64)
        events.attrs = {
            "config": {"shard": f"{i}/{len(sizes)}"},
            "wall_time_per_event_s": {"detector": 1.0 + i},
        }
        paths.append(tmp / f"{name}-{i}{kind.default_suffix}")
        kind.write(paths[-1], events)
    return paths


@pytest.mark.parametrize("name", sorted(KINDS))
def test_merge_joins_every_kinds_shards_in_shard_order(tmp_path: Path, name: str) -> None:
    paths = _shards(tmp_path, name, (3, 2, 4))
    out = tmp_path / f"merged{KINDS[name].default_suffix}"
    assert main(["merge", str(paths[2]), str(paths[0]), str(paths[1]), "--out", str(out)]) == 0
    merged = KINDS[name].read(out)
    ids = np.concatenate([(i << 32) + np.arange(n) for i, n in enumerate((3, 2, 4))])
    assert np.array_equal(merged.event_id, ids)
    assert merged.attrs["producer"] == "mlfastsim merge" and merged.attrs["config"]["n_shards"] == 3
    assert merged.attrs["wall_time_per_event_s"]["detector"] == pytest.approx((3 * 1 + 2 * 2 + 4 * 3) / 9)
    first = KINDS[name].read(paths[0])
    again = merged.subset(np.arange(3))
    for field in ("event_id",):
        assert np.array_equal(getattr(again, field), getattr(first, field))


def test_merge_refuses_missing_repeated_and_incomplete_shards(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _shards(tmp_path, "pid", (3, 2, 4))
    out = str(tmp_path / "merged.h5")
    cases = [
        ([paths[0], paths[2]], "shards [1] of 3 are missing"),
        ([paths[0], paths[1], paths[1], paths[2]], "shard 1 again"),
        ([*paths, "--shards", "4"], "shards [3] of 4 are missing"),
    ]
    kind = KINDS["pid"]
    gap = kind.read(paths[1]).subset(np.array([0]))  # shard 1 lost an event
    gap.event_id = np.array([(1 << 32) + 1])
    kind.write(tmp_path / "gap.h5", gap)
    cases.append(([paths[0], tmp_path / "gap.h5", paths[2]], "shard 1 is not complete"))
    prior = kind.read(paths[0])
    prior.event_id = np.full(len(prior), -1)
    kind.write(tmp_path / "prior.h5", prior)
    cases.append(([tmp_path / "prior.h5"], "without generation ids"))
    cases.append(([paths[0], _shards(tmp_path, "tpc", (2,))[0]], "merge one kind"))
    for files, message in cases:
        assert main(["merge", *map(str, files), "--out", out]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
        assert not Path(out).exists()


def test_generated_shards_merge_into_the_unsharded_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real job-array path: 'generate tpc --shard i/2' twice, then merge."""
    paths = []
    for i in range(2):
        paths.append(str(tmp_path / f"tpc-{i}.h5"))
        assert main(["generate", "tpc", "--events", "5", "--shard", f"{i}/2", "--out", paths[-1]]) == 0
    out = tmp_path / "tpc.h5"
    capsys.readouterr()
    assert main(["merge", *paths, "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["n_events"] == 10
    merged = KINDS["tpc"].read(out)
    assert np.array_equal(merged.event_id, np.concatenate([np.arange(5), (1 << 32) + np.arange(5)]))
    assert main(["merge", paths[0], "--out", str(tmp_path / "one.h5")]) == 2  # shard 1 of 2 missing
