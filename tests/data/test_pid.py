"""The ``pid`` kind: the PID table, its HDF5 files, the quantile-transform codec (ties, JSON state), selection,
inspection, and ``mlfastsim generate pid`` with its resimulation."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from mlfastsim._utils import InputError
from mlfastsim.cli.main import main
from mlfastsim.data.kinds import KINDS, DataKind, kind_of
from mlfastsim.data.kinds.pid import SPECIES, PIDData, PIDTable, concatenate_pid
from mlfastsim.data.kinds.pid.codec import from_basis, to_basis

KIND = KINDS["pid"]


@pytest.fixture(scope="module")
def table() -> PIDTable:
    return KIND.example(4000, seed=3)


def test_example_is_reproducible_and_physical(table: PIDTable) -> None:
    assert isinstance(KIND, DataKind) and KIND.name == "pid"
    again = KIND.example(4000, seed=3)
    np.testing.assert_array_equal(table.dll, again.dll)
    assert table.has_dll and (table.p > 3).all() and set(np.unique(table.species)) == set(range(5))
    kaons, pions = table.species == SPECIES.index("K"), table.species == SPECIES.index("pi")
    assert np.median(table.dll[kaons, 2]) > 0 > np.median(table.dll[pions, 2])  # DLL_K separates them


def test_table_checks_shapes_and_subsets(table: PIDTable) -> None:
    with pytest.raises(ValueError, match="eta"):
        PIDTable(p=np.ones(3), eta=np.ones(2), n_tracks=np.ones(3), charge=np.ones(3), species=np.zeros(3))
    bare = PIDTable(p=np.ones(3), eta=np.ones(3), n_tracks=np.ones(3), charge=np.ones(3), species=np.zeros(3))
    assert not bare.has_dll and (bare.weight == 1).all() and (bare.collision == -1).all()
    part = table.subset(slice(10, 20))
    assert len(part) == 10 and np.array_equal(part.event_id, table.event_id[10:20])
    both = concatenate_pid([part, table.subset(slice(0, 5))])
    assert len(both) == 15 and both.attrs["concatenated_from"]


def test_hdf5_round_trip_and_sniffing(tmp_path: Path, table: PIDTable) -> None:
    weighted = table.subset(slice(0, 100))
    weighted.weight = np.linspace(-1, 2, 100).astype(np.float32)
    path = tmp_path / "t.h5"
    KIND.write(path, weighted)
    assert kind_of(path) is KIND
    back = KIND.read(path)
    for name in ("p", "eta", "n_tracks", "charge", "species", "dll", "weight", "event_id", "collision"):
        np.testing.assert_array_equal(getattr(back, name), getattr(weighted, name), err_msg=name)
    assert back.attrs["producer"] == "mlfastsim example pid"
    assert len(KIND.read(path, max_events=7)) == 7
    assert not KIND.sniff(tmp_path / "missing.h5") and not [
        p for p in tmp_path.iterdir() if p.name.startswith(".")
    ]


def test_bad_files_are_one_line_errors(tmp_path: Path, table: PIDTable) -> None:
    with pytest.raises(InputError, match="HDF5"):
        KIND.write(tmp_path / "t.parquet", table)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["inputs/p"] = np.ones(3)
    with pytest.raises(InputError, match="not a PID table") as err:
        KIND.read(tmp_path / "other.h5")
    assert "\n" not in str(err.value)
    (tmp_path / "junk.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"0" * 20)
    with pytest.raises(InputError, match="unreadable"):
        KIND.read(tmp_path / "junk.h5")


@pytest.mark.parametrize("thresholds", [True, False])
def test_codec_normalises_and_inverts(table: PIDTable, thresholds: bool) -> None:
    codec = KIND.fit_codec(table, PIDData(thresholds=thresholds))
    batch = codec.encode(table, frozenset())
    n_cond = 15 if thresholds else 8  # (P, η, nTracks), species one-hot[, seen ×2, tie flags ×5]
    assert (
        batch["features"].shape == (4000, 5) and batch["cond"].shape == (4000, n_cond) and batch["mask"].all()
    )
    untied = (batch["cond"][:, 10:] < 0.5) if thresholds else torch.ones(4000, 5, dtype=torch.bool)
    for j in range(5):  # N(0, 1) over the values the model learns (a threshold tie is encoded as 0)
        f = batch["features"][untied[:, j], j]
        assert abs(float(f.mean())) < 0.06 and abs(float(f.std()) - 1) < 0.06
        assert not thresholds or (batch["features"][~untied[:, j], j] == 0).all()
    np.testing.assert_array_equal(batch["cond"][:, 3:8].argmax(1).numpy(), table.species)  # species one-hot
    out = codec.decode({"features": batch["features"]}, table)
    np.testing.assert_allclose(out.dll, table.dll, atol=0.05 * np.abs(table.dll).max())
    # ties of the below-threshold hypotheses come back exactly (and so do their fractions)
    for a, b in ((2, 3), (3, 4)):
        tied = table.dll[:, a] == table.dll[:, b]
        assert 0.2 < tied.mean() < 0.9 and np.array_equal(out.dll[:, a] == out.dll[:, b], tied)
    assert np.array_equal(out.event_id, table.event_id) and np.array_equal(out.weight, table.weight)


def test_tied_training_targets_are_spread_over_their_interval(table: PIDTable) -> None:
    codec = KIND.fit_codec(table, PIDData(thresholds=False))
    feats = codec.encode(table, frozenset())["features"][:, 3].numpy()  # DLL_p − DLL_K, tied at 0
    tied = table.dll[:, 3] == table.dll[:, 2]
    plain = codec.qt_out.transform(to_basis(table.dll, "differences"))[:, 3]  # sklearn: one point per tie
    assert (
        plain[tied].std() < 1e-6 and feats[tied].std() > 0.1
    )  # spread: the model learns a continuous target
    assert feats[tied].min() >= plain[~tied & (plain < 0)].max() - 1e-6  # still inside the tie's interval
    np.testing.assert_allclose(
        from_basis(to_basis(table.dll, "differences"), "differences"), table.dll, atol=1e-4
    )


def test_codec_state_is_json_and_restores_exactly(table: PIDTable) -> None:
    codec = KIND.fit_codec(table, PIDData(use_charge=True, n_quantiles=200))
    state = json.loads(json.dumps(codec.to_dict()))  # plain lists, no pickles
    restored = KIND.load_codec(state)
    cond = codec.conditions(table, frozenset({"cond"}))["cond"]
    assert cond.shape[1] == 16 and torch.equal(cond[:, 3], torch.as_tensor(table.charge, dtype=torch.float32))
    assert torch.equal(restored.conditions(table, frozenset({"cond"}))["cond"], cond)
    z = {"features": torch.randn(50, 5, generator=torch.Generator().manual_seed(0))}
    np.testing.assert_array_equal(restored.decode(z, None).dll, codec.decode(z, None).dll)
    assert codec.model_fields() == {"n_features": 5, "n_cond": 16, "outputs": ("features", "mask")}


def test_selection_and_bad_settings(table: PIDTable) -> None:
    kaons = KIND.select(table, PIDData(species=("K",)), "t.h5")
    assert (kaons.species == SPECIES.index("K")).all() and len(kaons) > 100
    with pytest.raises(InputError, match="unknown species"):
        PIDData(species=("kaon",))
    with pytest.raises(InputError, match="fewer than 2"):
        KIND.select(table.subset(slice(0, 1)), PIDData(), "t.h5")
    with pytest.raises(InputError, match="no DLLs"):
        KIND.fit_codec(PIDTable(p=np.ones(3), eta=np.ones(3), n_tracks=np.ones(3), charge=np.ones(3),
                                species=np.zeros(3)), PIDData())  # fmt: skip


@pytest.mark.pythia
def test_generate_inspect_and_resimulate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pythia8mc")
    out = tmp_path / "tracks.h5"
    assert (
        main(["generate", "pid", "--events", "400", "--out", str(out), "--seed", "2", "--shard", "1/3"]) == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_events"] == 400 and summary["generation"] > 0 and summary["detector"] > 0
    table = KIND.read(out)
    assert (table.event_id // 2**32 == 1).all() and len(np.unique(table.event_id)) == 400
    assert table.attrs["wall_time_per_event_s"]["detector"] > 0 and table.attrs["config"]["kind"] == "pid"
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "tracks: 400" in text and "pi" in text and "wall time per track" in text
    resim = tmp_path / "resim.h5"
    assert main(["generate", "pid", "--resimulate", str(out), "--out", str(resim), "--seed", "9"]) == 0
    again = KIND.read(resim)
    assert np.array_equal(again.event_id, table.event_id) and np.array_equal(again.p, table.p)
    assert not np.array_equal(again.dll, table.dll)
    assert main(["generate", "pid", "--events", "0", "--out", str(tmp_path / "x.h5")]) == 2
