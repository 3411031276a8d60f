"""Faults during ``train`` on the real command line: SIGTERM stops at a step boundary with one line and exit
143; ``kill -9`` loses at most the epoch in progress (and a torn last line of ``metrics.jsonl``, as a crash
during an append leaves it, is dropped); both resume to exactly — bit for bit — the run that was never
interrupted. A second training into a locked run directory refuses; bad settings are refused at parse time
and create nothing."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from mlfastsim._utils import InputError
from mlfastsim._utils.checkpoint import load_checkpoint
from mlfastsim.training.checkpoint import MetricsLog

#: The step at which every training of this module ends; the faults are injected long before it.
STEPS = 240
#: How long ``kill -9`` waits to catch a checkpoint being written (it kills during one when it sees one) [s].
CATCH_WRITE_S = 1.5
TERMINATED = "error: terminated (SIGTERM); cleaned up, nothing half-written was left behind"


def _train(inputs: dict[str, Path], faults: SimpleNamespace, out: Path, *extra: object) -> list[object]:
    return ["train", "gvae-paper", "--data", inputs["jets"], "--out", out, *faults.small_gvae, *extra]


def _holds_lock(out: Path, pid: int) -> bool:
    try:
        return (out / ".lock").read_text().strip() == str(pid)
    except OSError:
        return False


def _catch_a_checkpoint_write(out: Path, seconds: float) -> bool:
    """Busy-wait up to ``seconds`` for a checkpoint's temporary to appear in ``out``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(out.glob(".*.pt.*.tmp")):
            return True
        time.sleep(0.0005)
    return False


@pytest.fixture(scope="module")
def interrupted(
    tmp_path_factory: pytest.TempPathFactory, inputs: dict[str, Path], faults: SimpleNamespace
) -> Any:
    """Three trainings at once: one left alone to ``STEPS``, one stopped by SIGTERM after its first
    checkpoint, one by ``kill -9`` (after a second training was refused its locked directory while it was
    held stopped); then both interrupted ones resumed to ``STEPS``."""
    tmp = tmp_path_factory.mktemp("train-faults")
    launch = faults.Launcher(tmp / "logs")
    dirs = {name: tmp / name for name in ("reference", "term", "kill")}
    data_before = faults.sha256(inputs["jets"])
    long = ("--epochs", "100000")
    try:
        ref = launch(*_train(inputs, faults, dirs["reference"], *long, "--max-steps", STEPS))
        term = launch(*_train(inputs, faults, dirs["term"], *long))
        kill = launch(*_train(inputs, faults, dirs["kill"], *long))

        faults.wait_for(lambda: _holds_lock(dirs["kill"], kill.pid), kill)
        kill.signal(signal.SIGSTOP)  # holds the lock, does nothing
        second = launch(*_train(inputs, faults, dirs["kill"], "--max-steps", "2"))

        faults.wait_for((dirs["term"] / "last.pt").exists, term)
        term.signal(signal.SIGTERM)
        locked = second.wait()
        kill.signal(signal.SIGCONT)

        faults.wait_for((dirs["kill"] / "last.pt").exists, kill)
        caught = _catch_a_checkpoint_write(dirs["kill"], CATCH_WRITE_S)
        kill.signal(signal.SIGKILL)
        outcomes = {"term": term.wait(), "kill": kill.wait(), "locked": locked}
        after = {name: faults.listing(dirs[name]) for name in ("term", "kill")}
        steps = {name: load_checkpoint(dirs[name] / "last.pt")["step"] for name in ("term", "kill")}
        if max(steps.values()) >= STEPS:
            pytest.fail(f"the faults came too late (last.pt at steps {steps}, the runs end at {STEPS})")
        with (dirs["kill"] / "metrics.jsonl").open("a") as fh:  # a torn append (crash or full disk)
            fh.write('{"step": 99999, "epoch": 3, "split": "tr')

        resumed = faults.run_all(
            launch,
            *(
                _train(inputs, faults, dirs[n], "--resume", *long, "--max-steps", STEPS)
                for n in ("term", "kill")
            ),
        )
        outcomes.update({"resumed-term": resumed[0], "resumed-kill": resumed[1], "reference": ref.wait()})
    finally:
        launch.close()
    return SimpleNamespace(
        dirs=dirs,
        outcomes=outcomes,
        after=after,
        steps=steps,
        caught=caught,
        kill_pid=kill.pid,
        data_unchanged=faults.sha256(inputs["jets"]) == data_before,
        base=tmp,
    )


def _validation(run: Path) -> list[dict[str, Any]]:
    """The validation records of metrics.jsonl without their wall times (the training records average the
    steps since the last record or resume, so their windows differ after a resume; the weights do not)."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows if row["split"] == "val"]


def _assert_same_run(a: Path, b: Path) -> None:
    """Both runs end in the same state: weights, optimiser state and step of last.pt and best.pt, and the
    same validation losses in the metrics log."""
    for name in ("last.pt", "best.pt"):
        ca, cb = load_checkpoint(a / name), load_checkpoint(b / name)
        assert ca["step"] == cb["step"] and ca["epoch"] == cb["epoch"], name
        assert ca["model_state"].keys() == cb["model_state"].keys()
        for key, value in ca["model_state"].items():
            assert torch.equal(value, cb["model_state"][key]), f"{name}: {key} differs"
        moments_a = [t for s in ca["optimizer_state"]["state"].values() for t in s.values()]
        moments_b = [t for s in cb["optimizer_state"]["state"].values() for t in s.values()]
        assert all(torch.equal(x, y) for x, y in zip(moments_a, moments_b, strict=True)), name
    assert load_checkpoint(a / "last.pt")["step"] == STEPS
    assert _validation(a) == _validation(b)


@pytest.mark.slow  # over 20 s: make test-all runs it
def test_sigterm_during_train_stops_cleanly_and_resumes_bit_for_bit(
    interrupted: Any, faults: SimpleNamespace
) -> None:
    term = interrupted.outcomes["term"]
    assert faults.one_line(term, 143) == TERMINATED
    assert faults.temporaries(interrupted.dirs["term"]) == []
    assert interrupted.after["term"] == [".lock", "best.pt", "config.json", "last.pt", "metrics.jsonl"]
    faults.record(
        "SIGTERM during train", term, f"none (last.pt at step {interrupted.steps['term']})", interrupted.base
    )
    resumed = interrupted.outcomes["resumed-term"]
    assert resumed.returncode == 0 and "Traceback" not in resumed.stderr, str(resumed)
    _assert_same_run(interrupted.dirs["term"], interrupted.dirs["reference"])
    assert interrupted.data_unchanged
    faults.record(
        "resume after SIGTERM",
        resumed,
        f"none; ends equal to the uninterrupted run (step {STEPS})",
        interrupted.base,
        message="ok",
    )


def test_kill_9_during_train_resumes_bit_for_bit_and_its_debris_is_reaped(
    interrupted: Any, faults: SimpleNamespace
) -> None:
    kill = interrupted.outcomes["kill"]
    assert kill.returncode == -signal.SIGKILL
    debris = [name for name in interrupted.after["kill"] if name.endswith(".tmp")]
    assert set(interrupted.after["kill"]) - set(debris) == {
        ".lock",
        "best.pt",
        "config.json",
        "last.pt",
        "metrics.jsonl",
    }
    assert bool(debris) <= interrupted.caught  # a temporary is only left by a kill during a write
    left = ", ".join(debris) if debris else "none (no write was in progress)"
    faults.record(
        "kill -9 during train", kill, f"{left}; last.pt at step {interrupted.steps['kill']}", interrupted.base
    )
    resumed = interrupted.outcomes["resumed-kill"]
    assert resumed.returncode == 0 and "Traceback" not in resumed.stderr, str(resumed)
    assert faults.temporaries(interrupted.dirs["kill"]) == []  # reaped by the resumed run's writes
    _assert_same_run(interrupted.dirs["kill"], interrupted.dirs["reference"])
    assert interrupted.data_unchanged
    faults.record(
        "resume after kill -9 (+ a torn last line in metrics.jsonl)",
        resumed,
        f"none ({', '.join(debris) or 'nothing'} reaped); ends equal to the uninterrupted run",
        interrupted.base,
        message="ok",
    )


def test_a_second_training_into_a_locked_run_directory_refuses(
    interrupted: Any, faults: SimpleNamespace
) -> None:
    locked = interrupted.outcomes["locked"]
    line = faults.one_line(locked, 2)
    assert f"another process (pid {interrupted.kill_pid}) is training into this directory" in line
    faults.record(
        "concurrent train into the same --out", locked, "none (the first run went on)", interrupted.base
    )


@pytest.mark.parametrize(
    "settings",
    [
        ("train.lr=nan", "data.val_fraction=1"),
        pytest.param(("model.latent=-1", "data.n_max=0", "train.lr=inf"), marks=pytest.mark.slow),
    ],
)
def test_bad_settings_are_refused_at_parse_time_and_create_nothing(
    tmp_path: Path, cli: Any, inputs: dict[str, Path], faults: SimpleNamespace, settings: tuple[str, ...]
) -> None:
    outs = [tmp_path / f"run{i}" for i in range(len(settings))]
    outcomes = faults.run_all(
        cli, *(_train(inputs, faults, out, "--set", s) for out, s in zip(outs, settings, strict=True))
    )
    for setting, outcome in zip(settings, outcomes, strict=True):
        line = faults.one_line(outcome, 2)
        assert setting.partition("=")[0] in line, line
        faults.record(f"--set {setting}", outcome, "none (no --out created)", tmp_path)
    assert faults.listing(tmp_path) == []


def test_a_torn_last_metrics_line_is_dropped_and_a_damaged_one_refused(tmp_path: Path) -> None:
    """The mechanism behind the resume after ``kill -9`` above, in process (fast)."""
    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.path.write_text('{"step": 1}\n{"step": 2}\n{"step": 3, "lo')
    log.reset(lambda record: record["step"] < 3)
    assert log.path.read_text() == '{"step": 1}\n{"step": 2}\n'
    log.path.write_text('{"step": 1}\nnot json\n{"step": 2}\n')
    with pytest.raises(InputError, match="line 2 is not a JSON record"):
        log.reset(lambda record: True)
