"""Every writing command on a full and on a read-only file system (the real command line): one line, a
non-zero exit, no partial file, and the file already there untouched.

The full file system is a 4 MiB tmpfs filled to the last byte; the read-only one a directory without write
permission or — for root, whom permissions do not stop — a tmpfs remounted read-only. Both are skipped, with
the reason, where the test may not mount."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest


def _writers(inputs: dict[str, Path], target: Path) -> dict[str, tuple[object, ...]]:
    """One run of every writing command with its output in ``target``."""
    return {
        "generate": ("generate", "tpc", "--events", "2000", "--out", target / "gen.h5"),
        "train": ("train", "cgan-tpc", "--data", inputs["tpc"], "--out", target / "run", "--epochs", "1"),
        "sample": ("sample", "--run", inputs["run"], "--n", "200", "--out", target / "sample.h5"),
        "evaluate": (
            *("evaluate", "--reference", inputs["tpc"], "--candidate", inputs["tpc-other"]),
            *("--out", target / "eval", "--no-plots"),
        ),
        "export": ("export", "--run", inputs["run"], "--format", "onnx", "--out", target / "sampler.onnx"),
        "merge": ("merge", inputs["shard0"], inputs["shard1"], "--out", target / "merged.h5"),
    }


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A read-only folder holding ``keep.h5``: chmod 0555, or for root a tmpfs remounted read-only."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        (folder / "keep.h5").write_bytes(b"an existing output")
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        reason = mounted.stderr.decode().strip() or f"mount exited {mounted.returncode}"
        pytest.skip(f"root ignores chmod and no read-only tmpfs can be mounted here: {reason}")
    try:
        (folder / "keep.h5").write_bytes(b"an existing output")
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.parametrize(
    "writers",
    [("generate", "train", "evaluate"), pytest.param(("sample", "export", "merge"), marks=pytest.mark.slow)],
)
def test_every_writing_command_on_a_full_file_system(
    small_fs: Path, cli: Any, inputs: dict[str, Path], faults: SimpleNamespace, writers: tuple[str, ...]
) -> None:
    keep = small_fs / "keep.h5"
    shutil.copy(inputs["tpc"], keep)
    before = faults.sha256(keep)
    faults.fill(small_fs)
    commands = {name: args for name, args in _writers(inputs, small_fs).items() if name in writers}
    for name, outcome in zip(commands, faults.run_all(cli, *commands.values()), strict=True):
        line = faults.one_line(outcome, 1)
        assert line.startswith("error: no space left on the device"), line
        assert faults.listing(small_fs) == ["filler", "keep.h5"], (name, faults.listing(small_fs))
        faults.record(f"full file system: {name}", outcome, "none (keep.h5 untouched)", small_fs.parent)
    assert faults.sha256(keep) == before


@pytest.mark.parametrize(
    "writers",
    [("generate", "train"), pytest.param(("sample", "evaluate", "export", "merge"), marks=pytest.mark.slow)],
)
def test_every_writing_command_on_a_read_only_file_system(
    read_only: Path, cli: Any, inputs: dict[str, Path], faults: SimpleNamespace, writers: tuple[str, ...]
) -> None:
    before = faults.sha256(read_only / "keep.h5")
    commands = {name: args for name, args in _writers(inputs, read_only).items() if name in writers}
    for name, outcome in zip(commands, faults.run_all(cli, *commands.values()), strict=True):
        line = faults.one_line(outcome, 2)
        assert "cannot be written" in line and ("Read-only" in line or "Permission denied" in line), line
        assert faults.listing(read_only) == ["keep.h5"], (name, faults.listing(read_only))
        faults.record(f"read-only file system: {name}", outcome, "none (keep.h5 untouched)", read_only.parent)
    assert faults.sha256(read_only / "keep.h5") == before


@pytest.mark.slow
def test_export_torchscript_on_a_full_file_system(
    small_fs: Path, cli: Any, inputs: dict[str, Path], faults: SimpleNamespace
) -> None:
    faults.fill(small_fs)
    args = ("export", "--run", inputs["run"], "--format", "torchscript", "--out", small_fs / "sampler.pt")
    (outcome,) = faults.run_all(cli, args)
    faults.record(
        "full file system: export --format torchscript",
        outcome,
        ", ".join(n for n in faults.listing(small_fs) if n != "filler") or "none",
        small_fs.parent,
        message=(outcome.lines[0] if outcome.lines else "(none)"),
    )
    assert faults.one_line(outcome, 1).startswith("error: no space left on the device")
    assert faults.listing(small_fs) == ["filler"]
