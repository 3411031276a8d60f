"""ROOT files for every kind (generated from the registry): written through uproot, read back as a TTree with
variable-length branches for particles and hits, equal array by array, with the provenance."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from mlfastsim._utils import InputError, jsonable
from mlfastsim.cli.main import main
from mlfastsim.data.io.root import write_root
from mlfastsim.data.kinds import KINDS, kind_of

uproot = pytest.importorskip("uproot")


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_round_trips_through_a_root_ttree(tmp_path: Path, name: str) -> None:
    kind = KINDS[name]
    events = kind.example(6, seed=2)
    events.attrs["wall_time_per_event_s"] = {"detector": 0.25}
    path = tmp_path / "events.root"
    kind.write(path, events)
    assert kind_of(path).name == name
    back = kind.read(path)
    assert type(back) is type(events) and len(back) == 6
    for field in dataclasses.fields(events):
        ours, theirs = getattr(events, field.name), getattr(back, field.name)
        if field.name == "attrs":
            assert theirs == jsonable(ours)
        elif isinstance(ours, list):
            assert all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))
        elif ours is None:
            assert theirs is None
        else:
            assert theirs.dtype == ours.dtype and np.array_equal(theirs, ours, equal_nan=True), field.name
    assert len(kind.read(path, max_events=4)) == 4
    with uproot.open(path) as f:  # what a ROOT user sees
        tree = f["events"]
        assert tree.num_entries == 6 and tree.title == f"mlfastsim {name} events"
        meta = json.loads(str(f["mlfastsim"]))
        assert meta["kind"] == name and meta["attrs"]["wall_time_per_event_s"] == {"detector": 0.25}
        assert np.array_equal(tree["event_id"].array(library="np"), events.event_id)
        hits = {"jet-images": "images", "showers": "response", "tpc": "adc"}  # mostly-zero cells: hits
        assert name not in hits or "sparse" in meta["layout"][hits[name]]
        particles = {"jet-images": "gen", "particle-jets": "regions"}
        assert name not in particles or "jagged" in meta["layout"][particles[name]]
        for field, spec in meta["layout"].items():
            value = getattr(events, field)
            if "jagged" in spec:  # particles: one entry per particle, counted by n<field>
                counts = tree[f"n{field}"].array(library="np")
                assert counts.tolist() == [len(v) for v in value]
                pt = tree[f"{field}_pt"].array(library="np")
                assert np.array_equal(np.concatenate(list(pt)), np.concatenate([v["pt"] for v in value]))
            elif "sparse" in spec:  # hits: the non-zero cells
                counts = tree[f"n{field}"].array(library="np")
                assert counts.tolist() == [int((v != 0).sum()) for v in value]
    summary = kind.inspect(path)
    assert summary["format"] == "root" and summary["path"] == str(path) and summary["n_events"] == 6


def test_generate_and_resimulate_write_root_with_provenance(tmp_path: Path) -> None:
    out, again = tmp_path / "pid.root", tmp_path / "pid-resim.root"
    assert main(["generate", "tpc", "--events", "8", "--out", str(out)]) == 0
    assert main(["generate", "tpc", "--resimulate", str(out), "--out", str(again), "--seed", "5"]) == 0
    first, second = KINDS["tpc"].read(out), KINDS["tpc"].read(again)
    assert first.attrs["producer"] == "mlfastsim generate tpc" and first.attrs["config"]["n_events"] == 8
    assert "resimulated_from" in second.attrs["config"]
    assert np.array_equal(first.event_id, second.event_id) and np.array_equal(
        first.conditions, second.conditions
    )
    assert not np.array_equal(first.adc, second.adc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pid-resim.root", "pid.root"]  # no temporary left


def test_a_damaged_or_foreign_root_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.root"
    KINDS["pid"].write(good, KINDS["pid"].example(5, seed=1))
    cut = tmp_path / "cut.root"
    cut.write_bytes(good.read_bytes()[:400])
    foreign = tmp_path / "foreign.root"
    with uproot.recreate(foreign) as f:
        f["tree"] = {"x": np.arange(3)}
    for path in (cut, foreign):
        assert main(["inspect", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert str(path) in err and "\n" not in err, err
    with pytest.raises(InputError, match=r"suffix \.root"):
        write_root(tmp_path / "x.h5", KINDS["pid"].example(2, seed=1), "pid")
