"""End-to-end tests of ``mlfastsim generate jet-images`` (Pythia → FastJet → detector → file)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mlfastsim.cli.main import main
from mlfastsim.data.io import read_jet_images

pytestmark = pytest.mark.pythia


@pytest.fixture(scope="module")
def qcd_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gen") / "qcd.parquet"
    assert (
        main(
            [
                "generate",
                "jet-images",
                "--process",
                "qcd",
                "--events",
                "60",
                "--seed",
                "5",
                "--out",
                str(path),
            ]
        )
        == 0
    )
    return path


def test_generate_writes_the_contract(qcd_file: Path) -> None:
    jets = read_jet_images(qcd_file)
    assert len(jets) == 60
    assert jets.images.shape == (60, 3, 125, 125)
    assert jets.images.dtype == np.float32
    assert (jets.pt >= 70).all() and (jets.pt <= 200).all()
    assert set(np.unique(jets.y)) <= {0.0, 1.0}
    assert jets.gen is not None and all(len(g) > 0 for g in jets.gen)
    # every image has ECAL deposits near its centre (the jet axis)
    centre = jets.images[:, 1, 52:73, 52:73].sum(axis=(1, 2))
    assert (centre > 1.0).mean() > 0.9
    attrs = jets.attrs
    assert attrs["seed"] == 5 and attrs["version"] and attrs["config"]["process"] == "qcd"
    assert attrs["wall_time_per_event_s"]["generation"] > 0
    assert attrs["wall_time_per_event_s"]["detector"] > 0
    assert "detector" in attrs["config"]


def test_same_seed_same_arrays_and_shards_differ(tmp_path: Path, qcd_file: Path) -> None:
    again = tmp_path / "again.h5"
    assert main(["generate", "jet-images", "--events", "60", "--seed", "5", "--out", str(again)]) == 0
    a, b = read_jet_images(qcd_file), read_jet_images(again)
    assert np.array_equal(a.images, b.images)
    assert np.array_equal(a.pt, b.pt)
    other = tmp_path / "shard1.h5"
    assert (
        main(
            ["generate", "jet-images", "--events", "20", "--seed", "5", "--shard", "1/2", "--out", str(other)]
        )
        == 0
    )
    c = read_jet_images(other)
    assert not np.array_equal(a.pt[:20], c.pt)


def test_resimulation_keeps_particles_changes_response(tmp_path: Path, qcd_file: Path) -> None:
    out = tmp_path / "resim.parquet"
    assert (
        main(["generate", "jet-images", "--resimulate", str(qcd_file), "--seed", "99", "--out", str(out)])
        == 0
    )
    a, b = read_jet_images(qcd_file), read_jet_images(out)
    assert len(a) == len(b)
    assert np.array_equal(a.pt, b.pt) and np.array_equal(a.y, b.y)
    assert a.gen is not None and b.gen is not None
    assert all(np.array_equal(g, h) for g, h in zip(a.gen, b.gen, strict=True))
    assert not np.array_equal(a.images, b.images)
    ecal_a, ecal_b = a.images[:, 1].sum(axis=(1, 2)), b.images[:, 1].sum(axis=(1, 2))
    assert np.corrcoef(ecal_a, ecal_b)[0, 1] > 0.9  # same particles, new detector noise
    assert b.attrs["config"]["resimulated_from"] == str(qcd_file)


def test_gluon_jets_carry_more_hits_than_quark_jets(qcd_file: Path) -> None:
    jets = read_jet_images(qcd_file)
    hits = (jets.images[:, 1] > 0).sum(axis=(1, 2))
    quark, gluon = hits[jets.y == 0], hits[jets.y == 1]
    assert len(quark) >= 10 and len(gluon) >= 10
    assert gluon.mean() > quark.mean()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--process", "zprime"], "zprime"),
        (["--events", "0"], "--events"),
        (["--events", "-3"], "--events"),
        (["--shard", "3/2"], "--shard"),
        (["--shard", "a/b"], "--shard"),
    ],
)
def test_bad_arguments_give_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    out = tmp_path / "x.parquet"
    assert main(["generate", "jet-images", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and fragment in err
    assert not out.exists()


def test_unwritable_path_and_bad_resimulation_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["generate", "jet-images", "--events", "5", "--out", str(blocker / "x.parquet")]) == 2
    assert "cannot be written" in capsys.readouterr().err
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(os.urandom(2000))
    out = tmp_path / "resim.parquet"
    assert main(["generate", "jet-images", "--resimulate", str(broken), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "broken.parquet" in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.parquet", "file"]
