"""The ``tpc`` data kind: container, HDF5 files, generation and resimulation, codec, inspection."""

from __future__ import annotations

import argparse
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from mlfastsim._utils import InputError
from mlfastsim.data.kinds import KINDS, kind_of
from mlfastsim.data.kinds.tpc import TPCData, TPCWindows, model_conditions, read_tpc_windows, spans
from mlfastsim.physics.detector import tpc_constants as C

KIND = KINDS["tpc"]


@pytest.fixture(scope="module")
def windows() -> TPCWindows:
    return KIND.example(60, seed=3)


def _generate(tmp: Path, **options: object) -> dict[str, object]:
    args = {"out": str(tmp), "seed": 2, "shard": "0/1", "events": 40, "row": "both", "resimulate": None}
    return KIND.generate(argparse.Namespace(**{**args, **options}))


def test_container_checks_shapes_and_subsets(windows: TPCWindows) -> None:
    assert len(windows) == 60 and windows.adc.shape == (60, 8, 16)
    part = windows.subset(np.arange(60) % 3 == 0)
    assert len(part) == 20 and np.array_equal(part.event_id, windows.event_id[::3])
    np.testing.assert_array_equal(part.crossing, windows.crossing[::3])
    with pytest.raises(ValueError, match="adc must be"):
        TPCWindows(np.zeros((3, 8, 15)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="conditions must be"):
        TPCWindows(np.zeros((3, 8, 16)), np.zeros((3, 4)))
    both = KIND.concatenate([part, part])
    assert len(both) == 40 and both.attrs["concatenated_from"][0] == part.attrs


def test_files_round_trip_and_are_sniffed(tmp_path: Path, windows: TPCWindows) -> None:
    path = tmp_path / "w.h5"
    KIND.write(path, windows)
    assert kind_of(path) is KIND
    back = KIND.read(path)
    for name in ("adc", "conditions", "pad_offset", "time_offset", "crossing", "event_id"):
        np.testing.assert_array_equal(getattr(back, name), getattr(windows, name))
    assert back.attrs["producer"] == "mlfastsim example tpc"
    assert len(KIND.read(path, max_events=7)) == 7
    with pytest.raises(InputError, match="HDF5"):
        KIND.write(tmp_path / "w.parquet", windows)


def test_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.zeros(3)
    assert not KIND.sniff(other)
    with pytest.raises(InputError, match="not a TPC window file"):
        read_tpc_windows(other)
    partial = tmp_path / "partial.h5"
    with h5py.File(partial, "w") as f:
        f["tpc/adc"] = np.zeros((2, 8, 16), np.float32)
    with pytest.raises(InputError, match="incomplete"):
        read_tpc_windows(partial)
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(InputError, match="unreadable"):
        read_tpc_windows(broken)


def test_generate_records_cost_and_shards(tmp_path: Path) -> None:
    summary = _generate(tmp_path / "g.h5", shard="1/3", row="outer")
    ev = KIND.read(tmp_path / "g.h5")
    assert summary["n_events"] == 40 and 0 < float(summary["detector"]) < 0.1  # type: ignore[arg-type]
    assert ev.attrs["wall_time_per_event_s"]["detector"] == summary["detector"]
    assert (ev.event_id >> 32 == 1).all() and (ev.conditions[:, 4] == 1).all()
    again = _generate(tmp_path / "h.h5", shard="1/3", row="outer")
    assert again["n_events"] == 40
    np.testing.assert_array_equal(KIND.read(tmp_path / "h.h5").adc, ev.adc)  # same seed, same windows
    with pytest.raises(InputError, match="positive"):
        _generate(tmp_path / "x.h5", events=0)


def test_resimulation_keeps_segments_and_changes_windows(tmp_path: Path) -> None:
    _generate(tmp_path / "a.h5")
    _generate(tmp_path / "b.h5", resimulate=str(tmp_path / "a.h5"), seed=11)
    a, b = KIND.read(tmp_path / "a.h5"), KIND.read(tmp_path / "b.h5")
    for name in ("conditions", "pad_offset", "time_offset", "crossing", "event_id"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.adc, b.adc)
    assert b.attrs["config"]["resimulated_from"] == str(tmp_path / "a.h5")


def test_codec_encodes_decodes_and_round_trips(windows: TPCWindows) -> None:
    codec = KIND.fit_codec(windows, TPCData())
    batch = codec.encode(windows, frozenset({"features", "mask", "cond"}))
    assert batch["features"].shape == (60, 128, 1) and bool(batch["mask"].all())
    assert float(batch["features"].min()) == 0.0 and float(batch["features"].max()) <= 1.0
    assert batch["cond"].shape == (60, 6)
    np.testing.assert_allclose(batch["cond"].mean(0), 0.0, atol=1e-5)  # standardised on these segments
    back = codec.decode(batch, windows)
    np.testing.assert_array_equal(back.adc, windows.adc)  # integer ADC survive the transform exactly
    assert np.array_equal(back.event_id, windows.event_id)
    loaded = KIND.load_codec(codec.to_dict())
    assert torch.equal(loaded.encode(windows, frozenset())["cond"], batch["cond"])
    assert codec.model_fields()["n_cond"] == 6 and codec.model_fields()["n_max"] == 128


def test_spans_are_the_segments_extent_across_the_row_in_pads_and_buckets() -> None:
    # inner row (h = 1.2 cm): tan φ = 0.5/1.2 crosses one 0.5 cm pad; tan λ/cos φ = 0.55/1.2 drifts one 100 ns
    # bucket at 5.5 cm/µs; the outer row (1.8 cm) 1.5 times as far; the sign of the angles does not matter
    phi = np.arctan(0.5 / 1.2)
    lam = np.arctan(0.55 / 1.2 * np.cos(phi))
    cond = np.array([[phi, lam, 5.0, 50.0, 0], [-phi, -lam, 5.0, 50.0, 1], [0.0, 0.0, 5.0, 50.0, 1]])
    np.testing.assert_allclose(spans(cond), [[1.0, 1.0], [1.5, 1.5], [0.0, 0.0]], atol=1e-12)


def test_codec_with_spans_appends_them_and_old_runs_keep_six_conditions(windows: TPCWindows) -> None:
    codec = KIND.fit_codec(windows, TPCData(spans=True))
    cond = codec.encode(windows, frozenset())["cond"]
    assert cond.shape == (60, 8) and codec.model_fields()["n_cond"] == 8
    raw = codec.cond_norm.inverse_transform(cond.numpy())
    np.testing.assert_allclose(raw[:, 6:], spans(windows.conditions), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(raw[:, :6], model_conditions(windows.conditions), rtol=1e-5, atol=1e-5)
    state = KIND.fit_codec(windows, TPCData()).to_dict()
    del state["data"]["spans"]  # a run saved before the option existed
    assert KIND.load_codec(state).encode(windows, frozenset())["cond"].shape == (60, 6)


def test_decode_digitises_like_the_detector(windows: TPCWindows) -> None:
    codec = KIND.fit_codec(windows, TPCData())
    thr = codec.threshold_feature()
    feats = torch.tensor([thr * 0.99, thr * 1.01, 2.0])[:, None, None].expand(3, 128, 1)
    adc = codec.decode({"features": feats}, None).adc
    assert (adc[0] == 0).all() and (adc[1] > C.THRESHOLD_ADC).all() and (adc[2] == C.ADC_MAX).all()


def test_decode_without_events_uses_the_matched_conditions(windows: TPCWindows) -> None:
    codec = KIND.fit_codec(windows, TPCData())
    batch = codec.encode(windows, frozenset())
    out = codec.decode({"features": batch["features"], "matched_cond": batch["cond"]}, None)
    assert (out.event_id == -1).all()
    fractions = model_conditions(out.conditions)
    np.testing.assert_allclose(fractions, model_conditions(windows.conditions), atol=1e-4)
    np.testing.assert_allclose(out.crossing, windows.crossing, atol=1e-4)


def test_select_keeps_one_row_type(windows: TPCWindows) -> None:
    inner = KIND.select(windows, TPCData(row=0), "here")
    assert len(inner) > 0 and (inner.conditions[:, 4] == 0).all()
    with pytest.raises(InputError, match=r"data.row"):
        TPCData(row=3)
    with pytest.raises(InputError, match="fewer than 2"):
        KIND.select(windows.subset(slice(0, 1)), TPCData(), "here")


def test_inspect_summarises_the_file(tmp_path: Path, windows: TPCWindows) -> None:
    path = tmp_path / "w.h5"
    KIND.write(path, windows)
    summary = KIND.inspect(path)
    assert summary["kind"] == "tpc" and summary["n_events"] == 60
    assert sum(summary["rows"].values()) == 60 and summary["empty_windows"] == 0.0
    text = KIND.format_inspection(summary)
    assert "wall time per segment" in text and "drift_length" in text
