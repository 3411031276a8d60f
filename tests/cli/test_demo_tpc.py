"""``mlfastsim demo tpc --quick``: the whole TPC chain end to end (segments → the pad-row simulation → cgan-tpc
and library → the window of every reference segment → reconstruction-level evaluation beside the floors →
speed beside the reference simulation)."""

from __future__ import annotations

import json
from pathlib import Path

from mlfastsim.cli.main import main


def test_quick_tpc_demo_runs_the_chain(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "tpc", "--quick", "--out", str(out)]) == 0
    metrics = json.loads((out / "evaluation" / "metrics.json").read_text())
    assert metrics["kind"] == "tpc" and metrics["n_reference"] == 800
    cols = set(metrics["metrics"])
    assert {"truth vs truth", "resimulation"} <= cols and len(cols) == 4
    cgan = next(v for k, v in metrics["metrics"].items() if k.startswith("cgan-tpc"))
    library = next(v for k, v in metrics["metrics"].items() if k.startswith("library"))
    for row in (cgan, library):
        assert 0.0 <= row["classifier AUC (windows + conditions)"]["value"] <= 1.0
        assert row["cluster-finding efficiency ratio"]["n"] == 800
        assert row["median |Δ pad centroid| to its reference window"]["value"] > 0  # paired by event id
    assert any(p.endswith("binned_efficiency.png") for p in metrics["plots"])
    speed = json.loads((out / "speed.json").read_text())
    assert speed["references"]["tpc"]["declared"] and speed["references"]["tpc"]["events_per_s"] > 0
    assert all(r["vs_reference"] for r in speed["runs"].values())
