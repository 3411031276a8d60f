"""`mlfastsim export` never replaces a file silently (issue 13, point 5): an existing --out needs --overwrite,
the run's own files are never a target, and the write is atomic (a failed export leaves the old file whole)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlfastsim._utils import InputError
from mlfastsim.cli.main import main
from mlfastsim.data.kinds import KINDS
from mlfastsim.inference import export as export_module
from mlfastsim.inference import load_run
from mlfastsim.inference.export import export_run, onnx_metadata
from mlfastsim.training.runs import train_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, make_run_config: Any) -> Path:
    tmp = tmp_path_factory.mktemp("export-overwrite")
    kind = KINDS["pid"]
    data = tmp / f"train{kind.default_suffix}"
    kind.write(data, kind.example(40, seed=1))
    train_run(make_run_config("cgan-pid", "pid", max_steps=3, seed=0), data, tmp / "run")
    return tmp / "run"


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], match: str) -> None:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and match in err, err


def test_an_existing_output_needs_overwrite(run_dir: Path, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "pid.onnx"
    out.write_bytes(b"an earlier export")
    export = ["export", "--run", str(run_dir), "--format", "onnx", "--out", str(out)]
    _refused(export, capsys, "exists; give --overwrite")
    assert out.read_bytes() == b"an earlier export"
    assert main([*export, "--overwrite"]) == 0
    assert onnx_metadata(out)["model"] == "cgan-pid"  # replaced by the new export
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pid.onnx"]  # no temporaries
    # the library refuses too when asked to look
    with pytest.raises(InputError, match="--overwrite"):
        export_run(load_run(run_dir), "torchscript", out, overwrite=False)


def test_a_failed_export_leaves_the_existing_file_whole(
    run_dir: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "pid.onnx"
    out.write_bytes(b"an earlier export")
    monkeypatch.setattr(export_module, "PARITY_RTOL", -1.0)  # no export meets a negative tolerance
    argv = ["export", "--run", str(run_dir), "--format", "onnx", "--out", str(out), "--overwrite"]
    _refused(argv, capsys, "parity")
    assert out.read_bytes() == b"an earlier export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pid.onnx"]


@pytest.mark.parametrize("name", ["best.pt", "config.json"])
def test_the_runs_own_files_are_never_a_target(run_dir: Path, capsys: Any, name: str) -> None:
    before = (run_dir / name).read_bytes()
    argv = ["export", "--run", str(run_dir), "--format", "torchscript", "--out", str(run_dir / name)]
    _refused([*argv, "--overwrite"], capsys, f"the run's own {name}")
    assert (run_dir / name).read_bytes() == before
