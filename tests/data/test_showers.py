"""The ``showers`` kind: container checks, HDF5 files, ``generate showers`` (shards, resimulation, cost),
the codec (round trip, prior decoding, library energy scaling), incidence observables, inspect, select."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from mlfastsim._utils import InputError
from mlfastsim.data.kinds import kind_of
from mlfastsim.data.kinds.showers import KIND as SHOWERS_KIND
from mlfastsim.data.kinds.showers import ShowerData, Showers, incidence_observables
from mlfastsim.data.kinds.showers.codec import model_conditions

KIND = SHOWERS_KIND


@pytest.fixture(scope="module")
def example() -> Showers:
    return KIND.example(60, seed=3)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    from mlfastsim.cli.main import main

    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_container_checks_shapes() -> None:
    with pytest.raises(ValueError, match=r"\[N, 6\]"):
        Showers(np.zeros((3, 5)), np.zeros((3, 30, 30)))
    with pytest.raises(ValueError, match="G, G"):
        Showers(np.zeros((3, 6)), np.zeros((3, 30, 20)))
    s = Showers(np.ones((4, 6)), np.zeros((4, 30, 30)))
    assert (s.event_id == np.arange(4)).all() and (s.pdg == 0).all() and s.grid == 30
    assert len(s.subset(np.array([True, False, True, False]))) == 2


def test_hdf5_round_trip_and_sniff(tmp_path: Path, example: Showers) -> None:
    path = tmp_path / "s.h5"
    KIND.write(path, example)
    assert kind_of(path).name == "showers"
    back = KIND.read(path)
    for name in ("conditions", "response", "event_id", "pdg"):
        assert np.array_equal(getattr(back, name), getattr(example, name)), name
    assert back.attrs["producer"] == "mlfastsim example showers"
    assert len(KIND.read(path, max_events=7)) == 7
    with h5py.File(path, "r") as f:
        assert f["EnergyDeposit"].shape == (60, 30, 30) and f["ParticleMomentum"].shape == (60, 3)
    with pytest.raises(InputError, match="suffix"):
        KIND.write(tmp_path / "s.parquet", example)


def test_a_broken_file_is_one_clear_line(tmp_path: Path, example: Showers) -> None:
    path = tmp_path / "s.h5"
    KIND.write(path, example)
    with h5py.File(path, "a") as f:
        del f["ParticlePoint"]
    with pytest.raises(InputError, match="no dataset 'ParticlePoint'"):
        KIND.read(path)
    cut = tmp_path / "cut.h5"
    cut.write_bytes((tmp_path / "s.h5").read_bytes()[:2000])
    with pytest.raises(InputError):
        KIND.read(cut)


def test_generate_shards_resimulate_and_inspect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _cli(
        capsys, "generate", "showers", "--events", "40", "--out", str(tmp_path / "a.h5"), "--shard", "0/2"
    )
    _cli(capsys, "generate", "showers", "--events", "40", "--out", str(tmp_path / "b.h5"), "--shard", "1/2")
    assert a["n_events"] == 40 and 0 < a["detector"] < 0.05  # the cost per shower is measured
    sa, sb = KIND.read(tmp_path / "a.h5"), KIND.read(tmp_path / "b.h5")
    assert not set(sa.event_id) & set(sb.event_id) and not np.array_equal(sa.conditions, sb.conditions)
    assert sa.attrs["wall_time_per_event_s"]["detector"] == pytest.approx(a["detector"])
    assert sa.attrs["config"]["detector"]["threshold"] == 0.015
    assert np.allclose(sa.point[:, 2], 12490.0)
    _cli(
        capsys,
        "generate",
        "showers",
        "--out",
        str(tmp_path / "r.h5"),
        "--resimulate",
        str(tmp_path / "a.h5"),
        "--seed",
        "9",
    )
    r = KIND.read(tmp_path / "r.h5")
    assert np.array_equal(r.event_id, sa.event_id) and np.array_equal(r.conditions, sa.conditions)
    assert np.array_equal(r.pdg, sa.pdg) and not np.array_equal(r.response, sa.response)
    ratio = r.response.sum((1, 2)) / sa.response.sum((1, 2))
    assert np.median(ratio) == pytest.approx(1.0, abs=0.03)  # the same particles, showered again
    summary = KIND.inspect(tmp_path / "a.h5")
    assert summary["n_events"] == 40 and summary["deposit_over_energy"]["median"] == pytest.approx(
        0.99, abs=0.03
    )
    assert "wall time per shower" in KIND.format_inspection(summary)


def test_generate_refuses_bad_options(tmp_path: Path) -> None:
    from mlfastsim.data.kinds.showers.generate import generate_shower_file, resimulate_showers

    with pytest.raises(InputError, match="--particles"):
        generate_shower_file(tmp_path / "x.h5", 5, species=("pion",))
    with pytest.raises(InputError, match="--energy"):
        generate_shower_file(tmp_path / "x.h5", 5, energy_range=(10.0, 1.0))
    with pytest.raises(InputError, match="HDF5"):
        generate_shower_file(tmp_path / "x.parquet", 5)
    unknown = Showers(np.tile([0, 0, 12490, 0, 0, 5.0], (3, 1)), np.zeros((3, 30, 30)))
    KIND.write(tmp_path / "u.h5", unknown)
    with pytest.raises(InputError, match="no particle species"):
        resimulate_showers(tmp_path / "u.h5", tmp_path / "v.h5", seed=1)


def test_incidence_observables_on_hand_made_maps() -> None:
    img = np.zeros((3, 30, 30))
    img[0, 15, 16] = 1.0  # downstream of the centre for d = +x
    img[1, 15, 13], img[1, 15, 16] = 1.0, 1.0  # symmetric
    img[2, 14:16, 10:20] = 1.0  # elongated along x
    p = np.tile([1.0, 0.0, 10.0], (3, 1))
    obs = incidence_observables(img, p)
    assert obs["asymmetry"] == pytest.approx([1.0, 0.0, 0.0])
    assert obs["width_long"][2] > 2 * obs["width_trans"][2]
    flipped = incidence_observables(img, p * np.array([-1.0, 1.0, 1.0]))
    assert flipped["asymmetry"][0] == pytest.approx(-1.0)  # the direction sets the sign


def test_codec_round_trip_and_decoding(example: Showers) -> None:
    codec = KIND.fit_codec(example, ShowerData())
    keys = frozenset({"features", "mask", "cond", "asymmetry"})
    batch = codec.encode(example, keys)
    assert batch["features"].shape == (60, 900, 1) and batch["mask"].all() and batch["cond"].shape == (60, 5)
    assert float(batch["features"].max()) == pytest.approx(1.0) and float(batch["features"].min()) == 0.0
    assert torch.allclose(
        batch["asymmetry"].double(),
        torch.as_tensor(incidence_observables(example.response, example.momentum)["asymmetry"]),
        atol=1e-6,
    )
    back = codec.decode({"features": batch["features"]}, example)
    assert np.allclose(back.response, example.response, rtol=1e-4, atol=1e-6)
    assert np.array_equal(back.event_id, example.event_id) and np.array_equal(back.pdg, example.pdg)
    state = KIND.load_codec(json.loads(json.dumps(codec.to_dict())))
    assert torch.equal(state.encode(example, keys)["cond"], batch["cond"])
    fields = codec.model_fields()
    assert fields["n_max"] == 900 and fields["n_cond"] == 5 and fields["threshold"] == 0.015


def test_decoding_a_prior_sample_and_a_library_replay(example: Showers) -> None:
    codec = KIND.fit_codec(example, ShowerData())
    batch = codec.encode(example, frozenset({"cond"}))
    prior = codec.decode({"features": batch["features"], "matched_cond": batch["cond"]}, None)
    assert (prior.event_id == -1).all()
    assert np.allclose(prior.energy, example.energy, rtol=1e-4)  # the drawn conditions come back in GeV
    assert np.allclose(model_conditions(prior), model_conditions(example), atol=1e-4)  # window frame
    # a library replay of shower 0 for shower 1: scaled by E₁ / E₀ (seed 004's energy scaling)
    rows = torch.tensor([0, 0])
    replay = codec.decode(
        {"features": batch["features"][rows], "matched_cond": batch["cond"][rows]}, example.subset([0, 1])
    )
    scale = example.energy[1] / example.energy[0]
    kept = example.response[0] * scale >= codec.threshold
    assert np.allclose(replay.response[1][kept], example.response[0][kept] * scale, rtol=1e-4)
    assert (replay.response[1][~kept] == 0).all()


def test_select_by_species(example: Showers) -> None:
    photons = KIND.select(example, ShowerData(particles=(22,)), "x")
    assert len(photons) and (photons.pdg == 22).all()
    with pytest.raises(InputError, match="fewer than 2"):
        KIND.select(example, ShowerData(particles=(13,)), "x")
