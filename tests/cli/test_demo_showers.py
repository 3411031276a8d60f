"""``mlfastsim demo showers --quick``: the whole LHCb ECAL chain end to end (reference ECAL → cgan-shower,
flow-shower and library → a shower for every reference particle → evaluate beside the floors → speed beside
the ECAL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlfastsim.cli.main import main


@pytest.mark.slow  # ≈ 1 min on an idle 2-core machine (3 min on a loaded one): GAN fits of 14 steps, a one-epoch flow
def test_quick_showers_demo_runs_the_chain(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "showers", "--quick", "--out", str(out)]) == 0
    metrics = json.loads((out / "evaluation" / "metrics.json").read_text())
    assert metrics["kind"] == "showers"
    cols = set(metrics["metrics"])
    assert {"truth vs truth", "resimulation", "cgan-shower", "flow-shower", "library"} == cols
    cgan = metrics["metrics"]["cgan-shower"]
    assert (
        0.0 <= cgan["classifier AUC (low-level cells)"]["value"] <= 1.0 and cgan["W1 asymmetry"]["value"] > 0
    )
    assert "plots/average_showers.png" in metrics["plots"]
    speed = json.loads((out / "speed.json").read_text())
    assert speed["references"]["showers"]["declared"] and speed["references"]["showers"]["us_per_event"] > 0
    assert all(r["vs_reference"] for r in speed["runs"].values())
