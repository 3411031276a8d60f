"""The evaluation suite: metrics beside floors, metrics.json, plots and a self-contained report."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mlfastsim.cli.main import main
from mlfastsim.data import JetImages, write_jet_images
from mlfastsim.evaluation.driver import evaluate, paired
from mlfastsim.evaluation.observables import image_observables
from mlfastsim.evaluation.table import FLOOR, RESIM
from mlfastsim.metrics import w1


@pytest.fixture(scope="module")
def evaluation(
    tmp_path_factory: pytest.TempPathFactory, make_toy_jets: Callable[..., JetImages]
) -> tuple[Path, dict]:
    _jets = make_toy_jets
    reference = _jets(300, 0)
    good = _jets(300, 1)  # the reference's event ids (0 … 299): paired with it
    bad = dataclasses.replace(_jets(300, 2, spread=0.15, energy=4.0), event_id=np.arange(300) + 1000)
    resim = _jets(300, 3)
    out = tmp_path_factory.mktemp("eval")
    result = evaluate(
        "jet-images",
        reference,
        {"good": good, "bad": bad},
        out,
        resim=resim,
        second_reference=_jets(300, 4),
        n_jobs=1,
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


def test_the_floor_compares_two_independent_samples(
    evaluation: tuple[Path, dict], make_toy_jets: Callable[..., JetImages], tmp_path: Path
) -> None:
    _, result = evaluation
    floor = result["metrics"][FLOOR]["W1 e_ecal"]["value"]
    reference, second = make_toy_jets(300, 0), make_toy_jets(300, 4)
    e_ref, e_second = (image_observables(j.images, j.eta)["e_ecal"] for j in (reference, second))
    assert floor == pytest.approx(w1(e_ref, e_second).value) and floor > 0
    # without a second sample: the reference's two disjoint halves, never the reference against itself
    halves = evaluate("jet-images", reference, {}, tmp_path, n_jobs=1, plots=False)
    assert halves["metrics"][FLOOR]["W1 e_ecal"]["value"] > 0
    assert halves["floors"][FLOOR] == "two disjoint halves of the reference"


def test_pairing_is_by_event_id(make_toy_jets: Callable[..., JetImages]) -> None:
    reference = make_toy_jets(20, 0)
    candidate = make_toy_jets(20, 1)
    assert paired(reference, candidate)
    shuffled = candidate.subset(np.arange(20)[::-1])  # the same events in another order
    assert not paired(reference, shuffled)
    assert not paired(reference, candidate.subset(slice(0, 19)))
    prior = dataclasses.replace(candidate, event_id=np.full(20, -1))  # generated from the prior
    assert not paired(dataclasses.replace(reference, event_id=np.full(20, -1)), prior)


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
