"""Runs cannot mix (issue 13, point 1): one run per directory, one training at a time, and a resume that
refuses another model, data file or normaliser and applies — never drops — changed optimiser settings."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from mlfastsim.cli.main import main
from mlfastsim.data.io import write_jet_images

SMALL = [
    "--set",
    "model.clusters=[12,4]",
    "--set",
    "model.hidden=[16,16]",
    "--set",
    "model.latent=4",
    "--set",
    "data.n_max=64",
    "--set",
    "train.batch_size=8",
]


@pytest.fixture(scope="module")
def jets(tmp_path_factory: pytest.TempPathFactory, make_toy_jets: Callable) -> Path:
    path = tmp_path_factory.mktemp("rundir") / "toy.h5"
    write_jet_images(path, make_toy_jets(48, seed=1))
    return path


def _train(data: Path, out: Path, *extra: str) -> int:
    return main(["train", "gvae-paper", "--data", str(data), "--out", str(out), *SMALL, *extra])


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def test_a_directory_holding_another_run_is_refused(
    jets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert _train(jets, out, "--epochs", "2") == 0
    best = (out / "best.pt").read_bytes()
    capsys.readouterr()
    assert _train(jets, out, "--max-steps", "2", "--seed", "7") == 2
    err = _err(capsys)
    assert "--resume" in err and "--overwrite" in err and "another run" in err
    assert (out / "best.pt").read_bytes() == best  # nothing of the old run was touched

    # --overwrite replaces the whole run: the old best.pt cannot be sampled in place of the new run
    assert _train(jets, out, "--max-steps", "2", "--seed", "7", "--overwrite") == 0
    assert not (out / "best.pt").exists()  # 2 steps: no epoch ended, no validation, no best.pt yet
    assert torch.load(out / "last.pt", weights_only=True)["seed"] == 7
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in records) == 2  # the old run's log is gone


def test_a_second_training_into_the_same_directory_is_refused(
    jets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    holder = (
        "import sys, time\n"
        "from mlfastsim.training.rundir import claim_run_dir\n"
        f"with claim_run_dir({str(out)!r}, False, False):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        assert _train(jets, out, "--max-steps", "2") == 2
        err = _err(capsys)
        assert "another process" in err and f"pid {proc.pid}" in err
        assert not (out / "last.pt").exists()
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    time.sleep(0.1)
    assert _train(jets, out, "--max-steps", "2") == 0  # the kernel released the lock of the killed process


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (["--set", "model.latent=5"], "model.latent"),
        (["--set", "data.n_max=32"], "data.n_max"),
        (["--seed", "3"], "train.seed"),
        (["--set", "train.optimizer=adamw"], "train.optimizer"),
    ],
)
def test_resume_refuses_what_changes_what_is_trained(
    jets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: list[str], words: str
) -> None:
    out = tmp_path / "run"
    assert _train(jets, out, "--max-steps", "2") == 0
    before = (out / "last.pt").read_bytes()
    capsys.readouterr()
    assert _train(jets, out, "--max-steps", "4", "--resume", *change) == 2
    err = _err(capsys)
    assert words in err and "--resume" in err
    assert (out / "last.pt").read_bytes() == before


def test_resume_refuses_another_data_file(
    jets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], make_toy_jets: Callable
) -> None:
    out, other = tmp_path / "run", tmp_path / "other.h5"
    write_jet_images(other, make_toy_jets(48, seed=2))
    assert _train(jets, out, "--max-steps", "2") == 0
    capsys.readouterr()
    assert _train(other, out, "--max-steps", "4", "--resume") == 2
    assert "not the file the run was trained on" in _err(capsys)


def test_resume_applies_a_changed_learning_rate_and_says_so(
    jets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert _train(jets, out, "--max-steps", "2", "--set", "train.log_every_steps=1") == 0
    capsys.readouterr()
    assert _train(jets, out, "--max-steps", "4", "--resume", "--set", "train.lr=0.02") == 0
    assert "train.lr 0.001 -> 0.02" in capsys.readouterr().err
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    lrs = {r["step"]: r["lr"] for r in records if r["split"] == "train"}
    assert lrs[2] == pytest.approx(1e-3) and lrs[4] == pytest.approx(
        0.02
    )  # applied, not recorded and ignored
    assert torch.load(out / "last.pt", weights_only=True)["config"]["train"]["lr"] == pytest.approx(0.02)
