"""No debris, no silent overwrite (issue 13, point 5): temporaries of a killed writer are reaped by the next
write, an existing output needs --overwrite, an output may not be its own input, evaluate replaces its whole
folder at once (and creates nothing on bad inputs), --no-plots claims no report."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mlfastsim._utils import atomic_path, atomic_write_text
from mlfastsim.cli.main import main
from mlfastsim.data.kinds import KINDS


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
    return err


def test_temporaries_of_a_killed_writer_are_reaped_by_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "out.h5"
    killed = (
        "import os, signal, sys\n"
        "from mlfastsim._utils import atomic_path\n"
        f"with atomic_path({str(target)!r}) as tmp:\n"
        "    tmp.write_bytes(b'half a file')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", killed], check=False)
    assert proc.returncode == -signal.SIGKILL
    debris = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(debris) == 1 and not target.exists()  # what kill -9 leaves behind
    with atomic_path(target) as live:  # a live writer's temporary is left alone ...
        atomic_write_text(target, "x")  # ... while the next write to the target reaps the dead one's
        assert live.exists() and not any(p.exists() for p in debris)
        live.write_text("y")
    assert target.read_text() == "y" and sorted(p.name for p in tmp_path.iterdir()) == ["out.h5"]


@pytest.fixture(scope="module")
def windows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("outputs")
    kind = KINDS["tpc"]
    paths = {name: tmp / f"{name}.h5" for name in ("reference", "candidate", "one")}
    kind.write(paths["reference"], kind.example(120, seed=1))
    kind.write(paths["candidate"], kind.example(120, seed=2))
    kind.write(paths["one"], kind.example(1, seed=3))
    return paths


def test_an_existing_output_needs_overwrite(
    windows: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert main(["train", "library", "--data", str(windows["reference"]), "--out", str(run)]) == 0
    out = tmp_path / "sample.h5"
    args = ["sample", "--run", str(run), "--conditions", str(windows["candidate"]), "--out", str(out)]
    assert main(args) == 0
    before = out.read_bytes()
    capsys.readouterr()
    assert main([*args, "--seed", "5"]) == 2
    assert "exists; give --overwrite" in _one_line(capsys) and out.read_bytes() == before
    assert main([*args, "--seed", "5", "--overwrite"]) == 0
    assert out.read_bytes() != before


def test_an_output_may_not_be_its_own_input(
    windows: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    source = windows["candidate"]
    before = source.read_bytes()
    args = ["generate", "tpc", "--resimulate", str(source), "--out", str(source), "--overwrite"]
    assert main(args) == 2
    assert "is also the input --resimulate" in _one_line(capsys) and source.read_bytes() == before


def test_evaluate_replaces_its_folder_at_once_and_claims_no_report_without_plots(
    windows: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval"
    base = ["evaluate", "--reference", str(windows["reference"]), "--out", str(out), "--no-plots"]
    good = [*base, "--candidate", str(windows["candidate"])]
    assert main(good) == 0
    printed = capsys.readouterr().out
    assert "report.html" not in printed.splitlines()[-1] and "--no-plots" in printed.splitlines()[-1]
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json"]
    (out / "stale.png").write_bytes(b"a plot of an earlier evaluation")
    metrics = (out / "metrics.json").read_bytes()

    assert main(good) == 2  # an earlier result is not replaced silently
    assert "--overwrite" in _one_line(capsys)
    assert main([*base, "--candidate", str(windows["one"]), "--overwrite"]) == 2  # bad input: nothing changes
    assert "1 event(s)" in _one_line(capsys)
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "stale.png"]
    assert (out / "metrics.json").read_bytes() == metrics

    assert (
        main([*good, "--overwrite", "--seed", "3"]) == 0
    )  # the whole folder is replaced: no old files mixed in
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval"]  # no temporary folders left


def test_train_on_bad_data_leaves_no_run_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kind = KINDS["tpc"]
    ev = kind.example(30, seed=1)
    ev.adc[11, 2, 3] = float("nan")
    data = tmp_path / "nan.h5"
    kind.write(data, ev)
    out = tmp_path / "run"
    assert main(["train", "library", "--data", str(data), "--out", str(out)]) == 2
    assert "event 11" in _one_line(capsys) and not out.exists()
