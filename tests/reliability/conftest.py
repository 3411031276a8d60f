"""Fault injection (issue 13, point 7): the real ``mlfastsim`` command line in subprocesses
(``sys.executable -m mlfastsim``), signals, corrupt files and small file systems, and a record of what each
probe observed.

``MLFASTSIM_PROBE_TABLE=FILE pytest tests/reliability -m 'slow or not slow'`` writes the observed table
(probe | command | exit | message | leftovers) to FILE at the end of the session (docs/reliability.md).
Inputs are made in the test process with the kinds' ``example(n, seed)`` (no Pythia); only the probes run
as subprocesses, several at once where they are independent (start-up dominates their cost).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

from mlfastsim.cli.main import main
from mlfastsim.data.kinds import KINDS

#: The command line under test.
CLI = (sys.executable, "-m", "mlfastsim")
#: Settings of a small, fast gvae-paper (8 steps per epoch on 64 example jets).
SMALL_GVAE = [
    *("--set", "model.clusters=[12,4]", "--set", "model.hidden=[16,16]", "--set", "model.latent=4"),
    *("--set", "data.n_max=64", "--set", "train.batch_size=8"),
]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFASTSIM_DEBUG"}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MLFASTSIM_PROGRESS="0", PYTHONUNBUFFERED="1")
    return env


@dataclasses.dataclass
class Outcome:
    """One finished command: its arguments, exit status (negative: killed by that signal) and output."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        """The non-empty lines of stderr."""
        return [line for line in self.stderr.splitlines() if line.strip()]

    def __str__(self) -> str:
        return f"mlfastsim {' '.join(self.args)} -> {self.returncode}\nstderr:\n{self.stderr[-3000:]}"


class Command:
    """A running ``mlfastsim`` subprocess (stdout and stderr go to files, so nothing blocks on a pipe)."""

    def __init__(self, args: Sequence[str], logs: Path) -> None:
        self.args = [str(a) for a in args]
        logs.mkdir(parents=True, exist_ok=True)
        stem = logs / f"{time.monotonic_ns()}"
        self._out, self._err = Path(f"{stem}.out"), Path(f"{stem}.err")
        with self._out.open("w") as out, self._err.open("w") as err:
            self.proc = subprocess.Popen([*CLI, *self.args], stdout=out, stderr=err, env=_env())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def signal(self, signum: int) -> None:
        if self.running():
            self.proc.send_signal(signum)

    def wait(self, timeout: float = 300) -> Outcome:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        return Outcome(self.args, code, self._out.read_text(), self._err.read_text())


class Launcher:
    """``launcher(*args)`` starts ``mlfastsim *args``; :meth:`close` kills every command still running."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[Command] = []

    def __call__(self, *args: object) -> Command:
        self.started.append(Command([str(a) for a in args], self.logs))
        return self.started[-1]

    def close(self) -> None:
        for command in self.started:
            if command.running():
                command.proc.kill()
                command.proc.wait()


@pytest.fixture
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    """A :class:`Launcher` for one test."""
    launcher = Launcher(tmp_path_factory.mktemp("logs"))
    yield launcher
    launcher.close()


def run_all(cli: Launcher, *commands: Sequence[object], timeout: float = 300) -> list[Outcome]:
    """Run independent commands at the same time; their outcomes in order."""
    started = [cli(*args) for args in commands]
    return [c.wait(timeout) for c in started]


def one_line(outcome: Outcome, code: int) -> str:
    """Assert exit ``code`` and exactly one non-empty stderr line, ``error: ...``, with no traceback."""
    lines = outcome.lines
    assert outcome.returncode == code, str(outcome)
    assert len(lines) == 1 and lines[0].startswith("error: "), str(outcome)
    assert "Traceback" not in outcome.stderr, str(outcome)
    return lines[0]


def wait_for(
    condition: Callable[[], bool], *alive: Command, timeout: float = 120, every: float = 0.02
) -> None:
    """Poll ``condition`` until true; fail when it times out or a command in ``alive`` ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        for command in alive:
            if not command.running():
                pytest.fail(f"ended before the fault was injected: {command.wait()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for the moment to inject the fault")
        time.sleep(every)


def listing(folder: Path) -> list[str]:
    """Every entry under ``folder`` (relative paths, sorted; folders end with '/')."""
    return sorted(str(p.relative_to(folder)) + ("/" if p.is_dir() else "") for p in Path(folder).rglob("*"))


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``."""
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(Path(folder).rglob("*")) if p.is_file()}


TEMPORARY = re.compile(r"\.(tmp|tmpdir|old|probe)$|^tmp[a-z0-9_]{8}$")


def temporaries(folder: Path) -> list[str]:
    """Names under ``folder`` that look like write temporaries (ours: ``.NAME.PID.XXXX.tmp``; Python's
    ``tempfile``: ``tmpXXXXXXXX``)."""
    return [name for name in listing(folder) if TEMPORARY.search(name.rstrip("/").rpartition("/")[2])]


# ------------------------------------------------------------------ the observed table
@dataclasses.dataclass
class Row:
    probe: str
    command: str
    exit: str
    message: str
    leftovers: str


_ROWS: list[Row] = []


def _short(words: Sequence[str], base: Path | None) -> str:
    """Text as the table shows it: paths under ``base`` relative to it, other absolute paths by name, the
    small-model settings abbreviated."""
    text = " ".join(words).replace(" ".join(SMALL_GVAE), "(small model)")
    if base is not None:
        text = text.replace(f"{base}/", "")
    return re.sub(r"/\S*/([^/\s]+)", r"\1", text)


def record(
    probe: str,
    outcome: Outcome,
    leftovers: str = "none",
    base: Path | None = None,
    message: str | None = None,
) -> None:
    """Keep what a probe observed for the table (``message`` default: the last stderr line, or 'ok';
    paths in the command relative to ``base``)."""
    code = outcome.returncode
    shown = f"{code}" if code >= 0 else f"killed ({signal.Signals(-code).name})"
    if message is None:
        message = outcome.lines[-1] if outcome.lines else ("(none)" if code else "ok")
    _ROWS.append(
        Row(probe, "mlfastsim " + _short(outcome.args, base), shown, _short([message], base), leftovers)
    )


@pytest.fixture(scope="session", autouse=True)
def _probe_table() -> Iterator[None]:
    yield
    target = os.environ.get("MLFASTSIM_PROBE_TABLE")
    if not target or not _ROWS:
        return
    cell = lambda s: s.replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| probe | command | exit | message | leftovers |", "|---|---|---|---|---|"]
    lines += [
        f"| {cell(r.probe)} | `{cell(r.command)}` | {r.exit} | {cell(r.message)} | {cell(r.leftovers)} |"
        for r in _ROWS
    ]
    Path(target).write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="session")
def faults() -> SimpleNamespace:
    """The helpers of this folder for its tests (``--import-mode=importlib``: tests cannot import conftest)."""
    return SimpleNamespace(
        Launcher=Launcher,
        run_all=run_all,
        one_line=one_line,
        wait_for=wait_for,
        listing=listing,
        sha256=sha256,
        hashes=hashes,
        temporaries=temporaries,
        record=record,
        fill=fill,
        small_gvae=SMALL_GVAE,
    )


# ------------------------------------------------------------------ inputs
@pytest.fixture(scope="session")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny real inputs, made with the kinds' ``example``: jet images (64 events), TPC windows (two
    64-event files and a job of two 40-event shards) and a trained one-epoch cgan-tpc run."""
    tmp = tmp_path_factory.mktemp("inputs")
    paths = {"jets": tmp / "jets.parquet", "tpc": tmp / "tpc.h5", "tpc-other": tmp / "tpc-other.h5"}
    KINDS["jet-images"].write(paths["jets"], KINDS["jet-images"].example(64, seed=1))
    KINDS["tpc"].write(paths["tpc"], KINDS["tpc"].example(64, seed=1))
    KINDS["tpc"].write(paths["tpc-other"], KINDS["tpc"].example(64, seed=2))
    for i in range(2):
        paths[f"shard{i}"] = tmp / f"shard{i}.h5"
        assert (
            main(["generate", "tpc", "--events", "40", "--shard", f"{i}/2", "--out", str(paths[f"shard{i}"])])
            == 0
        )
    paths["run"] = tmp / "run"
    assert (
        main(["train", "cgan-tpc", "--data", str(paths["tpc"]), "--out", str(paths["run"]), "--epochs", "1"])
        == 0
    )
    return paths


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs at ``tmp_path/fs`` (skipped with the reason where this process may not mount one)."""
    mount = tmp_path / "fs"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    if result.returncode != 0:
        reason = result.stderr.decode().strip() or f"mount exited {result.returncode}"
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {reason}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path, leave: int = 0) -> None:
    """Fill the file system of ``folder`` until ``leave`` bytes are free (file ``folder/filler``)."""
    st = os.statvfs(folder)
    (folder / "filler").write_bytes(b"\0" * max(st.f_bavail * st.f_frsize - leave, 0))
