"""Jet-image files: public-convention files written independently, roundtrip, errors, atomicity, inspect."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mlfastsim.data.io.hdf5 as hdf5_module
import mlfastsim.data.io.parquet as parquet_module
from mlfastsim._utils import InputError
from mlfastsim.cli.main import main
from mlfastsim.data.io import (
    JetImageWriter,
    detect_format,
    iter_jet_images,
    read_jet_images,
    write_jet_images,
)
from mlfastsim.data.io.layout import check_channel_order
from mlfastsim.data.schemas import JetImages
from mlfastsim.physics.detector.geometry import HCAL_TOWERS, IMAGE_SIZE, towers_to_crystals
from mlfastsim.physics.particles import PARTICLE_DTYPE

S = IMAGE_SIZE


def make_images(n: int, seed: int = 0) -> np.ndarray:
    """Plausible jet images ``[n, 3, 125, 125]``: sparse tracks and ECAL hits, HCAL in 5 × 5 towers."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 3, S, S))
    for i in range(n):
        for channel, n_hits in ((0, 20), (1, 150)):
            # hits clustered around the centre (the jet axis), continuous energies
            rows = np.clip(rng.normal(S // 2, 12, n_hits).round().astype(int), 0, S - 1)
            cols = np.clip(rng.normal(S // 2, 12, n_hits).round().astype(int), 0, S - 1)
            images[i, channel, rows, cols] = rng.exponential(2.0, n_hits) + 0.01
        towers = np.zeros((HCAL_TOWERS, HCAL_TOWERS))
        t_rows = rng.integers(8, 17, 12)
        t_cols = rng.integers(8, 17, 12)
        towers[t_rows, t_cols] = rng.exponential(10.0, 12) + 0.1
        images[i, 2] = towers_to_crystals(towers)
    return images


def make_jets(n: int, seed: int = 0, gen: bool = True) -> JetImages:
    rng = np.random.default_rng(seed + 100)
    particles = None
    if gen:
        particles = []
        for i in range(n):
            k = 0 if i == 1 else int(rng.integers(1, 30))  # one jet without particles
            p = np.zeros(k, PARTICLE_DTYPE)
            p["pt"] = rng.exponential(5.0, k)
            p["eta"] = rng.normal(0.3, 0.2, k)
            p["phi"] = rng.uniform(-np.pi, np.pi, k)
            p["e"] = p["pt"] * np.cosh(p["eta"])
            p["pdgid"] = rng.choice([211, -211, 22, 11, 130], k)
            p["charge"] = np.sign(p["pdgid"]) * np.isin(np.abs(p["pdgid"]), (211, 11))
            p["in_jet"] = rng.random(k) < 0.8
            p["pileup"] = rng.random(k) < 0.1
            particles.append(p)
    return JetImages(
        images=make_images(n, seed).astype(np.float32),
        pt=rng.uniform(70, 200, n),
        m0=rng.uniform(5, 50, n),
        y=rng.integers(0, 2, n).astype(float),
        eta=rng.uniform(-1, 1, n),
        phi=rng.uniform(-np.pi, np.pi, n),
        gen=particles,
        attrs={"producer": "tests", "seed": 7, "config": {"process": "qcd", "n": n}, "ratio": 0.25},
    )


def write_public_parquet(
    path: Path, images: np.ndarray, pt: np.ndarray, m0: np.ndarray, y: np.ndarray
) -> None:
    """The CMS end-to-end Parquet convention, with pyarrow only: one row group per event, nested doubles."""
    table = pa.table(
        {
            "X_jets": pa.array(images.astype(np.float64).tolist()),
            "pt": pa.array(pt.astype(np.float64)),
            "m0": pa.array(m0.astype(np.float64)),
            "y": pa.array(y.astype(np.float64)),
        }
    )
    assert str(table.schema.field("X_jets").type) == "list<item: list<item: list<item: double>>>"
    pq.write_table(table, path, row_group_size=1)
    assert pq.ParquetFile(path).num_row_groups == len(images)


def write_public_hdf5(path: Path, images: np.ndarray, pt: np.ndarray, m0: np.ndarray, y: np.ndarray) -> None:
    """The CMS end-to-end HDF5 convention, with h5py only: ``X_jets [N, 125, 125, 3]`` channels-last."""
    with h5py.File(path, "w") as f:
        f.create_dataset("X_jets", data=images.transpose(0, 2, 3, 1).astype(np.float32))
        f.create_dataset("pt", data=pt)
        f.create_dataset("m0", data=m0)
        f.create_dataset("y", data=y)


def write_public(fmt: str, path: Path, images: np.ndarray, n: int | None = None) -> None:
    n = len(images) if n is None else n
    pt, m0, y = np.linspace(80, 150, n), np.linspace(10, 40, n), (np.arange(n) % 2).astype(float)
    (write_public_parquet if fmt == "parquet" else write_public_hdf5)(path, images, pt, m0, y)


SUFFIX = {"parquet": ".parquet", "hdf5": ".h5"}
PUBLIC_SCALARS = (
    np.array([90.5, 120, 150, 75, 199.25]),
    np.array([12, 25.5, 40, 8, 30]),
    np.array([0, 1, 1, 0, 1.0]),
)


@pytest.fixture(params=["parquet", "hdf5"])
def fmt(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- the test images themselves ---------------------------------------------------------------------------


def test_test_images_have_hcal_towers() -> None:
    images = make_images(2)
    hcal = images[:, 2]
    blocks = hcal.reshape(2, HCAL_TOWERS, 5, HCAL_TOWERS, 5)
    assert np.all(blocks == blocks[:, :, :1, :, :1])  # constant over aligned 5 × 5 blocks
    assert (hcal > 0).sum() > 0 and (images[:, 1] > 0).sum() > 100
    check_channel_order(images.astype(np.float32), "here")  # passes
    with pytest.raises(InputError, match="here"):
        check_channel_order(images[:, [0, 2, 1]].astype(np.float32), "here")


# --- public-convention files -------------------------------------------------------------------------


def test_reads_public_parquet(tmp_path: Path) -> None:
    images = make_images(5, seed=1)
    pt, m0, y = PUBLIC_SCALARS
    path = tmp_path / "public.parquet"
    write_public_parquet(path, images, pt, m0, y)
    assert detect_format(path) == "parquet"
    jets = read_jet_images(path)
    assert jets.images.dtype == np.float32
    assert jets.images.shape == (5, 3, S, S)
    np.testing.assert_array_equal(jets.images, images.astype(np.float32))
    np.testing.assert_array_equal(jets.pt, pt.astype(np.float32))
    np.testing.assert_array_equal(jets.m0, m0.astype(np.float32))
    np.testing.assert_array_equal(jets.y, y.astype(np.float32))
    assert jets.eta is not None and np.isnan(jets.eta).all()
    assert jets.phi is not None and np.isnan(jets.phi).all()
    assert jets.gen is None
    assert jets.attrs == {}


def test_reads_public_hdf5(tmp_path: Path) -> None:
    images = make_images(5, seed=2)
    pt, m0, y = PUBLIC_SCALARS
    path = tmp_path / "public.h5"
    write_public_hdf5(path, images, pt, m0, y)
    assert detect_format(path) == "hdf5"
    jets = read_jet_images(path)
    assert jets.images.dtype == np.float32
    assert jets.images.shape == (5, 3, S, S)
    assert jets.images.flags.c_contiguous
    np.testing.assert_array_equal(jets.images, images.astype(np.float32))
    np.testing.assert_array_equal(jets.pt, pt.astype(np.float32))
    np.testing.assert_array_equal(jets.m0, m0.astype(np.float32))
    np.testing.assert_array_equal(jets.y, y.astype(np.float32))
    assert jets.eta is not None and np.isnan(jets.eta).all()
    assert jets.gen is None and jets.attrs == {}


def test_reads_public_file_partially(tmp_path: Path, fmt: str) -> None:
    images = make_images(6, seed=3)
    path = tmp_path / f"public{SUFFIX[fmt]}"
    write_public(fmt, path, images)
    jets = read_jet_images(path, max_events=3, start=2)
    np.testing.assert_array_equal(jets.images, images[2:5].astype(np.float32))
    np.testing.assert_array_equal(jets.pt, np.linspace(80, 150, 6)[2:5].astype(np.float32))


def test_suffix_does_not_decide_the_format(tmp_path: Path) -> None:
    images = make_images(2, seed=4)
    path = tmp_path / "really_parquet.h5"
    write_public_parquet(path, images, np.ones(2), np.ones(2), np.zeros(2))
    assert detect_format(path) == "parquet"
    np.testing.assert_array_equal(read_jet_images(path).images, images.astype(np.float32))


def test_swapped_channels_rejected(tmp_path: Path, fmt: str) -> None:
    images = make_images(3, seed=5)[:, [0, 2, 1]]  # ECAL and HCAL exchanged
    path = tmp_path / f"swapped{SUFFIX[fmt]}"
    write_public(fmt, path, images)
    with pytest.raises(InputError) as info:
        read_jet_images(path)
    message = str(info.value)
    assert str(path) in message
    assert "channel 1 looks like the HCAL" in message
    assert "\n" not in message


# --- broken files ------------------------------------------------------------------------------------------


def assert_one_line_error(path: Path, match: str | None = None) -> str:
    with pytest.raises(InputError) as info:
        read_jet_images(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    if match is not None:
        assert match in message, message
    return message


@pytest.mark.parametrize("writer", ["ours", "public"])
def test_truncated_file(tmp_path: Path, fmt: str, writer: str) -> None:
    path = tmp_path / f"cut{SUFFIX[fmt]}"
    if writer == "ours":
        write_jet_images(path, make_jets(4))
    else:
        write_public(fmt, path, make_images(4))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert_one_line_error(path, "truncated or corrupt")


@pytest.mark.parametrize("magic", [b"", b"PAR1", b"\x89HDF\r\n\x1a\n"])
def test_corrupt_file(tmp_path: Path, magic: bytes) -> None:
    path = tmp_path / "corrupt.parquet"
    path.write_bytes(magic + np.random.default_rng(0).bytes(20_000))
    assert_one_line_error(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.h5"
    path.touch()
    assert_one_line_error(path, "empty file")


def test_missing_path(tmp_path: Path) -> None:
    assert_one_line_error(tmp_path / "nope.parquet", "no such file")


def test_directory_path(tmp_path: Path) -> None:
    assert_one_line_error(tmp_path, "is a directory")


def test_wrong_image_shape(tmp_path: Path, fmt: str) -> None:
    images = np.zeros((2, 3, 100, 100))
    images[:, 1, 50, 50] = 1.0
    path = tmp_path / f"small{SUFFIX[fmt]}"
    write_public(fmt, path, images)
    assert_one_line_error(path, "[2, 3, 100, 100]" if fmt == "parquet" else "[2, 100, 100, 3]")


def test_no_images_column(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"other{SUFFIX[fmt]}"
    if fmt == "parquet":
        pq.write_table(pa.table({"pt": [1.0, 2.0]}), path)
    else:
        with h5py.File(path, "w") as f:
            f.create_dataset("pt", data=[1.0, 2.0])
    assert_one_line_error(path, "X_jets")


def test_ragged_parquet_images(tmp_path: Path) -> None:
    good = make_images(1)[0].tolist()
    bad = [good[0], good[1], [row[:-1] for row in good[2]]]
    path = tmp_path / "ragged.parquet"
    pq.write_table(pa.table({"X_jets": pa.array([good, bad]), "pt": [1.0, 2.0]}), path)
    assert_one_line_error(path, "ragged")


# --- our writer: roundtrip, partial reads, atomicity --------------------------------------------------------


def assert_jets_equal(got: JetImages, want: JetImages) -> None:
    assert got.images.dtype == np.float32 and got.images.shape == want.images.shape
    np.testing.assert_array_equal(got.images, want.images)
    for name in ("pt", "m0", "y", "eta", "phi"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    assert (got.gen is None) == (want.gen is None)
    if want.gen is not None and got.gen is not None:
        assert len(got.gen) == len(want.gen)
        for g, w in zip(got.gen, want.gen, strict=True):
            assert g.dtype == PARTICLE_DTYPE and len(g) == len(w)
            for field in PARTICLE_DTYPE.names:
                np.testing.assert_array_equal(g[field], w[field], err_msg=field)


@pytest.mark.parametrize("with_gen", [True, False])
def test_roundtrip(tmp_path: Path, fmt: str, with_gen: bool) -> None:
    jets = make_jets(7, seed=8, gen=with_gen)
    path = tmp_path / f"ours{SUFFIX[fmt]}"
    write_jet_images(path, jets, batch_size=3)  # several written batches
    assert detect_format(path) == fmt
    back = read_jet_images(path)
    assert_jets_equal(back, jets)
    assert back.attrs == jets.attrs
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_explicit_format_overrides_suffix(tmp_path: Path) -> None:
    jets = make_jets(2, gen=False)
    path = tmp_path / "jets.bin"
    with pytest.raises(InputError, match="unknown suffix"):
        write_jet_images(path, jets)
    write_jet_images(path, jets, fmt="hdf5")
    assert detect_format(path) == "hdf5"
    assert_jets_equal(read_jet_images(path), jets)
    with pytest.raises(InputError, match="choose parquet or hdf5"):
        write_jet_images(path, jets, fmt="csv")


def test_max_events_and_start(tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # small read batches so that start/stop fall inside and across batches
    monkeypatch.setattr(parquet_module, "_BATCH_ROWS", 3)
    monkeypatch.setattr(hdf5_module, "_BATCH_ROWS", 3)
    jets = make_jets(10, seed=9)
    path = tmp_path / f"ours{SUFFIX[fmt]}"
    write_jet_images(path, jets, batch_size=4)
    for start, max_events in [(0, 1), (0, 4), (2, 5), (4, 3), (7, 3), (9, 1), (8, 100), (0, None), (5, None)]:
        back = read_jet_images(path, max_events=max_events, start=start)
        stop = 10 if max_events is None else min(start + max_events, 10)
        assert_jets_equal(back, jets.subset(slice(start, stop)))
        assert back.attrs == jets.attrs
    assert sum(len(b) for b in iter_jet_images(path)) == 10
    assert max(len(b) for b in iter_jet_images(path)) <= 3
    with pytest.raises(InputError, match=str(path)):
        read_jet_images(path, start=10)
    with pytest.raises(InputError, match="max_events"):
        read_jet_images(path, max_events=0)


def test_empty_jet_set(tmp_path: Path, fmt: str) -> None:
    empty = JetImages(np.zeros((0, 3, S, S), np.float32), np.zeros(0), np.zeros(0), np.zeros(0))
    path = tmp_path / f"none{SUFFIX[fmt]}"
    write_jet_images(path, empty)
    assert path.exists()
    assert_one_line_error(path, "no jets")


def test_writer_streams_batches(tmp_path: Path, fmt: str) -> None:
    jets = make_jets(5, seed=10)
    path = tmp_path / f"stream{SUFFIX[fmt]}"
    with JetImageWriter(path, attrs={"seed": 1}) as writer:
        writer.write(jets.subset(slice(0, 2)))
        writer.write(jets.subset(slice(2, 5)))
        writer.attrs["n_events"] = 5  # updatable until close
        assert not path.exists()
    back = read_jet_images(path)
    assert_jets_equal(back, jets)
    assert back.attrs == {"seed": 1, "n_events": 5}


def test_writer_rejects_mixed_gen(tmp_path: Path, fmt: str) -> None:
    jets = make_jets(4, seed=11)
    path = tmp_path / f"mixed{SUFFIX[fmt]}"
    with pytest.raises(ValueError, match="gen"), JetImageWriter(path) as writer:
        writer.write(jets.subset(slice(0, 2)))
        writer.write(JetImages(jets.images[2:], jets.pt[2:], jets.m0[2:], jets.y[2:]))
    assert list(tmp_path.iterdir()) == []


class Boom(Exception):
    pass


def test_atomic_on_exception(tmp_path: Path, fmt: str) -> None:
    jets = make_jets(3, seed=12)
    path = tmp_path / f"atomic{SUFFIX[fmt]}"
    with pytest.raises(Boom), JetImageWriter(path, attrs={"a": 1}) as writer:
        writer.write(jets)
        raise Boom
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_keeps_existing_target(tmp_path: Path, fmt: str) -> None:
    old = make_jets(2, seed=13)
    path = tmp_path / f"keep{SUFFIX[fmt]}"
    write_jet_images(path, old)
    before = path.read_bytes()
    with pytest.raises(KeyboardInterrupt), JetImageWriter(path) as writer:
        writer.write(make_jets(3, seed=14))
        raise KeyboardInterrupt
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]
    assert_jets_equal(read_jet_images(path), old)


# --- mlfastsim inspect -----------------------------------------------------------------------------------


def test_inspect_json_ours(tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    jets = make_jets(6, seed=15)
    path = tmp_path / f"ours{SUFFIX[fmt]}"
    write_jet_images(path, jets)
    assert main(["inspect", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out)
    assert summary["n_events"] == 6
    assert summary["format"] == fmt
    assert summary["image_shape"] == [3, 125, 125]
    assert summary["gen_particles"]["stored"] is True
    assert summary["attrs"] == jets.attrs
    assert sum(summary["labels"].values()) == 6
    ecal_sum = jets.images[:, 1].sum(axis=(1, 2))
    assert summary["channels"]["ecal"]["energy_sum_gev"]["mean"] == pytest.approx(ecal_sum.mean(), rel=1e-5)
    assert main(["inspect", str(path), "--json", "--max-events", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["n_events"] == 2


def test_inspect_public_text_and_json(tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"public{SUFFIX[fmt]}"
    write_public(fmt, path, make_images(4, seed=16))
    assert main(["inspect", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_events"] == 4
    assert summary["gen_particles"]["stored"] is False
    assert summary["labels"] == {"0": 2, "1": 2}
    assert main(["inspect", str(path)]) == 0
    text = capsys.readouterr().out
    assert "events: 4" in text and "not written by mlfastsim" in text


@pytest.mark.parametrize("case", ["corrupt", "missing", "truncated", "swapped"])
def test_inspect_bad_file(tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.parquet"
    if case == "corrupt":
        path.write_bytes(np.random.default_rng(1).bytes(5000))
    elif case == "truncated":
        write_jet_images(path, make_jets(3))
        path.write_bytes(path.read_bytes()[:3000])
    elif case == "swapped":
        write_public("parquet", path, make_images(2)[:, [0, 2, 1]])
    rc = main(["inspect", str(path), "--json"])
    captured = capsys.readouterr()
    assert rc != 0
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ") and str(path) in lines[0]
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("writer", ["ours", "public"])
def test_corrupt_inside_file(tmp_path: Path, fmt: str, writer: str) -> None:
    """Random bytes over parts of a valid file: it reads (undetectable damage) or fails with one line."""
    rng = np.random.default_rng(17)
    path = tmp_path / f"damaged{SUFFIX[fmt]}"
    n_errors = 0
    for fraction in np.arange(0.05, 1.0, 0.1):
        if writer == "ours":
            write_jet_images(path, make_jets(3))
        else:
            write_public(fmt, path, make_images(3))
        data = bytearray(path.read_bytes())
        at = int(len(data) * fraction)
        data[at : at + 2000] = rng.bytes(len(data[at : at + 2000]))
        path.write_bytes(bytes(data))
        try:
            read_jet_images(path)
        except InputError as exc:
            n_errors += 1
            assert str(path) in str(exc)
            assert "\n" not in str(exc), repr(str(exc))
    if fmt == "parquet":  # compressed pages and thrift metadata: damage is detected
        assert n_errors > 0
