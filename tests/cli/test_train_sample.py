"""End to end on real reference-simulation jets: train each family, resume exactly, sample, reconstruct."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mlfastsim.cli.main import main
from mlfastsim.data.io import read_jet_images
from mlfastsim.inference import load_run, reconstruct_run

pytestmark = pytest.mark.pythia

SMALL = ["--set", "data.n_max=128", "--set", "train.batch_size=16"]


@pytest.fixture(scope="module")
def qcd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("train") / "qcd.parquet"
    assert main(["generate", "jet-images", "--events", "80", "--seed", "3", "--out", str(path)]) == 0
    return path


def _train(family: str, data: Path, out: Path, *extra: str) -> dict:
    code = main(
        [
            "train",
            family,
            "--data",
            str(data),
            "--out",
            str(out),
            "--config",
            f"configs/{family}.toml",
            *SMALL,
            *extra,
        ]
    )
    assert code == 0
    return json.loads((out / "config.json").read_text())


def test_gvae_trains_resumes_exactly_and_samples(
    qcd: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _train("gvae", qcd, tmp_path / "full", "--max-steps", "6", "--seed", "4")
    _train("gvae", qcd, tmp_path / "killed", "--max-steps", "3", "--seed", "4")
    _train("gvae", qcd, tmp_path / "killed", "--max-steps", "6", "--seed", "4", "--resume")
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=False)["model_state"]
    b = torch.load(tmp_path / "killed" / "last.pt", weights_only=False)["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a), "a resumed run must equal an uninterrupted one"

    prior, cond = tmp_path / "prior.h5", tmp_path / "cond.parquet"
    assert main(["sample", "--run", str(tmp_path / "full"), "--n", "30", "--out", str(prior)]) == 0
    assert (
        main(["sample", "--run", str(tmp_path / "full"), "--conditions", str(qcd), "--out", str(cond)]) == 0
    )
    jets, ref = read_jet_images(prior), read_jet_images(qcd)
    assert jets.images.shape == (30, 3, 125, 125) and (jets.images[:, 1] > 0).any()
    assert jets.attrs["config"]["family"] == "gvae" and jets.attrs["version"]
    conditioned = read_jet_images(cond)
    assert len(conditioned) == len(ref) and np.array_equal(conditioned.pt, ref.pt)
    capsys.readouterr()
    assert main(["inspect", str(prior), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_events"] == 30
    scores = tmp_path / "scores.npz"
    assert main(["score", "--run", str(tmp_path / "full"), "--data", str(qcd), "--out", str(scores)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert 0.0 <= summary["auc_y1_vs_y0"] <= 1.0 and summary["n_y0"] + summary["n_y1"] == len(ref)
    assert np.load(scores)["scores"].shape == (len(ref),)
    # prior samples record the jet kinematics they were drawn for (the jet η sets the ECAL mass and pT)
    assert np.isfinite(jets.eta).all() and np.isfinite(jets.pt).all() and np.isfinite(jets.m0).all()
    nearest = np.abs(jets.pt[:, None] - ref.pt[None, :]).min(1)  # drawn from the training jets' kinematics
    assert (nearest < 1e-3 * jets.pt).all()

    # a checkpoint from a model this version does not build: one clear line, nothing written
    broken = tmp_path / "broken"
    broken.mkdir()
    ckpt = torch.load(tmp_path / "full" / "last.pt", weights_only=False)
    ckpt["model_state"]["mixture_head.weight"] = ckpt["model_state"]["mixture_head.weight"][:, :5]
    torch.save(ckpt, broken / "last.pt")
    capsys.readouterr()
    out = tmp_path / "never.h5"
    assert main(["sample", "--run", str(broken), "--n", "5", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "retrain" in err and "\n" not in err and not out.exists()


def test_gvae_paper_reconstructs_and_refuses_to_sample(
    qcd: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _train("gvae-paper", qcd, tmp_path / "paper", "--max-steps", "2")
    run = load_run(tmp_path / "paper")
    jets = read_jet_images(qcd, max_events=10)
    recon = reconstruct_run(run, jets)
    assert recon.images.shape == jets.images.shape and np.array_equal(recon.pt, jets.pt)
    capsys.readouterr()
    assert (
        main(["sample", "--run", str(tmp_path / "paper"), "--n", "5", "--out", str(tmp_path / "x.h5")]) != 0
    )
    assert not (tmp_path / "x.h5").exists()


def test_library_replays_training_jets(qcd: Path, tmp_path: Path) -> None:
    _train("library", qcd, tmp_path / "lib")
    out = tmp_path / "lib.parquet"
    assert main(["sample", "--run", str(tmp_path / "lib"), "--conditions", str(qcd), "--out", str(out)]) == 0
    ref, lib = read_jet_images(qcd), read_jet_images(out)

    # every replayed jet is a stored one: its hottest ECAL cells are those of a reference jet, and its
    # energies are rescaled to the requested jet pT
    def hottest(img: np.ndarray) -> tuple[int, ...]:
        return tuple(np.argsort(img[1].ravel())[-5:])

    stored = {hottest(img) for img in ref.images}
    assert sum(hottest(img) in stored for img in lib.images) == len(lib)
    assert np.array_equal(lib.pt, ref.pt)


def test_train_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "nope", "--data", "x.parquet", "--out", str(tmp_path / "r")]) == 2
    assert "unknown model family" in capsys.readouterr().err
    assert (
        main(["train", "gvae", "--data", str(tmp_path / "missing.parquet"), "--out", str(tmp_path / "r")])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert "missing.parquet" in err and "\n" not in err
