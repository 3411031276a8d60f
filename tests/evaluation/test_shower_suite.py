"""The showers suite on real reference simulations: a second simulation of the same particles sits at the
floor, while maps with the energy scale off by 5 %, or mirrored along x (the incidence asymmetry reversed),
fail exactly the metrics that should catch them; the report's plots are written."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlfastsim.data.kinds.showers import KIND, Showers
from mlfastsim.evaluation.driver import evaluate
from mlfastsim.evaluation.suites import SUITES
from mlfastsim.evaluation.suites.showers import OBSERVABLES, SUITE, ShowerSuite

N = 400


@pytest.fixture(scope="module")
def samples() -> dict[str, Showers]:
    ref = KIND.example(N, seed=21)
    return {"reference": ref, "second": KIND.example(N, seed=22), "resim": KIND.resimulate(ref, seed=23)}


def _with(ev: Showers, response: np.ndarray) -> Showers:
    return Showers(ev.conditions, response, ev.event_id, ev.pdg, dict(ev.attrs))


def _value(metrics: dict[str, Any], sample: str, row: str) -> float:
    return float(metrics["metrics"][sample][row]["value"])


def test_the_suite_is_registered() -> None:
    assert SUITES["showers"] is SUITE and isinstance(SUITE, ShowerSuite)


def test_distortions_fail_their_metrics_and_a_resimulation_does_not(
    samples: dict[str, Showers], tmp_path: Path
) -> None:
    ref, resim = samples["reference"], samples["resim"]
    scaled = _with(resim, resim.response * 1.10)
    mirrored = _with(resim, resim.response[:, :, ::-1].copy())  # x → −x: the asymmetry along p_x flips
    suite = dataclasses.replace(SUITE, classifier_max=N)
    SUITES["showers"] = suite
    try:
        m = evaluate(
            "showers", ref, {"resim": resim, "scaled": scaled, "mirrored": mirrored}, tmp_path,
            resim=resim, second_reference=samples["second"], seed=0, n_jobs=1,
        )  # fmt: skip
    finally:
        SUITES["showers"] = SUITE
    assert set(OBSERVABLES) <= {k[3:] for k in m["metrics"]["resim"] if k.startswith("W1 ")}
    e_resim, e_scaled = _value(m, "resim", "W1 energy"), _value(m, "scaled", "W1 energy")
    # both judged against the second reference (they are made from the reference's events): the resimulation
    # scores the statistical W1 (≈ the floor), a 10 % scale of ≈ 25 GeV adds ≈ 2.5 GeV to it
    assert e_scaled > 2 * e_resim
    a_resim, a_mirror = _value(m, "resim", "W1 asymmetry"), _value(m, "mirrored", "W1 asymmetry")
    assert a_mirror > 5 * a_resim
    assert _value(m, "mirrored", "W1 energy") == pytest.approx(e_resim, rel=1e-6)  # mirroring keeps energies
    assert _value(m, "mirrored", "classifier AUC (high-level)") > 0.75
    assert _value(m, "resim", "classifier AUC (high-level)") < 0.65
    # paired with the reference by id: the resimulation's map distance is the floor itself
    assert _value(m, "resim", "median map distance") < _value(m, "mirrored", "median map distance")
    plots = {p.name for p in (tmp_path / "plots").glob("*.png")}
    assert {"average_showers.png", "asymmetry_vs_slope.png", "cell_spectrum.png", "energy.png"} <= plots
    assert (tmp_path / "report.html").exists()
