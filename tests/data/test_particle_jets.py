"""The particle-jets kind: our two-level files, public JetNet and HLS4ML files, sniffing, errors, atomicity,
inspect, the codec round trip, synthetic examples, and (Pythia) generation and resimulation."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import torch

from mlfastsim._utils import InputError, jsonable
from mlfastsim.cli.main import main
from mlfastsim.data.io import write_jet_images
from mlfastsim.data.kinds import KINDS, DataKind, kind_of
from mlfastsim.data.kinds.particle_jets import (
    KIND,
    ParticleJetCodec,
    ParticleJetData,
    ParticleJets,
    jet_classes,
)
from mlfastsim.data.kinds.particle_jets.codec import physical_particles
from mlfastsim.data.kinds.particle_jets.generate import level_features
from mlfastsim.data.kinds.particle_jets.io import (
    CLASS_STRIDE,
    iter_particle_jets,
    read_particle_jets,
)
from mlfastsim.data.kinds.particle_jets.writer import open_particle_jet_writer
from mlfastsim.physics.particles import PARTICLE_DTYPE

JET_IMAGES = KINDS["jet-images"]

HLS4ML_PARTICLE_NAMES = [
    "j1_px", "j1_py", "j1_pz", "j1_e", "j1_erel", "j1_pt", "j1_ptrel", "j1_eta", "j1_etarel", "j1_etarot",
    "j1_phi", "j1_phirel", "j1_phirot", "j1_deltaR", "j1_costheta", "j1_costhetarel",
]  # fmt: skip
HLS4ML_JET_NAMES = [
    "j_ptfrac", "j_pt", "j_eta", "j_mass", "j_tau1_b1", "j_tau2_b1", "j_tau3_b1", "j_tau1_b2", "j_tau2_b2",
    "j_tau3_b2", "j_tau32_b1", "j_tau32_b2", "j_zlogz", "j_c1_b0", "j_c1_b1", "j_c1_b2", "j_c2_b1", "j_c2_b2",
    "j_d2_b1", "j_d2_b2", "j_d2_a1_b1", "j_d2_a1_b2", "j_m2_b1", "j_m2_b2", "j_n2_b1", "j_n2_b2",
    "j_tau1_b1_mmdt", "j_tau2_b1_mmdt", "j_tau3_b1_mmdt", "j_tau1_b2_mmdt", "j_tau2_b2_mmdt", "j_tau3_b2_mmdt",
    "j_tau32_b1_mmdt", "j_tau32_b2_mmdt", "j_c1_b0_mmdt", "j_c1_b1_mmdt", "j_c1_b2_mmdt", "j_c2_b1_mmdt",
    "j_c2_b2_mmdt", "j_d2_b1_mmdt", "j_d2_b2_mmdt", "j_d2_a1_b1_mmdt", "j_d2_a1_b2_mmdt", "j_m2_b1_mmdt",
    "j_m2_b2_mmdt", "j_n2_b1_mmdt", "j_n2_b2_mmdt", "j_mass_trim", "j_mass_mmdt", "j_mass_prun",
    "j_mass_sdb2", "j_mass_sdm1", "j_multiplicity", "j_g", "j_q", "j_w", "j_z", "j_t", "j_undef",
]  # fmt: skip


@pytest.fixture(scope="module")
def example() -> ParticleJets:
    return KIND.example(40, seed=3)


@pytest.fixture
def ours(tmp_path: Path, example: ParticleJets) -> Path:
    path = tmp_path / "jets.h5"
    KIND.write(path, example)
    return path


def assert_same_jets(a: ParticleJets, b: ParticleJets) -> None:
    """Every field of ``a`` and ``b`` bit for bit (NaN equal to NaN)."""
    assert a.levels == b.levels
    for name in ("gen", "gen_jets", "reco", "reco_jets", "y", "event_id", "gen_axis"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and x.shape == y.shape, name
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
    assert (a.regions is None) == (b.regions is None)
    for ra, rb in zip(a.regions or [], b.regions or [], strict=True):
        assert ra.dtype == rb.dtype == PARTICLE_DTYPE and np.array_equal(ra, rb)


def one_line_error(call: Callable[[], object], *needles: str) -> str:
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message
    return message


# ---------------------------------------------------------------- our files
def test_kind_implements_the_protocol() -> None:
    registered = KINDS["particle-jets"]  # the registry may wrap a kind (ROOT files), never replace it
    assert isinstance(KIND, DataKind) and isinstance(registered, DataKind)
    assert registered.name == KIND.name and registered.fit_codec == KIND.fit_codec


def test_round_trip_every_field_bit_exact(ours: Path, example: ParticleJets) -> None:
    back = KIND.read(ours)
    assert_same_jets(back, example)
    assert back.attrs == jsonable(example.attrs)
    with h5py.File(ours) as f:
        assert sorted(f) == ["event_id", "gen", "gen_axis", "reco", "regions", "y"]
        pf = f["reco/particle_features"]
        assert pf.fletcher32 and pf.compression == "gzip" and f["regions/particles"].compression == "gzip"
        assert f["event_id"].fletcher32 and f["regions/offsets"].shape == (len(example) + 1,)
        assert list(pf.attrs["feature_names"]) == ["eta_rel", "phi_rel", "pt_rel", "mask"]
        assert list(f["gen/jet_features"].attrs["feature_names"]) == ["pt", "eta", "mass", "n_particles"]
        assert json.loads(f.attrs["mlfastsim"])["producer"] == "mlfastsim example particle-jets"


def test_batched_writer_and_reader(tmp_path: Path, example: ParticleJets) -> None:
    path = tmp_path / "batched.h5"
    with open_particle_jet_writer(path, {"producer": "test"}) as writer:
        for lo in range(0, 40, 15):
            writer.write(example.subset(slice(lo, lo + 15)))
    assert_same_jets(read_particle_jets(path), example)
    parts = list(iter_particle_jets(path, batch_size=7))
    assert [len(p) for p in parts] == [7] * 5 + [5]
    assert_same_jets(KIND.concatenate(parts), example)


def test_one_level_only(tmp_path: Path, example: ParticleJets) -> None:
    gen_only = ParticleJets(gen=example.gen, gen_jets=example.gen_jets, y=example.y)
    KIND.write(tmp_path / "gen.hdf5", gen_only)
    with h5py.File(tmp_path / "gen.hdf5") as f:
        assert "reco" not in f and "regions" not in f
    assert_same_jets(KIND.read(tmp_path / "gen.hdf5"), gen_only)


def test_max_events_reads_only_the_rows_asked_for(tmp_path: Path) -> None:
    jets = KIND.example(300, seed=1)
    path = tmp_path / "big.h5"
    KIND.write(path, jets)
    with h5py.File(path, "r+") as f:  # break the last chunk of the gen particles
        ds = f["gen/particle_features"]
        info = ds.id.get_chunk_info(ds.id.get_num_chunks() - 1)
    with path.open("r+b") as raw:
        raw.seek(info.byte_offset + info.size // 2)
        raw.write(b"\xff" * 16)
    first = KIND.read(path, max_events=7)
    assert len(first) == 7 and len(first.regions or []) == 7
    assert_same_jets(first, jets.subset(slice(0, 7)))
    one_line_error(lambda: KIND.read(path), str(path), "corrupt")


# ---------------------------------------------------------------- public files
def test_public_jetnet_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pf = np.zeros((9, 30, 4), np.float32)
    n = rng.integers(5, 31, 9)
    for i, k in enumerate(n):
        pf[i, :k, :2] = rng.normal(0, 0.1, (k, 2))
        pf[i, :k, 2] = np.sort(rng.exponential(0.05, k))[::-1]
        pf[i, :k, 3] = 1
    jf = np.stack([rng.uniform(900, 1100, 9), rng.uniform(-2, 2, 9), rng.uniform(10, 200, 9), n], 1)
    for name in ("t.hdf5", "g150.hdf5", "jets.hdf5"):
        with h5py.File(tmp_path / name, "w") as f:
            f.create_dataset("particle_features", data=pf)
            f.create_dataset("jet_features", data=jf.astype(np.float32))
        assert kind_of(tmp_path / name).name == KIND.name
        jets = KIND.read(tmp_path / name)
        assert jets.levels == ("gen",) and jets.regions is None
        assert np.array_equal(jets.gen, pf) and np.array_equal(jets.gen_jets, jf.astype(np.float32))
        assert np.array_equal(jets.event_id, np.arange(9))
    assert np.all(KIND.read(tmp_path / "t.hdf5").y == 1) and np.all(KIND.read(tmp_path / "g150.hdf5").y == 0)
    assert np.isnan(KIND.read(tmp_path / "jets.hdf5").y).all()
    assert KIND.read(tmp_path / "t.hdf5").attrs["config"]["process"] == "t"
    assert list(jet_classes(KIND.read(tmp_path / "g150.hdf5"))) == ["g"] * 9


def write_hls4ml(path: Path, n: int = 12, seed: int = 0) -> dict[str, np.ndarray]:
    """An HLS4ML 100-particle file in the public layout, columns shuffled (found by name); returns truth."""
    rng = np.random.default_rng(seed)
    p_order, j_order = rng.permutation(16), rng.permutation(59)
    const = np.zeros((n, 100, 16))
    truth_sorted = np.zeros((n, 100, 3))
    counts = rng.integers(3, 101, n)
    counts[0] = 100
    for i, k in enumerate(counts):
        etarel, phirel = rng.normal(0, 0.2, k), rng.normal(0, 0.2, k)
        ptrel = rng.exponential(0.03, k) + 1e-4
        slots = rng.choice(100, k, replace=False)  # real particles scattered among the padding, unsorted
        for name, values in (("j1_etarel", etarel), ("j1_phirel", phirel), ("j1_ptrel", ptrel)):
            const[i, slots, HLS4ML_PARTICLE_NAMES.index(name)] = values
        const[i, slots, HLS4ML_PARTICLE_NAMES.index("j1_pt")] = ptrel * 1000
        const[i, slots, HLS4ML_PARTICLE_NAMES.index("j1_phi")] = rng.uniform(-3, 3, k)
        order = np.argsort(-ptrel)
        truth_sorted[i, :k] = np.stack([etarel, phirel, ptrel], 1)[order]
    jets = rng.normal(5, 2, (n, 59))
    cls = rng.integers(0, 5, n)
    cls[: min(n, 5)] = np.arange(min(n, 5))
    labels = np.eye(5)[cls]
    jets[:, 53:58], jets[:, 58] = labels, 0.0
    jets[:, 1], jets[:, 2], jets[:, 3] = (
        rng.uniform(800, 1200, n),
        rng.uniform(-2, 2, n),
        rng.uniform(5, 300, n),
    )
    with h5py.File(path, "w") as f:
        f.create_dataset("jetConstituentList", data=const[..., p_order])
        names = [HLS4ML_PARTICLE_NAMES[i] for i in p_order] + ["j1_pdgid"]  # 17 names, 16 columns
        f.create_dataset("particleFeatureNames", data=np.array(names, dtype="S"))
        f.create_dataset("jets", data=jets[:, j_order])
        f.create_dataset("jetFeatureNames", data=np.array([HLS4ML_JET_NAMES[i] for i in j_order], dtype="S"))
        f.create_dataset("jetImage", data=np.zeros((n, 4, 4)))
    return {"particles": truth_sorted, "counts": counts, "jets": jets[:, 1:4], "classes": cls}


def test_public_hls4ml_file_columns_by_name(tmp_path: Path) -> None:
    path = tmp_path / "jetImage_7_100p_0_10000.h5"
    truth = write_hls4ml(path)
    assert kind_of(path).name == KIND.name and not JET_IMAGES.sniff(path)
    jets = KIND.read(path)
    assert jets.levels == ("gen",) and jets.n_particles == 100
    mask = np.arange(100)[None] < truth["counts"][:, None]
    assert np.array_equal(jets.gen[..., 3], mask.astype(np.float32))
    np.testing.assert_allclose(jets.gen[..., :3], truth["particles"].astype(np.float32), rtol=0, atol=0)
    np.testing.assert_allclose(jets.gen_jets[:, :3], truth["jets"].astype(np.float32))
    assert np.array_equal(jets.gen_jets[:, 3], truth["counts"])
    names = np.array(["g", "q", "w", "z", "t"])[truth["classes"]]
    assert list(jet_classes(jets)) == list(names)
    assert np.array_equal(jets.y, np.isin(names, ["w", "z", "t"]).astype(np.float32))
    assert np.array_equal(jets.event_id % CLASS_STRIDE, np.arange(12))
    sub = KIND.select(jets, ParticleJetData(level="gen", label=1.0), "test")
    assert set(jet_classes(sub)) == {"w", "z", "t"}  # the class survives selection
    assert len(KIND.read(path, max_events=4)) == 4


# ---------------------------------------------------------------- sniffing and errors
def test_sniffing_keeps_the_kinds_apart(tmp_path: Path, ours: Path, make_toy_jets: Callable) -> None:
    images = make_toy_jets(3, seed=0)
    for suffix in (".h5", ".parquet"):
        write_jet_images(tmp_path / f"images{suffix}", images)
        assert not KIND.sniff(tmp_path / f"images{suffix}")
        assert kind_of(tmp_path / f"images{suffix}") is JET_IMAGES
    assert KIND.sniff(ours) and not JET_IMAGES.sniff(ours) and kind_of(ours).name == KIND.name
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("foo", data=np.zeros(3))
    assert not KIND.sniff(tmp_path / "other.h5")
    one_line_error(lambda: kind_of(tmp_path / "other.h5"), "other.h5")
    one_line_error(lambda: KIND.read(tmp_path / "other.h5"), "other.h5", "jetConstituentList")


def test_truncated_and_corrupt_files(tmp_path: Path, ours: Path) -> None:
    data = ours.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 2])
    one_line_error(lambda: KIND.read(tmp_path / "cut.h5"), "cut.h5", "regenerate")
    with h5py.File(ours) as f:
        info = f["reco/particle_features"].id.get_chunk_info(0)
    broken = bytearray(data)
    broken[info.byte_offset + 10 : info.byte_offset + 30] = b"\x00" * 20
    (tmp_path / "flipped.h5").write_bytes(bytes(broken))
    one_line_error(lambda: KIND.read(tmp_path / "flipped.h5"), "flipped.h5", "corrupt")
    with h5py.File(ours) as f:  # uncompressed: only the Fletcher-32 checksum sees the change
        info = f["gen/jet_features"].id.get_chunk_info(0)
    broken = bytearray(data)
    broken[info.byte_offset + 4 : info.byte_offset + 8] = b"\x00\x00\x80\x3f"
    (tmp_path / "checksum.h5").write_bytes(bytes(broken))
    one_line_error(lambda: KIND.read(tmp_path / "checksum.h5"), "checksum.h5", "corrupt")
    (tmp_path / "empty.h5").write_bytes(b"")
    one_line_error(lambda: KIND.read(tmp_path / "empty.h5"), "empty.h5")


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("gen/particle_features", (40, 30, 3)),
        ("reco/jet_features", (40, 5)),
        ("y", (39,)),
        ("gen_axis", (40, 3)),
    ],
)
def test_wrong_shapes_are_one_line(tmp_path: Path, ours: Path, name: str, shape: tuple[int, ...]) -> None:
    with h5py.File(ours, "r+") as f:
        del f[name]
        f.create_dataset(name, data=np.zeros(shape, np.float32))
    one_line_error(lambda: KIND.read(ours), str(ours), name, "shape")


def test_wrong_public_layouts(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "jn.h5", "w") as f:
        f.create_dataset("particle_features", data=np.zeros((4, 30, 4)))
        f.create_dataset("jet_features", data=np.zeros((4, 3)))
    one_line_error(lambda: KIND.read(tmp_path / "jn.h5"), "jet_features", "shape")
    path = tmp_path / "hls.h5"
    write_hls4ml(path, n=3)
    with h5py.File(path, "r+") as f:
        names = [n.decode().replace("j1_ptrel", "j1_ptfrac") for n in f["particleFeatureNames"][()]]
        del f["particleFeatureNames"]
        f.create_dataset("particleFeatureNames", data=np.array(names, dtype="S"))
    one_line_error(lambda: KIND.read(path), "j1_ptrel", "particleFeatureNames")


def test_failed_write_leaves_the_target_untouched(tmp_path: Path, example: ParticleJets) -> None:
    target = tmp_path / "keep.h5"
    target.write_bytes(b"old content")
    with pytest.raises(ValueError, match="differs from the first batch"):
        with open_particle_jet_writer(target) as writer:
            writer.write(example.subset(slice(0, 5)))
            writer.write(ParticleJets(gen=example.gen[:5], gen_jets=example.gen_jets[:5]))  # no reco level
    assert target.read_bytes() == b"old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.h5"]
    one_line_error(lambda: KIND.write(tmp_path / "jets.parquet", example), ".h5")


# ---------------------------------------------------------------- inspect
def test_inspect_json_numbers(ours: Path, example: ParticleJets, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(ours), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "particle-jets" and summary["layout"] == "mlfastsim"
    assert summary["n_events"] == 40 and summary["n_particles"] == 30 and summary["levels"] == ["gen", "reco"]
    for level in ("gen", "reco"):
        jets, parts = example.jets(level), example.particles(level)
        ok = np.isfinite(jets[:, 0])
        s = summary["per_level"][level]
        assert s["matched_jets"] == ok.sum()
        n = parts[ok, :, 3].sum(1)
        assert s["particles_per_jet"]["mean"] == pytest.approx(n.mean())
        assert s["particles_per_jet"]["q95"] == pytest.approx(np.quantile(n, 0.95))
        assert s["jet_pt_gev"]["mean"] == pytest.approx(jets[ok, 0].astype(float).mean())
        assert s["jet_mass_gev"]["median"] == pytest.approx(np.median(jets[ok, 2].astype(float)))
    assert summary["per_level"]["reco"]["matched_jets"] < 40  # the example has unmatched reco jets
    assert summary["labels"] == {"0": 20, "1": 20}
    assert summary["regions"]["stored"] is True
    assert summary["regions"]["particles_per_jet"]["mean"] == pytest.approx(
        np.mean([len(r) for r in example.regions or []])
    )
    assert summary["attrs"]["producer"] == "mlfastsim example particle-jets"
    assert main(["inspect", str(ours), "--max-events", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_events"] == 5
    assert main(["inspect", str(ours)]) == 0
    text = capsys.readouterr().out
    assert "jets: 40" in text and "reco" in text and "regions (detector input) stored: yes" in text


# ---------------------------------------------------------------- codec, selection, examples
@pytest.mark.parametrize("level", ["reco", "gen"])
def test_codec_round_trip_restores_particles(example: ParticleJets, level: str) -> None:
    data = ParticleJetData(level=level)  # type: ignore[arg-type]
    codec = KIND.load_codec(KIND.fit_codec(example, data).to_dict())
    assert isinstance(codec, ParticleJetCodec)
    batch = codec.encode(example, frozenset({"features", "mask"}))
    assert batch["features"].shape == (40, 30, 3)
    back = codec.decode({"features": batch["features"], "mask": batch["mask"]}, like=example)
    original = example.particles(level)
    assert np.array_equal(back.particles(level)[..., 3], original[..., 3])
    np.testing.assert_allclose(back.particles(level)[..., :2], original[..., :2], atol=2e-6)
    np.testing.assert_allclose(back.particles(level)[..., 2], original[..., 2], rtol=2e-5, atol=1e-9)
    assert np.array_equal(back.event_id, example.event_id)
    other = "gen" if level == "reco" else "reco"
    assert np.array_equal(back.particles(other), example.particles(other))


def _decoded_the_old_way(features: np.ndarray, mask: np.ndarray, norm: Any) -> np.ndarray:
    """The particle-vae decoding before it was made fast: the normaliser's inverse, then a stable sort of
    every array by decreasing pT_rel, padding zeroed again."""
    feats = norm.inverse_transform(features, mask)
    order = np.argsort(-np.where(mask, feats[..., 2], -np.inf), axis=1, kind="stable")
    feats = np.take_along_axis(feats, order[..., None], axis=1)
    mask = np.take_along_axis(mask, order, axis=1)
    return np.concatenate([feats * mask[..., None], mask[..., None].astype(np.float32)], axis=-1)


def test_decoding_is_bit_for_bit_the_normalisers_inverse_and_the_stable_sort(example: ParticleJets) -> None:
    """Model outputs with ties in pT (the stable order must hold), holes in the mask, negative angles in
    padded slots (the sign of zero) and values beyond the exp clip decode to exactly the same bytes."""
    codec = KIND.fit_codec(example, ParticleJetData(level="reco"))
    rng = np.random.default_rng(3)
    feats = rng.normal(0.0, 2.0, (300, 30, 3)).astype(np.float32)
    feats[:, 5:12, 2] = feats[:, 5:6, 2]  # equal pT_rel within a jet
    feats[:7, :, 2] = 60.0  # exp clipped at 30
    mask = rng.random((300, 30)) < 0.7
    new = physical_particles(torch.from_numpy(feats), torch.from_numpy(mask), codec.norm)
    old = _decoded_the_old_way(feats, mask, codec.norm)
    assert new.dtype == old.dtype and new.shape == old.shape and new.tobytes() == old.tobytes()
    prior = codec.decode({"features": torch.from_numpy(feats), "mask": torch.from_numpy(mask)}, None)
    assert prior.reco.tobytes() == old.tobytes()
    assert np.isnan(prior.reco_jets[:, :3]).all()  # no jet pT without conditions: pT, η, mass unknown
    assert np.array_equal(prior.reco_jets[:, 3], mask.sum(1))


def test_detector_codec_carries_the_whole_jets_response(example: ParticleJets) -> None:
    """The reco jet's pT and mass come back from the generated response, not from the P kept constituents."""
    jets = KIND.select(example, ParticleJetData(level="reco"), "test")
    codec = KIND.fit_codec(jets, ParticleJetData(level="reco"))
    keys = frozenset({"features", "mask", "gen_features", "gen_mask", "response"})
    batch = codec.encode(jets, keys)
    assert batch["response"].shape == (len(jets), 2)
    back = codec.decode({k: batch[k] for k in ("features", "mask", "response")}, like=jets)
    np.testing.assert_allclose(back.reco_jets[:, [0, 2]], jets.reco_jets[:, [0, 2]], rtol=1e-4)
    assert codec.model_fields()["n_response"] == 2
    pt_only = codec.decode(
        {k: batch[k] for k in ("features", "mask")} | {"response": batch["response"][:, :1]}, jets
    )
    np.testing.assert_allclose(pt_only.reco_jets[:, 0], jets.reco_jets[:, 0], rtol=1e-4)


def test_select(example: ParticleJets) -> None:
    picked = KIND.select(example, ParticleJetData(level="reco"), "test")
    assert len(picked) == np.isfinite(example.reco_jets[:, 0]).sum() < 40
    assert np.isfinite(picked.reco_jets).all()
    gluon_like = KIND.select(example, ParticleJetData(level="gen", label=0.0), "test")
    assert len(gluon_like) == 20 and np.all(gluon_like.y == 0)
    one_line_error(lambda: KIND.select(example, ParticleJetData(label=7.0), "run.toml"), "fewer than 2")
    gen_only = ParticleJets(gen=example.gen, gen_jets=example.gen_jets)
    one_line_error(lambda: KIND.select(gen_only, ParticleJetData(level="reco"), "run.toml"), "data.level")


def test_example_is_reproducible_and_physical() -> None:
    a, b, c = KIND.example(30, 11), KIND.example(30, 11), KIND.example(30, 12)
    assert_same_jets(a, b)
    assert not np.array_equal(a.gen, c.gen)
    assert a.regions is not None and a.gen_axis is not None and len(a.regions) == 30
    n_gen, n_reco = a.gen[..., 3].sum(1), a.reco[..., 3].sum(1)
    assert n_gen.min() >= 10 and n_gen.max() <= 30 and np.all(n_reco <= n_gen) and np.any(n_reco < n_gen)
    matched = np.isfinite(a.reco_jets[:, 0])
    response = a.reco_jets[matched, 0] / a.gen_jets[matched, 0]
    assert 0.7 < response.mean() < 1.0 and response.std() > 0.01  # lost particles, smeared pT
    assert np.all(np.diff(a.gen[..., 2], axis=1) <= 0)  # decreasing pT_rel, padding last
    assert np.array_equal(a.gen_jets[:, 3], n_gen)
    assert a.gen_jets[a.y == 1, 2].mean() > 1.5 * a.gen_jets[a.y == 0, 2].mean()  # two prongs: heavier
    assert np.all(a.gen[..., 2].sum(1) >= 0.99)


def test_level_features_wraps_phi_and_keeps_the_hardest() -> None:
    p = np.zeros(4, PARTICLE_DTYPE)
    p["pt"], p["eta"], p["phi"] = [10.0, 40.0, 20.0, 30.0], [0.1, 0.2, 0.3, 0.4], [-3.1, 3.1, 3.0, -3.0]
    feats, jet = level_features(p, np.array([100.0, 0.25, 3.1, 50.0]), 3)
    np.testing.assert_allclose(feats[:, 2], [0.4, 0.3, 0.2])
    np.testing.assert_allclose(feats[:, 0], [-0.05, 0.15, 0.05], atol=1e-7)
    np.testing.assert_allclose(feats[:, 1], [0.0, 2 * np.pi - 6.1, -0.1], atol=1e-6)
    assert list(jet) == [100.0, 0.25, 50.0, 3.0] and np.all(feats[:, 3] == 1)
    feats, jet = level_features(p, np.full(4, np.nan), 3)
    assert np.isnan(jet).all() and not feats.any()


def test_generate_rejects_bad_options(tmp_path: Path, ours: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x.h5")
    assert main(["generate", "particle-jets", "--out", out]) == 2
    assert "--process is required" in capsys.readouterr().err
    assert main(["generate", "particle-jets", "--process", "t", "--out", str(tmp_path / "x.parquet")]) == 2
    assert main(["generate", "particle-jets", "--process", "t", "--events", "0", "--out", out]) == 2
    gen_only = tmp_path / "gen_only.h5"
    KIND.write(gen_only, ParticleJets(gen=np.zeros((2, 3, 4)), gen_jets=np.ones((2, 4))))
    assert main(["generate", "particle-jets", "--resimulate", str(gen_only), "--out", out]) == 2
    assert "no generator-level regions" in capsys.readouterr().err
    assert not Path(out).exists()


# ---------------------------------------------------------------- Pythia
@pytest.mark.pythia
def test_generate_and_resimulate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    out, resim = tmp_path / "t.h5", tmp_path / "t_resim.h5"
    args = ["generate", "particle-jets", "--process", "t", "--events", "20", "--particles", "30"]
    assert main([*args, "--out", str(out), "--seed", "4"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["n_events"] == 20 and summary["generation"] > 0 and summary["detector"] > 0
    jets = KIND.read(out)
    assert len(jets) == 20 and jets.levels == ("gen", "reco") and jets.n_particles == 30
    assert np.array_equal(jets.event_id, np.arange(20)) and np.all(jets.y == 1)
    assert np.all(jets.gen[..., 3].sum(1) == jets.gen_jets[:, 3]) and np.all(jets.gen_jets[:, 3] == 30)
    assert np.all(np.abs(jets.gen[..., 1]) <= np.pi) and np.all(np.diff(jets.gen[..., 2], axis=1) <= 0)
    assert np.all((jets.gen_jets[:, 0] >= 800) & (jets.gen_jets[:, 0] < 1600))
    assert np.isfinite(jets.reco_jets).all(axis=1).sum() >= 18
    assert jets.regions is not None and all(len(r) >= 30 for r in jets.regions)
    config = jets.attrs["config"]
    assert config["process"] == "t" and config["n_particles"] == 30 and config["shard"] == "0/1"
    assert set(jets.attrs["wall_time_per_event_s"]) == {"generation", "detector"}
    assert (
        main(["generate", "particle-jets", "--resimulate", str(out), "--out", str(resim), "--seed", "9"]) == 0
    )
    again = KIND.read(resim)
    for name in ("gen", "gen_jets", "y", "event_id", "gen_axis"):
        assert np.array_equal(getattr(again, name), getattr(jets, name)), name
    assert all(np.array_equal(a, b) for a, b in zip(again.regions or [], jets.regions, strict=True))
    assert not np.array_equal(again.reco, jets.reco)
    matched = np.isfinite(again.reco_jets[:, 0]) & np.isfinite(jets.reco_jets[:, 0])
    ratio = again.reco_jets[matched, 0] / jets.reco_jets[matched, 0]
    assert np.all(np.abs(ratio - 1) < 0.2) and np.any(ratio != 1)  # same jets, new detector noise
    assert again.attrs["config"]["resimulated_from"] == str(out)


def test_region_particles_are_the_detectors_input_with_their_type() -> None:
    """The ``region`` detector-mode input: each jet's region particles in decreasing pT, relative to the gen
    jet axis and pT, with a one-hot type, truncated to ``p`` slots and zero-padded — and a clear error for a
    file without regions."""
    from mlfastsim.data.kinds.particle_jets.region import particle_types, region_particles

    types = particle_types(np.array([211, -11, 13, 22, 2112, -321, 130]), np.array([1, 1, -1, 0, 0, -1, 0]))
    np.testing.assert_array_equal(types, [0, 1, 2, 3, 4, 0, 4])
    jets = KIND.example(20, 3)
    assert jets.regions is not None and jets.gen_axis is not None
    p = 25
    feats, mask = region_particles(jets, p)
    assert feats.shape == (20, p, 8) and mask.shape == (20, p)
    for i, region in enumerate(jets.regions):
        k = min(len(region), p)
        assert mask[i].sum() == k and not feats[i, k:].any()
        top = np.sort(region["pt"])[::-1][:k]
        np.testing.assert_allclose(feats[i, :k, 2], top / jets.gen_jets[i, 0], rtol=1e-5)
        lead = region[np.argmax(region["pt"])]
        np.testing.assert_allclose(feats[i, 0, 0], lead["eta"] - jets.gen_axis[i, 0], atol=1e-5)
        np.testing.assert_array_equal(feats[i, :k, 3:].sum(1), 1.0)
        expected = particle_types(np.array([lead["pdgid"]]), np.array([lead["charge"]]))[0]
        assert feats[i, 0, 3 + expected] == 1.0
    assert np.abs(feats[..., 1]).max() <= np.pi
    with pytest.raises(InputError, match="regions"):
        region_particles(ParticleJets(gen=jets.gen, gen_jets=jets.gen_jets), p)
