"""``mlfastsim demo ttbar --quick``: the three-channel chain end to end (Pythia tt̄ → the reference detector →
gvae-3ch, gvae-paper-3ch, mean-hit → samples from the particles and from the prior, reconstructions → every
channel evaluated beside both floors → three-channel displays → speed from the bench)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlfastsim.cli.main import main

#: Rows of every channel (tracks, ECAL, HCAL) and of all channels together that the table must have.
CHANNEL_ROWS = ("W1 n_hits_tracks_pt", "W1 e_ecal", "W1 e_hcal", "W1 jet_mass_all")


@pytest.mark.pythia  # ≈ 40 s of CPU (2.5 minutes wall on the 2-core machine at load ≈ 21)
def test_quick_ttbar_demo_runs_the_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pythia8mc")
    out = tmp_path / "demo"
    assert main(["demo", "ttbar", "--quick", "--out", str(out)]) == 0
    check_outputs(out, capsys.readouterr().out)
    assert "skipped" in json.loads((out / "anomaly.json").read_text())


@pytest.mark.pythia
@pytest.mark.slow  # the default size with the anomaly stage: tens of minutes on a loaded 2-core machine
def test_full_ttbar_demo_with_anomaly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pythia8mc")
    out = tmp_path / "demo"
    assert main(["demo", "ttbar", "--anomaly", "--out", str(out)]) == 0
    check_outputs(out, capsys.readouterr().out)
    assert (out / "evaluation" / "report.html").stat().st_size > 0
    anomaly = json.loads((out / "anomaly.json").read_text())
    assert anomaly["n_y0"] == anomaly["n_y1"] == 400
    lo, hi = anomaly["auc_interval"]
    assert 0.0 <= lo <= anomaly["auc_y1_vs_y0"] <= hi <= 1.0


def check_outputs(out: Path, printed: str) -> None:
    """Every stage ran, the table has every channel's rows for both sampling paths, the reconstructions
    and both floors, the displays and the speed table exist."""
    for stage in range(1, 7):  # every stage ran (a skipped stage has no heading)
        assert f"\n== {stage}/6 " in printed
    metrics = json.loads((out / "evaluation" / "metrics.json").read_text())
    assert metrics["kind"] == "jet-images"
    cols = set(metrics["metrics"])
    assert {
        "truth vs truth",
        "resimulation",
        "gvae-3ch (generated | particles)",
        "gvae-3ch (prior: flow)",
        "gvae-3ch (reconstructed)",
        "gvae-paper-3ch (reconstructed)",
        "mean-hit (reconstructed)",
    } == cols
    for name in ("gvae-3ch (generated | particles)", "gvae-3ch (prior: flow)"):  # both sampling paths
        row = metrics["metrics"][name]
        assert all(row[m]["value"] > 0 for m in CHANNEL_ROWS), name
    floor = metrics["metrics"]["truth vs truth"]
    assert all(floor[m]["value"] > 0 for m in CHANNEL_ROWS)
    table = (out / "table.txt").read_text()
    assert all(m in table for m in CHANNEL_ROWS)
    assert (out / "displays" / "event_display_jet0.png").stat().st_size > 0
    speed = json.loads((out / "speed.json").read_text())
    families = {r["family"] for r in speed["runs"].values()}
    assert {"gvae", "gvae-paper"} <= families
    assert speed["references"]["jet-images"]["us_per_event"] > 0
