"""The TPC suite: the cluster finder on hand-made windows, the per-bin statistics, and the whole evaluation on
real pad-row simulations — a resimulation meets the targets, while windows shifted by a pad, blurred in time,
or with charge missing fail exactly the metrics that should catch them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlfastsim.cli.main import main
from mlfastsim.data.kinds import KINDS
from mlfastsim.data.kinds.tpc import TPCWindows
from mlfastsim.evaluation.driver import evaluate
from mlfastsim.evaluation.suites import SUITES
from mlfastsim.evaluation.suites.tpc import SUITE, compare_bins
from mlfastsim.evaluation.table import FLOOR, RESIM
from mlfastsim.evaluation.tpc_clusters import PAD_UM, bin_edges, bin_stats, find_clusters
from mlfastsim.physics.detector.tpc import simulate_windows

KIND = KINDS["tpc"]


def _blob(pad: float, time: float, charge: float = 3000.0, sp: float = 0.6, st: float = 0.8) -> np.ndarray:
    p, t = np.meshgrid(np.arange(8), np.arange(16), indexing="ij")
    a = np.exp(-0.5 * ((p - pad) / sp) ** 2 - 0.5 * ((t - time) / st) ** 2)
    a = np.rint(charge * a / a.sum())
    return np.where(a > 30, a, 0.0)


def test_cluster_finder_on_hand_made_windows() -> None:
    one = _blob(3.4, 7.3)
    two = one + _blob(6.8, 1.5, charge=800.0)  # a second, smaller cluster away from the first
    narrow = np.zeros((8, 16))
    narrow[3, 6:9] = 200.0  # one pad only: no position along the row
    far = _blob(5.9, 7.3)  # more than a pad from the crossing point
    empty = np.zeros((8, 16))
    adc = np.stack([one, two, narrow, far, empty])
    crossing = np.array([[3.4, 7.3]] * 5)
    c = find_clusters(adc, crossing)
    assert c.found.tolist() == [True, True, False, False, False]
    assert c.n_clusters.tolist() == [1, 2, 1, 1, 0]
    p, t = np.meshgrid(np.arange(8), np.arange(16), indexing="ij")
    assert c.pad[0] == pytest.approx((one * p).sum() / one.sum()) and abs(c.pad_residual[0]) < 0.05
    assert c.time[0] == pytest.approx((one * t).sum() / one.sum())
    assert c.charge[1] == pytest.approx(one.sum()), "the largest cluster is the window's"
    assert c.pad[1] == pytest.approx(c.pad[0]) and c.n_pads[2] == 1 and c.n_cells[2] == 3
    assert np.isnan(c.pad[4]) and c.n_pads[4] == 0
    assert c.pad_width[0] == pytest.approx(np.sqrt((one * p**2).sum() / one.sum() - c.pad[0] ** 2))


def test_bins_are_equally_populated_and_errors_shrink() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 6000)
    edges = bin_edges(x, 6)
    assert len(edges) == 7 and np.isinf(edges[[0, -1]]).all()
    assert np.ptp(np.histogram(x, edges)[0]) <= 2
    assert bin_edges(np.array([0.0, 1.0, 1.0, 0.0]), 6, discrete=True).tolist() == [-np.inf, 0.5, np.inf]
    windows = KIND.example(600, seed=5)
    c = find_clusters(windows.adc, windows.crossing)
    stats = bin_stats(c, windows.conditions[:, 3], bin_edges(windows.conditions[:, 3], 3))
    assert stats["n"].sum() == 600
    np.testing.assert_allclose(
        stats["efficiency_err"], np.sqrt(stats["efficiency"] * (1 - stats["efficiency"]) / stats["n"])
    )
    found = c.found & (
        np.digitize(windows.conditions[:, 3], bin_edges(windows.conditions[:, 3], 3)[1:-1]) == 0
    )
    assert stats["pad_width"][0] == pytest.approx(np.std(c.pad_residual[found] * PAD_UM, ddof=1))
    # diffusion: the longest drifts have the widest clusters in time
    assert stats["cluster_time_width"][2] > stats["cluster_time_width"][0]


def _shift(ev: TPCWindows, pads: int) -> TPCWindows:
    return dataclasses.replace(ev, adc=np.roll(ev.adc, pads, axis=1), event_id=ev.event_id + 10**6)


def _blur(ev: TPCWindows) -> TPCWindows:
    blurred = 0.25 * np.roll(ev.adc, -1, axis=2) + 0.5 * ev.adc + 0.25 * np.roll(ev.adc, 1, axis=2)
    return dataclasses.replace(ev, adc=np.where(blurred > 30, np.rint(blurred), 0).astype(np.float32))


def _drop(ev: TPCWindows, keep: float) -> TPCWindows:
    low = ev.adc * keep
    return dataclasses.replace(ev, adc=np.where(low > 30, np.rint(low), 0).astype(np.float32))


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    reference = KIND.example(2400, seed=11)
    resim = dataclasses.replace(
        reference, adc=simulate_windows(reference.conditions, np.random.default_rng(9)).adc
    )
    candidates = {"resimulated": resim, "shifted": _shift(resim, 1), "blurred": _blur(resim)}
    out = tmp_path_factory.mktemp("tpc-eval")
    suite = dataclasses.replace(SUITE, min_bin_count=200, classifier_max=1200, classifier_epochs=6)
    SUITES["tpc"] = suite
    try:
        result = evaluate("tpc", reference, candidates, out, resim=resim, n_jobs=1)
    finally:
        SUITES["tpc"] = SUITE
    return out, result


def _within_errors(row: dict[str, Any], key: str, sigmas: float = 4.0) -> bool:
    """Every bin of every condition with a finite ``key`` is within ``sigmas`` errors of 1."""
    bins = row["fraction of bins meeting the targets"]["bins"]
    values = np.concatenate([np.asarray(b[key]) for b in bins.values()])
    errors = np.concatenate([np.asarray(b[f"{key}_err"]) for b in bins.values()])
    ok = np.isfinite(values)
    return bool(ok.sum() >= 20 and (np.abs(values[ok] - 1) < sigmas * errors[ok] + 1e-9).all())


def test_a_resimulation_meets_the_targets_and_broken_windows_do_not(
    evaluation: tuple[Path, dict[str, Any]],
) -> None:
    _, result = evaluation
    table = result["metrics"]
    assert {FLOOR, RESIM, "resimulated", "shifted", "blurred"} <= set(table)
    good, floor = table["resimulated"], table[FLOOR]
    assert result["floors"][FLOOR] == "two disjoint halves of the reference"
    for row in (good, floor):  # the same physics: statistical fluctuations only
        assert abs(row["cluster-finding efficiency ratio"]["value"] - 1) < 0.03
        # within 3 errors: compared at the floor's size and on the floor's half, the resimulation fluctuates
        # as much as the floor (1.10 ± 0.06 here; before, sharing half its segments with the reference half,
        # it sat closer to 1 than the floor could)
        width = row["pad residual width ratio"]
        assert abs(width["value"] - 1) < 3 * width["uncertainty"]
        assert row["classifier AUC (windows + conditions)"]["value"] < 0.6
        for key in ("efficiency_ratio", "pad_width_ratio", "time_width_ratio", "charge_ratio"):
            assert _within_errors(row, key), key
    # a pad shift: the centroid moves by 5000 µm, outside the 1-pad window → efficiency collapses
    shifted = table["shifted"]
    assert shifted["cluster-finding efficiency ratio"]["value"] < 0.6  # 0.51 (1,200 of its 2,400 windows)
    assert shifted["efficiency ratio, worst bin"]["value"] < 0.5
    assert shifted["classifier AUC (clusters + conditions)"]["value"] > 0.9
    assert shifted["fraction of bins meeting the targets"]["value"] == 0
    # blurred in time: wider clusters in time, positions untouched; the classifiers see it
    blurred = table["blurred"]
    assert blurred["cluster time width ratio, worst bin"]["value"] > 1.1
    assert abs(blurred["pad residual mean − reference, worst bin"]["value"]) < 150
    assert not _within_errors(blurred, "cluster_time_width_ratio")
    assert blurred["classifier AUC (windows + conditions)"]["value"] > 0.7
    # paired with the reference: per-event centroid distances beside the resimulation floor
    assert good["median |Δ pad centroid| to its reference window"]["value"] > 0
    assert "median |Δ pad centroid| to its reference window" not in shifted  # other event ids: not paired


def test_charge_and_a_bias_in_one_bin_are_seen() -> None:
    ev = KIND.example(2000, seed=21)
    prep = SUITE.prepare(ev)
    outer = ev.conditions[:, 4] == 1
    adc = ev.adc.copy()
    adc[outer] = np.roll(adc[outer], 2, axis=1)  # outer rows shifted by two pads
    bins = compare_bins(prep, SUITE.prepare(dataclasses.replace(ev, adc=adc)))
    ratio = bins["row"]["efficiency_ratio"]
    assert ratio[0] == pytest.approx(1.0) and ratio[1] < 0.1
    dim = compare_bins(prep, SUITE.prepare(_drop(ev, 0.4)))
    for row in dim.values():
        assert np.nanmax(row["charge_ratio"]) < 0.5


def test_bins_and_plots_are_written(evaluation: tuple[Path, dict[str, Any]]) -> None:
    out, _ = evaluation
    saved = json.loads((out / "metrics.json").read_text())
    bins = saved["metrics"]["resimulated"]["fraction of bins meeting the targets"]["bins"]
    assert set(bins) == {"crossing_angle", "dip_angle", "pad_fraction", "drift_length", "row"}
    assert len(bins["row"]["ref_n"]) == 2 and len(bins["drift_length"]["ref_n"]) == 6
    ratio, err = (
        np.array(bins["drift_length"]["efficiency_ratio"]),
        np.array(bins["drift_length"]["efficiency_ratio_err"]),
    )
    assert np.all(np.abs(ratio - 1) < 5 * err + 0.02)
    for name in (
        "binned_efficiency.png",
        "binned_pad_width.png",
        "cluster_charge.png",
        "window_displays.png",
    ):
        assert (out / "plots" / name).stat().st_size > 1000
    assert "binned_efficiency" in (out / "report.html").read_text()


def test_prior_samples_are_refused_with_one_line() -> None:
    ev = KIND.example(10, seed=0)
    blind = TPCWindows(ev.adc, ev.conditions)  # no crossing points
    with pytest.raises(Exception, match="sample --conditions"):
        SUITE.prepare(blind)


def test_evaluate_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, cand = tmp_path / "ref.h5", tmp_path / "cand.h5"
    KIND.write(ref, KIND.example(300, seed=1))
    KIND.write(cand, KIND.example(300, seed=2))
    assert (
        main(
            [
                "evaluate",
                "--reference",
                str(ref),
                "--candidate",
                f"other={cand}",
                "--out",
                str(tmp_path / "e"),
                "--no-plots",
            ]
        )
        == 0
    )
    assert "efficiency ratio, worst bin" in capsys.readouterr().out
