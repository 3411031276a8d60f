"""The PID suite (seed 004): efficiency ratios that see a shifted DLL, weights that change results, the whole
evaluation with its report and ratio plots."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from mlfastsim.data.kinds import KINDS
from mlfastsim.data.kinds.pid import PIDTable
from mlfastsim.evaluation.driver import evaluate
from mlfastsim.evaluation.pid_efficiency import efficiency_bins, summarise_bins
from mlfastsim.evaluation.suites import SUITES
from mlfastsim.evaluation.suites.pid import PIDSuite
from mlfastsim.physics.detector.rich import simulate_rich

HEAD = "efficiency ratio (bins >= 200 tracks)"


def _resimulated(t: PIDTable, seed: int) -> PIDTable:
    """The same tracks through the reference RICH again: a perfect surrogate, up to noise."""
    dll = simulate_rich(t.p, t.eta, t.n_tracks, t.species, np.random.default_rng(seed))["dll"]
    return dataclasses.replace(t, dll=dll)


@pytest.fixture(scope="module")
def tracks() -> PIDTable:
    return KINDS["pid"].example(20_000, seed=1)


def _chi2(rows: dict, dll: str) -> float:
    """χ²/ndf of one DLL's ratios against 1 over the bins that count."""
    bins = rows[f"{HEAD}: worst |ratio - 1|"]["bins"]
    pulls = [(b["ratio"] - 1) / b["ratio_err"] for b in bins if b["dll"] == dll and b["n_eff_ref"] >= 200
             and b["ratio_err"] > 0]  # fmt: skip
    return float(np.mean(np.square(pulls)))


def test_efficiency_ratio_passes_the_resimulation_and_fails_a_shifted_dll(tracks: PIDTable) -> None:
    suite = PIDSuite(min_tracks=200, n_bins=4)
    good = suite.efficiency(tracks, _resimulated(tracks, 2))
    assert good[f"{HEAD}: chi2/ndf vs 1"]["n"] > 100
    assert good[f"{HEAD}: chi2/ndf vs 1"]["value"] < 1.5  # noise only
    assert _chi2(good, "dll_K") < 1.5
    shifted = _resimulated(tracks, 2)
    shifted.dll[:, 2] += 5.0  # DLL_K five units up for every track (a few % of its spread)
    bad = suite.efficiency(tracks, shifted)
    assert _chi2(bad, "dll_K") > 5.0
    assert _chi2(bad, "dll_e") < 1.5  # the other DLLs untouched
    assert bad[f"{HEAD}: chi2/ndf vs 1"]["value"] > 2 * good[f"{HEAD}: chi2/ndf vs 1"]["value"]
    assert bad[f"{HEAD}: worst |ratio - 1|, K"]["value"] > 3 * good[f"{HEAD}: worst |ratio - 1|, K"]["value"]
    within = f"{HEAD}: fraction within 1 ± max(0.05, 2σ)"
    assert bad[within]["value"] < good[within]["value"] - 0.05
    # every bin is listed, with its uncertainty and effective counts
    bins = bad[f"{HEAD}: worst |ratio - 1|"]["bins"]
    assert len(bins) > 500
    assert {"ratio", "ratio_err", "n_eff_ref", "eff_ref_err", "lo", "hi"} <= set(bins[0])


def _sweighted(n: int, seed: int) -> tuple[PIDTable, PIDTable]:
    """A reference of 'signal' pions plus a background that its negative-weight copy subtracts (sWeights
    emulated), and a candidate of signal alone: identical after weighting, different without."""
    rng = np.random.default_rng(seed)

    def table(dll_shift: float, weight: float, m: int) -> PIDTable:
        p = 5 + rng.exponential(20, m)
        dll = np.tile(rng.normal(dll_shift, 3.0, m)[:, None], (1, 5)).astype(np.float32)
        return PIDTable(p=p, eta=rng.uniform(2, 4.8, m), n_tracks=1 + rng.poisson(15, m),
                        charge=np.ones(m), species=np.full(m, 2), dll=dll, weight=np.full(m, weight))  # fmt: skip

    kind = KINDS["pid"]
    ref = kind.concatenate([table(5.0, 1.0, n), table(-5.0, 1.0, n), table(-5.0, -1.0, n)])
    return ref, table(5.0, 1.0, n)


def test_weights_are_honoured_by_efficiency_w1_and_classifier() -> None:
    ref, cand = _sweighted(3000, 3)
    suite = PIDSuite(min_tracks=100, n_bins=3, classifier_tracks=20_000, classifier_epochs=5)
    row = suite.distribution_metrics(*suite.prepare_all({"r": ref, "c": cand}).values(), seed=0)
    assert row["efficiency ratio (bins >= 100 tracks): worst |ratio - 1|"]["value"] < 0.3  # n_eff ≈ 1000
    assert row["W1 dll_K"]["value"] < 0.5
    unweighted = dataclasses.replace(ref, weight=np.ones(len(ref), np.float32))
    row_u = suite.distribution_metrics(*suite.prepare_all({"r": unweighted, "c": cand}).values(), seed=0)
    assert row_u["efficiency ratio (bins >= 100 tracks): worst |ratio - 1|"]["value"] > 0.5
    assert row_u["W1 dll_K"]["value"] > 2.0
    assert row["classifier AUC (DLLs | inputs)"]["weighted"] is True
    assert (
        row["classifier AUC (DLLs | inputs)"]["value"]
        < row_u["classifier AUC (DLLs | inputs)"]["value"] - 0.1
    )


def test_the_whole_evaluation_writes_ratios_plots_and_the_resimulation_floor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SUITES, "pid", PIDSuite(classifier_epochs=4))  # the same suite, a shorter classifier
    kind = KINDS["pid"]
    ref, second = kind.example(2000, seed=4), kind.example(2000, seed=5)
    second.event_id = second.event_id + 10_000  # another set of tracks
    resim = _resimulated(ref, 6)
    shifted = _resimulated(ref, 7)
    shifted.dll[:, 3] -= 20.0  # judged against the second reference, beside its statistical W1 of ≈ 5
    good = _resimulated(ref, 8)
    candidates = {"shifted dll_p": shifted, "resimulated": good}
    result = evaluate("pid", ref, candidates, tmp_path, resim=resim, second_reference=second)
    assert SUITES["pid"].kind == "pid"
    metrics = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    assert set(metrics) == {"truth vs truth", "resimulation", "shifted dll_p", "resimulated"}
    head = "efficiency ratio (bins >= 500 tracks)"  # none in 3000 tracks: the rows say so
    assert metrics["shifted dll_p"][f"{head}: worst |ratio - 1|"]["n"] == 0
    assert len(metrics["shifted dll_p"][f"{head}: worst |ratio - 1|"]["bins"]) > 100
    assert metrics["shifted dll_p"]["W1 dll_p"]["value"] > 2.5 * metrics["resimulated"]["W1 dll_p"]["value"]
    assert metrics["shifted dll_p"]["W1 dll_K"]["value"] < 4 * metrics["resimulated"]["W1 dll_K"]["value"]
    assert metrics["resimulation"]["median per-track |ΔDLL|"]["value"] > 0
    assert 0.0 <= metrics["shifted dll_p"]["classifier AUC (DLLs | inputs)"]["value"] <= 1.0
    plots = result["plots"]
    assert any("efficiency_ratio_shifted_dll_p_pi" in p for p in plots)
    assert "dll_distance_per_track.png" in " ".join(plots)
    assert (tmp_path / "report.html").stat().st_size > 10_000


def test_tables_without_dlls_are_one_clear_line() -> None:
    from mlfastsim._utils import InputError

    t = KINDS["pid"].example(50, seed=1)
    blank = dataclasses.replace(t, dll=np.full_like(t.dll, np.nan))
    with pytest.raises(InputError, match="no \\(finite\\) DLLs"):
        SUITES["pid"].prepare_all({"candidate": blank})


def test_summary_counts_only_bins_with_enough_tracks(tracks: PIDTable) -> None:
    bins = efficiency_bins(tracks, _resimulated(tracks, 9), n_bins=4)
    few = summarise_bins(bins, min_tracks=10**9, tolerance=0.05)
    assert few["efficiency ratio (bins >= 1e+09 tracks): worst |ratio - 1|"]["n"] == 0
    some = summarise_bins(bins, min_tracks=500, tolerance=0.05)
    counted = some["efficiency ratio (bins >= 500 tracks): fraction within 1 ± 0.05"]["n"]
    assert 0 < counted == sum(b.n_eff_ref >= 500 and np.isfinite(b.ratio) for b in bins)
