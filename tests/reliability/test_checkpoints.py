"""Corrupted checkpoints on the real command line: a truncated ``last.pt`` and one with bytes overwritten
inside a tensor (the zip archive stays valid, so torch alone would load other weights) are refused by every
command that reads them — with one line and exit 2 — and nothing is written; the run stays as it was."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch


def _truncate(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def _overwrite_inside_a_tensor(path: Path) -> None:
    """Four bytes in the middle of the largest stored tensor become an IEEE inf."""
    with zipfile.ZipFile(path) as zf:
        info = max((i for i in zf.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    with path.open("r+b") as fh:
        fh.seek(info.header_offset + 26)
        name_len, extra_len = (int.from_bytes(fh.read(2), "little") for _ in range(2))
        start = info.header_offset + 30 + name_len + extra_len  # the member's data (stored, not compressed)
        fh.seek(start + (info.file_size // 8) * 4)
        fh.write(b"\x00\x00\x80\x7f")
    torch.load(path, weights_only=True)  # still a valid archive: only the content hash can tell


CORRUPTIONS = {
    "truncated last.pt": _truncate,
    "bytes overwritten inside a tensor of last.pt": _overwrite_inside_a_tensor,
}


TRUNCATED, OVERWRITTEN = CORRUPTIONS


@pytest.mark.parametrize(
    ("corruption", "readers"),
    [
        (TRUNCATED, ("resume",)),
        (OVERWRITTEN, ("sample",)),
        pytest.param(TRUNCATED, ("sample", "export"), marks=pytest.mark.slow),
        pytest.param(OVERWRITTEN, ("resume", "export"), marks=pytest.mark.slow),
    ],
)
def test_a_corrupted_checkpoint_is_refused_and_nothing_is_written(
    tmp_path: Path,
    cli: Any,
    inputs: dict[str, Path],
    faults: SimpleNamespace,
    corruption: str,
    readers: tuple[str, ...],
) -> None:
    run = tmp_path / "run"
    shutil.copytree(inputs["run"], run)
    CORRUPTIONS[corruption](run / "last.pt")
    before, entries = faults.hashes(run), faults.listing(tmp_path)
    before.pop(".lock", None)  # the lock file holds the pid of the last process that held it
    commands = {
        "sample": ("sample", "--run", run, "--checkpoint", "last", "--n", "50", "--out", tmp_path / "s.h5"),
        "resume": ("train", "cgan-tpc", "--data", inputs["tpc"], "--out", run, "--resume", "--epochs", "3"),
        "export": (
            "export",
            "--run",
            run,
            "--checkpoint",
            "last",
            "--format",
            "torchscript",
            "--out",
            tmp_path / "x.pt",
        ),
    }
    commands = {name: commands[name] for name in readers}
    outcomes = dict(zip(commands, faults.run_all(cli, *commands.values()), strict=True))
    for name, outcome in outcomes.items():
        line = faults.one_line(outcome, 2)
        assert "last.pt" in line and "corrupt" in line, line
        faults.record(f"{corruption}: {name}", outcome, "none (run unchanged, no output)", tmp_path)
    after = faults.hashes(run)
    after.pop(".lock", None)
    assert after == before  # best.pt, config.json and the log are untouched
    assert faults.listing(tmp_path) == entries  # no output, no temporary
