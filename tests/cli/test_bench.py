"""``mlfastsim bench``: speed measured in one run, printed as JSON with the machine's facts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mlfastsim.cli.main import main
from mlfastsim.data import JetImages, write_jet_images


def test_bench_models_reports_both_models_and_the_ratio(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make_toy_jets: Callable[..., JetImages],
    with_toy_particles: Callable[..., JetImages],
) -> None:
    data = tmp_path / "toy.parquet"
    jets = make_toy_jets(64, 0)
    with_toy_particles(jets)  # a few photons and pions per jet, as generator-level particles
    write_jet_images(data, jets)
    out = tmp_path / "bench.json"
    assert (
        main(
            [
                "bench",
                "models",
                "--data",
                str(data),
                "--batch",
                "32",
                "--n",
                "200",
                "--repeats",
                "2",
                "--threads",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == result
    ratio = result["speedup gvae vs gvae-paper (reconstruct)"]
    assert ratio == pytest.approx(
        result["gvae-paper reconstruct"]["median_s"] / result["gvae reconstruct"]["median_s"]
    )
    assert result["speedup gvae-paper vs its dense version (reconstruct)"] == pytest.approx(
        result["gvae-paper dense (before issue 12) reconstruct"]["median_s"]
        / result["gvae-paper reconstruct"]["median_s"]
    )
    assert result["gvae prior sampling"]["jets_per_s"] > 0 and result["machine"]["torch_threads"] == 1
    assert result["gvae_uses_particles"] and result["gvae generation from particles"]["jets_per_s"] > 0


def test_bench_rejects_bad_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "models", "--data", str(tmp_path / "none.h5"), "--threads", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err
