"""The evaluation suite: metrics beside floors, metrics.json, plots and a self-contained report."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from mlfastsim.cli.main import main
from mlfastsim.data import JetImages, write_jet_images
from mlfastsim.evaluation.suite import FLOOR, RESIM, evaluate_jet_images


@pytest.fixture(scope="module")
def evaluation(
    tmp_path_factory: pytest.TempPathFactory, make_toy_jets: Callable[..., JetImages]
) -> tuple[Path, dict]:
    _jets = make_toy_jets
    reference = _jets(300, 0)
    good = dataclasses.replace(_jets(300, 1), pt=reference.pt.copy())  # paired with the reference
    bad = _jets(300, 2, spread=0.15, energy=4.0)
    resim = dataclasses.replace(_jets(300, 3), pt=reference.pt.copy())
    out = tmp_path_factory.mktemp("eval")
    result = evaluate_jet_images(
        reference, {"good": good, "bad": bad}, out, resim=resim, second_reference=_jets(300, 4), n_jobs=1
    )
    return out, result


def test_metrics_sit_beside_their_floors(evaluation: tuple[Path, dict]) -> None:
    _, result = evaluation
    table = result["metrics"]
    assert set(table) == {FLOOR, RESIM, "good", "bad"}
    for metric in (
        "W1 e_ecal",
        "W1 n_hits_ecal",
        "W1 jet_mass_ecal",
        "FPD (EFP d<=4)",
        "classifier AUC (high-level)",
    ):
        assert metric in table[FLOOR] and metric in table["good"] and metric in table["bad"]
    # the wrong sample is far from the floor, the right one near it
    for metric in ("W1 e_ecal", "W1 width_ecal", "FPD (EFP d<=4)"):
        assert table["bad"][metric]["value"] > 3 * table["good"][metric]["value"], metric
    assert table["bad"]["classifier AUC (high-level)"]["value"] > 0.9
    assert table["good"]["classifier AUC (high-level)"]["value"] < 0.7
    # event-level metrics only for samples paired with the reference, with the resimulation floor
    assert "median EMD to its reference jet (GeV)" in table["good"]
    assert "median EMD to its reference jet (GeV)" in table[RESIM]
    assert "median EMD to its reference jet (GeV)" not in table["bad"]
    # channels a sample does not simulate are not scored
    assert "W1 e_hcal" not in table["good"]


def test_outputs_are_written_and_self_contained(evaluation: tuple[Path, dict]) -> None:
    out, result = evaluation
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["metrics"]["good"]["W1 e_ecal"]["value"] == pytest.approx(
        result["metrics"]["good"]["W1 e_ecal"]["value"]
    )
    assert saved["schema"] == "mlfastsim.evaluation/1" and saved["n_reference"] == 300
    for plot in saved["plots"]:
        assert (out / plot).is_file() and (out / plot).read_bytes()[:4] == b"\x89PNG"
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(saved["plots"])
    assert not re.search(r'src="(?!data:)', html), "the report must not reference external files"
    assert FLOOR in html and "good" in html


def test_evaluate_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_toy_jets: Callable[..., JetImages]
) -> None:
    _jets = make_toy_jets
    ref, cand = tmp_path / "ref.h5", tmp_path / "cand.parquet"
    write_jet_images(ref, _jets(120, 5))
    write_jet_images(cand, _jets(120, 6))
    code = main(
        [
            "evaluate",
            "--reference",
            str(ref),
            "--candidate",
            f"mine={cand}",
            "--out",
            str(tmp_path / "ev"),
            "--no-plots",
            "--jobs",
            "1",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "[truth vs truth]" in printed and "mine" in printed
    assert (tmp_path / "ev" / "metrics.json").is_file()
    assert (
        main(
            [
                "evaluate",
                "--reference",
                str(tmp_path / "missing.h5"),
                "--candidate",
                str(cand),
                "--out",
                str(tmp_path / "ev2"),
            ]
        )
        == 2
    )
    assert "missing.h5" in capsys.readouterr().err
