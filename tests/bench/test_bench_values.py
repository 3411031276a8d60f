"""`mlfastsim bench` refuses bad values with one line and exit 2 before any work (issue 13, point 3), and
conditions a user gives are used, never dropped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlfastsim.cli.main import main
from mlfastsim.data.kinds import KINDS
from mlfastsim.training.runs import train_run


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, make_run_config: Any) -> dict[str, Path]:
    """A cgan-pid run (it can draw its conditions from a bank of training tracks), PID and TPC files."""
    tmp = tmp_path_factory.mktemp("bench-values")
    pid, tpc = KINDS["pid"], KINDS["tpc"]
    paths = {"train": tmp / "train.h5", "pid": tmp / "pid.h5", "tpc": tmp / "tpc.h5", "run": tmp / "run"}
    pid.write(paths["train"], pid.example(40, seed=1))
    pid.write(paths["pid"], pid.example(30, seed=2))
    tpc.write(paths["tpc"], tpc.example(30, seed=3))
    train_run(make_run_config("cgan-pid", "pid", max_steps=2, seed=0), paths["train"], paths["run"])
    return paths


def _one_line(capsys: pytest.CaptureFixture[str], argv: list[str], match: str) -> None:
    capsys.readouterr()
    code: Any
    try:
        code = main(argv)
    except SystemExit as exc:  # the argument parser's own errors (not an int, not a choice)
        code = exc.code
    assert code == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error:") and "\n" not in err and match in err, err
    assert captured.out == ""  # nothing was timed


BAD_VALUES = [
    (["--batches", "0"], "--batches"),
    (["--batches", "-4"], "--batches"),
    (["--batches", "nan"], "--batches"),
    (["--batches", "1,nan"], "--batches"),
    (["--batches", ""], "--batches"),
    (["--repeats", "0"], "--repeats"),
    (["--repeats", "-2"], "--repeats"),
    (["--repeats", "nan"], "--repeats"),
    (["--threads", "0"], "--threads"),
    (["--threads", "nan"], "--threads"),
    (["--threads", "inf"], "--threads"),
    (["--reference-events", "0"], "--reference-events"),
    (["--example-events", "-1"], "--example-events"),
    (["--backend", "tensorrt"], "--backend"),
    (["--out", "/proc/no/such/bench.json"], "--out"),
    (["--markdown", "/proc/no/such/performance.md"], "--markdown"),
]


@pytest.mark.parametrize(("extra", "match"), BAD_VALUES, ids=[" ".join(v) for v, _ in BAD_VALUES])
def test_bad_values_are_one_line_before_any_work(
    extra: list[str], match: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the run does not exist: the value is refused before the run is even loaded
    _one_line(capsys, ["bench", "--run", str(tmp_path / "no-run"), *extra], match)


def test_runs_that_are_not_runs_and_outputs_that_exist_are_refused(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bench = ["bench", "--batches", "2", "--repeats", "1", "--reference-events", "2"]
    _one_line(capsys, [*bench, "--run", str(tmp_path / "missing")], "not a run directory")
    _one_line(capsys, [*bench, "--run", str(files["run"] / "best.pt")], "not a run directory")
    _one_line(capsys, [*bench, "--run", str(files["pid"])], "not a run directory")
    (tmp_path / "empty").mkdir()
    _one_line(capsys, [*bench, "--run", str(tmp_path / "empty")], "not found")
    _one_line(capsys, [*bench, "--run", str(files["run"]), "--run", str(tmp_path / "missing")], "--run")
    existing = tmp_path / "bench.json"
    existing.write_text("earlier results")
    _one_line(capsys, [*bench, "--run", str(files["run"]), "--out", str(existing)], "--overwrite")
    assert existing.read_text() == "earlier results"
    _one_line(capsys, ["bench", "models", "--markdown", str(tmp_path / "p.md"), "--data", "x"], "--markdown")
    _one_line(capsys, ["bench", "detector"], "--data")


def test_given_conditions_are_used_by_a_run_with_a_condition_bank(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bench = ["bench", "--run", str(files["run"]), "--batches", "4", "--repeats", "1", "--threads", "1"]
    bench += ["--reference-events", "2", "--example-events", "8"]
    out = tmp_path / "given.json"
    assert main([*bench, "--conditions", str(files["pid"]), "--out", str(out)]) == 0
    run = json.loads(out.read_text())["runs"][str(files["run"])]
    assert run["mode"] == "conditioned on events" and run["events"] == "given file"
    out = tmp_path / "bank.json"  # without a file: the run draws its own conditions, as it can
    assert main([*bench, "--out", str(out)]) == 0
    run = json.loads(out.read_text())["runs"][str(files["run"])]
    assert run["mode"] == "from the prior" and run["events"].startswith("kind example")
    # a file of a kind no run has is refused, not silently unused
    _one_line(capsys, [*bench, "--conditions", str(files["tpc"])], "no --run is a run of that kind")
