"""``mlfastsim demo pid --quick``: the whole RICH chain end to end (Pythia → RICH → cgan-pid, flow-pid, library →
sample on the reference tracks → evaluate beside the floors → speed beside the RICH)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlfastsim.cli.main import main


@pytest.mark.pythia
def test_quick_pid_demo_runs_the_chain(tmp_path: Path) -> None:
    pytest.importorskip("pythia8mc")
    out = tmp_path / "demo"
    assert main(["demo", "pid", "--quick", "--out", str(out)]) == 0
    metrics = json.loads((out / "evaluation" / "metrics.json").read_text())
    assert metrics["kind"] == "pid"
    cols = set(metrics["metrics"])
    assert {"truth vs truth", "resimulation"} <= cols and len(cols) == 5
    assert any(k.startswith("flow-pid") for k in cols)
    cgan = next(v for k, v in metrics["metrics"].items() if k.startswith("cgan-pid"))
    assert 0.0 <= cgan["classifier AUC (DLLs | inputs)"]["value"] <= 1.0
    assert cgan["median per-track |ΔDLL|"]["value"] > 0
    assert any("efficiency_ratio_cgan" in p for p in metrics["plots"])
    speed = json.loads((out / "speed.json").read_text())
    assert speed["references"]["pid"]["declared"] and speed["references"]["pid"]["us_per_event"] > 0
    assert all(r["vs_reference"] for r in speed["runs"].values()) and len(speed["runs"]) == 3
