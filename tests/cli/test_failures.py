"""Every failure is one line and a non-zero exit (issue 13, point 3): bad settings at parse time (NaN/inf
included), an unwritable, read-only or full --out, degenerate data, a 1-event candidate, Ctrl-C during
start-up and SIGTERM; a traceback only with --debug."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from mlfastsim.cli.main import main
from mlfastsim.data.io import write_jet_images
from mlfastsim.data.kinds import KINDS

SMALL = ["--set", "model.clusters=[12,4]", "--set", "model.hidden=[16,16]", "--set", "model.latent=4"]
SMALL += ["--set", "data.n_max=64", "--set", "train.batch_size=8"]


@pytest.fixture(scope="module")
def jets(tmp_path_factory: pytest.TempPathFactory, make_toy_jets: Callable) -> Path:
    path = tmp_path_factory.mktemp("failures") / "toy.h5"
    write_jet_images(path, make_toy_jets(48, seed=1))
    return path


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The error line (informational "resume: ..." lines may come before it)."""
    lines = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("resume:")]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in lines[0], lines
    return lines[0]


def _train(data: Path, out: Path, *extra: str) -> int:
    return main(["train", "gvae-paper", "--data", str(data), "--out", str(out), *SMALL, *extra])


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("data.n_max=0", "data.n_max=0 must be >= 1"),
        ("data.val_fraction=1.0", "data.val_fraction=1.0 must lie in [0, 1)"),
        ("data.val_fraction=-0.1", "data.val_fraction=-0.1 must lie in [0, 1)"),
        ("data.channels=[5]", "unknown channel 5"),
        ("model.latent=-1", "model.latent=-1 must be >= 0"),
        ("train.lr=nan", "is not a finite number"),
        ("train.lr=inf", "is not a finite number"),
        ("train.weight_decay=-inf", "is not a finite number"),
        ("data.max_events=1", "at least 2 events"),
    ],
)
def test_bad_settings_are_refused_at_parse_time(
    jets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, words: str
) -> None:
    out = tmp_path / "run"
    assert _train(jets, out, "--set", setting) == 2
    assert words in _one_line(capsys)
    assert not out.exists()  # refused before anything was created


def test_nan_in_a_config_file_is_refused(
    jets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[train]\nlr = nan\n")
    assert _train(jets, tmp_path / "run", "--config", str(config)) == 2
    assert "train.lr" in _one_line(capsys)


def test_out_is_checked_before_the_data_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = KINDS["jet-images"].example(8, seed=1)
    bad.images[3, 1, 60, 60] = np.nan  # reading these data would fail: the --out failure must come first
    data = tmp_path / "nan.h5"
    write_jet_images(data, bad)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert _train(data, blocker / "run") == 2
    assert "--out" in _one_line(capsys)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (skipped where the test may not mount one)."""
    mount = tmp_path / "fs"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.decode().strip() or 'not permitted'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path, name: str, leave: int) -> None:
    """Fill the file system of ``folder`` up to ``leave`` free bytes."""
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    (folder / name).write_bytes(b"\0" * max(free - leave, 0))


def test_a_full_disk_is_one_line_and_keeps_the_last_checkpoint(
    jets: Path, small_fs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = small_fs / "run"
    assert _train(jets, out, "--epochs", "1") == 0
    last = (out / "last.pt").read_bytes()
    _fill(small_fs, "filler", leave=4096)
    capsys.readouterr()
    assert _train(jets, out, "--epochs", "3", "--resume") == 1
    assert "no space left" in _one_line(capsys)
    assert (out / "last.pt").read_bytes() == last  # the good checkpoint survives
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]  # no half-written temporaries
    _fill(small_fs, "filler-2", leave=0)
    scores = small_fs / "scores.npz"
    assert main(["score", "--run", str(out), "--data", str(jets), "--out", str(scores)]) == 1
    assert "no space left" in _one_line(capsys) and not scores.exists()


def test_a_read_only_file_system_is_one_line(
    jets: Path, small_fs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    assert _train(jets, small_fs / "run") == 2
    assert "Read-only file system" in _one_line(capsys)
    assert (
        main(["evaluate", "--reference", str(jets), "--candidate", str(jets), "--out", str(small_fs / "e")])
        == 2
    )
    assert "Read-only file system" in _one_line(capsys)


def test_all_zero_events_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kind = KINDS["tpc"]
    zero = kind.example(40, seed=1)
    zero.adc[...] = 0
    zero.conditions[...] = 0
    data = tmp_path / "zero.h5"
    kind.write(data, zero)
    assert main(["train", "library", "--data", str(data), "--out", str(tmp_path / "run")]) == 2
    assert "every training event is the same" in _one_line(capsys)


def test_a_one_event_candidate_is_refused_and_nothing_is_created(
    jets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], make_toy_jets: Callable
) -> None:
    one = tmp_path / "one.h5"
    write_jet_images(one, make_toy_jets(1, seed=3))
    out = tmp_path / "eval"
    assert main(["evaluate", "--reference", str(jets), "--candidate", str(one), "--out", str(out)]) == 2
    assert "1 event(s)" in _one_line(capsys)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["one.h5"]


def test_a_traceback_only_with_debug(jets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mlfastsim._utils import InputError

    assert _train(jets, tmp_path / "run", "--set", "train.lr=nan") == 2
    _one_line(capsys)
    with pytest.raises(InputError):
        main(
            [
                "--debug",
                "train",
                "gvae-paper",
                "--data",
                str(jets),
                "--out",
                str(tmp_path / "r"),
                "--set",
                "train.lr=nan",
            ]
        )


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MLFASTSIM_PROGRESS": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "mlfastsim.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_ctrl_c_during_start_up_is_one_line() -> None:
    proc = _spawn("train", "--help")
    maps, deadline = Path(f"/proc/{proc.pid}/maps"), time.time() + 60
    while time.time() < deadline and proc.poll() is None:  # until torch's libraries are being loaded
        if not maps.exists() or "torch" in maps.read_text():
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("start-up finished before the signal arrived")
    assert (
        proc.returncode == 130 and err.strip() == "error: interrupted; nothing half-written was left behind"
    )


def test_sigterm_stops_training_cleanly_and_the_run_resumes(jets: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _spawn("train", "gvae-paper", "--data", str(jets), "--out", str(out), *SMALL, "--epochs", "100000")
    deadline = time.time() + 120
    while not (out / "last.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("error: terminated (SIGTERM)") and "Traceback" not in err
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert _train(jets, out, "--epochs", "1", "--resume") == 0  # last.pt is a valid resume point
