"""Signals during ``generate`` and during start-up, on the real command line: ``kill -9`` while an existing
output is being replaced leaves it as it was and only a temporary that the next write reaps; SIGTERM and
Ctrl-C end with one line, their exit status and nothing half-written."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mlfastsim._utils import scratch_dir
from mlfastsim.cli.main import main

#: Enough TPC segments that generating them takes far longer than it takes to inject the fault.
MANY = "30000"


def _existing(path: Path, seed: int) -> Path:
    """A good, pre-existing output (a real ``generate`` run)."""
    assert main(["generate", "tpc", "--events", "200", "--seed", str(seed), "--out", str(path)]) == 0
    return path


def _writing(folder: Path, name: str) -> Callable[[], bool]:
    """True once a temporary of ``folder/name`` holds bytes (the replacement is being written)."""

    def check() -> bool:
        return any(p.stat().st_size > 0 for p in folder.glob(f".{name}.*.tmp*") if p.is_file())

    return check


def test_kill_9_and_sigterm_during_generate_keep_the_existing_file(
    tmp_path: Path, cli: Any, faults: SimpleNamespace
) -> None:
    killed, termed = tmp_path / "killed", tmp_path / "termed"
    killed.mkdir()
    termed.mkdir()
    targets = {"kill": _existing(killed / "out.h5", 1), "term": _existing(termed / "out.h5", 2)}
    before = {k: faults.sha256(p) for k, p in targets.items()}
    runs = {
        k: cli("generate", "tpc", "--events", MANY, "--seed", "9", "--out", p, "--overwrite")
        for k, p in targets.items()
    }
    for key, sig in (("kill", signal.SIGKILL), ("term", signal.SIGTERM)):
        faults.wait_for(_writing(targets[key].parent, "out.h5"), runs[key])
        runs[key].signal(sig)
    kill, term = runs["kill"].wait(), runs["term"].wait()

    # kill -9: the old file is intact; only the dead writer's temporary is left
    assert kill.returncode == -signal.SIGKILL
    assert faults.sha256(targets["kill"]) == before["kill"]
    debris = faults.temporaries(killed)
    assert len(debris) == 1 and faults.listing(killed) == sorted(["out.h5", *debris])
    faults.record("kill -9 during generate --overwrite", kill, f"{debris[0]} (old out.h5 intact)", tmp_path)

    # SIGTERM: one line, 143, the old file intact, nothing else
    line = faults.one_line(term, 143)
    assert line == "error: terminated (SIGTERM); cleaned up, nothing half-written was left behind"
    assert faults.sha256(targets["term"]) == before["term"] and faults.listing(termed) == ["out.h5"]
    faults.record("SIGTERM during generate --overwrite", term, "none (old out.h5 intact)", tmp_path)

    # the next write to the same target reaps the dead writer's temporary
    (rerun,) = faults.run_all(
        cli, ("generate", "tpc", "--events", "100", "--out", targets["kill"], "--overwrite")
    )
    assert rerun.returncode == 0, str(rerun)
    assert faults.listing(killed) == ["out.h5"] and faults.sha256(targets["kill"]) != before["kill"]
    faults.record("rerun after kill -9 (generate)", rerun, f"none ({debris[0]} reaped)", tmp_path)


@pytest.mark.slow
def test_kill_9_during_a_root_generate_leaves_only_reapable_debris(
    tmp_path: Path, cli: Any, faults: SimpleNamespace
) -> None:
    """A ROOT output is written through native files in a scratch folder beside it: that folder too must be
    reaped by the next write after a ``kill -9``."""
    pytest.importorskip("uproot")
    target = tmp_path / "out.root"
    run = cli("generate", "tpc", "--events", MANY, "--out", target)
    faults.wait_for(lambda: any(p.stat().st_size > 0 for p in tmp_path.rglob("*out.h5*") if p.is_file()), run)
    run.signal(signal.SIGKILL)
    kill = run.wait()
    assert kill.returncode == -signal.SIGKILL and not target.exists()
    debris = [d for d in faults.listing(tmp_path) if "/" not in d.rstrip("/")]  # top-level entries
    assert debris, "kill -9 during the write left nothing to reap"
    faults.record("kill -9 during generate (ROOT --out)", kill, ", ".join(debris), tmp_path)
    (rerun,) = faults.run_all(cli, ("generate", "tpc", "--events", "100", "--out", target))
    assert rerun.returncode == 0, str(rerun)
    assert faults.listing(tmp_path) == ["out.root"]
    faults.record(
        "rerun after kill -9 (ROOT generate)", rerun, f"none ({', '.join(debris)} reaped)", tmp_path
    )


def test_a_scratch_folder_is_removed_and_a_dead_writers_one_is_reaped(tmp_path: Path) -> None:
    """The mechanism behind the ROOT case above, in process (fast): ``scratch_dir`` removes its folder
    whatever happens, and the next write to the same target reaps one left by a dead process."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    target = tmp_path / "out.root"
    left = tmp_path / f".out.root.{dead.pid}.abcd1234.tmpdir"
    left.mkdir()
    (left / "out.h5").write_bytes(b"half a file")
    with scratch_dir(target) as tmp:
        assert tmp.parent == tmp_path and not left.exists()  # the dead writer's folder is reaped
        (tmp / "out.h5").write_bytes(b"work")
    with pytest.raises(KeyboardInterrupt), scratch_dir(target) as tmp:
        raise KeyboardInterrupt
    assert not any(tmp_path.iterdir())


def _loading_torch(pid: int) -> Callable[[], bool]:
    maps = Path(f"/proc/{pid}/maps")

    def check() -> bool:
        try:
            return "torch" in maps.read_text()
        except OSError:
            return True

    return check


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), pytest.param(signal.SIGTERM, 143, marks=pytest.mark.slow)]
)
def test_a_signal_during_start_up_is_one_line_and_creates_nothing(
    tmp_path: Path, cli: Any, faults: SimpleNamespace, inputs: dict[str, Path], sig: int, code: int
) -> None:
    out = tmp_path / "run"
    run = cli("train", "cgan-tpc", "--data", inputs["tpc"], "--out", out)
    faults.wait_for(_loading_torch(run.pid), run, every=0.005)  # torch's libraries are being mapped
    run.signal(sig)
    outcome = run.wait()
    if outcome.returncode == 0:
        pytest.skip("start-up finished before the signal arrived")
    line = faults.one_line(outcome, code)
    assert line.startswith("error: interrupted" if sig == signal.SIGINT else "error: terminated (SIGTERM)")
    assert faults.listing(tmp_path) == []
    name = "Ctrl-C (SIGINT)" if sig == signal.SIGINT else "SIGTERM"
    faults.record(f"{name} during start-up (torch loading)", outcome, "none (no --out created)", tmp_path)
