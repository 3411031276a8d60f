"""``mlfastsim bench runs``: generation timed for trained runs of any family and kind, at each batch size,
beside the reference simulation's recorded cost per event."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlfastsim._utils import apply_overrides
from mlfastsim.bench.reference import bench_reference
from mlfastsim.bench.suite import PAPER
from mlfastsim.cli.main import main
from mlfastsim.data.kinds import KINDS
from mlfastsim.data.kinds.base import Resimulating
from mlfastsim.training.runs import train_run

COST = {"generation": 0.05, "detector": 0.02}  # s per event, as generated files record it


def _train(tmp: Path, family: str, kind: str, make_run_config: Callable[..., Any], *sets: str) -> Path:
    data = tmp / f"{family}-{kind}{KINDS[kind].default_suffix}"
    events = KINDS[kind].example(30, seed=3)
    events.attrs["wall_time_per_event_s"] = COST
    KINDS[kind].write(data, events)
    cfg = apply_overrides(make_run_config(family, kind, max_steps=2, seed=0), list(sets))
    out = tmp / f"run-{family}-{kind}{len(sets)}"
    train_run(cfg, data, out)
    return out


@pytest.mark.slow  # over 20 s: make test-all runs it
def test_bench_runs_times_every_batch_beside_the_reference(
    tmp_path: Path, make_run_config: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    prior = _train(tmp_path, "library", "jet-images", make_run_config)
    detector = _train(tmp_path, "particle-vae", "particle-jets", make_run_config, "model.mode=detector")
    conditions = tmp_path / "library-particle-jets.h5"  # any file of the detector run's kind
    KINDS["particle-jets"].write(conditions, KINDS["particle-jets"].example(20, seed=4))
    out, doc = tmp_path / "bench.json", tmp_path / "performance.md"
    doc.write_text("# Performance\n\nkept text\n")
    args = ["bench", "--run", str(prior), "--run", str(detector), "--conditions", str(conditions)]
    settings = ["--batches", "1,16", "--repeats", "4", "--threads", "1", "--reference-events", "4"]
    settings += ["--example-events", "16"]
    assert main([*args, *settings, "--out", str(out), "--markdown", str(doc)]) == 0
    result = json.loads(out.read_text())
    assert result["batches"] == [1, 16] and result["threads"] == 1 and result["repeats"] == 4
    lib, vae = result["runs"][str(prior)], result["runs"][str(detector)]
    assert lib["mode"] == "from the prior" and vae["mode"] == "conditioned on events"
    assert vae["events"] == "given file" and lib["events"].startswith("kind example")
    paper = result["runs"][PAPER]  # jet images: the seeds' model timed beside them, in the same run
    assert paper["family"] == "gvae-paper" and "reconstruction" in paper["mode"]
    for r in (lib, vae, paper):
        assert set(r["timings"]) == {"1", "16"}
        assert all(t["repeats"] == 4 for t in r["timings"].values())  # --repeats as given, not a quarter
        assert all(t["us_per_event"] > 0 and t["peak_rss_mb"] > 0 for t in r["timings"].values())
        assert r["threads"] == 1 and r["backend"] == "torch" and r["device"] == "cpu"
    for r in (lib, vae):
        assert r["reference_s_per_event"] == COST
        largest = r["timings"]["16"]["us_per_event"] * 1e-6
        assert r["speedup_vs_reference"] == pytest.approx(sum(COST.values()) / largest)
    for kind, r in (("jet-images", lib), ("particle-jets", vae)):
        ref = result["references"][kind]
        assert ref["declared"] and ref["n"] == 4 and ref["us_per_event"] > 0
        for b in ("1", "16"):
            assert r["vs_reference"][b] == pytest.approx(
                ref["us_per_event"] / r["timings"][b]["us_per_event"]
            )
    assert lib["vs_gvae_paper"]["16"] == pytest.approx(
        paper["timings"]["16"]["us_per_event"] / lib["timings"]["16"]["us_per_event"]
    )
    assert "vs_gvae_paper" not in vae
    printed = capsys.readouterr().out
    assert "µs/event @16" in printed and "reference simulation" in printed
    page = doc.read_text()
    assert page.startswith("# Performance\n\nkept text") and page.count("mlfastsim bench runs: start") == 1
    assert str(detector) in page and "| particle-vae |" in page
    assert main([*args, *settings, "--markdown", str(doc)]) == 0  # regenerated in place, not appended
    assert doc.read_text().count("mlfastsim bench runs: start") == 1


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_declares_how_to_time_its_reference(name: str) -> None:
    kind = KINDS[name]
    assert isinstance(kind, Resimulating), (
        f"{name}: declare resimulate(ev, seed) (data.kinds.base.Resimulating)"
    )
    events = kind.example(3, seed=1)
    again = kind.resimulate(events, seed=2)
    assert type(again) is type(events) and len(again) == 3
    assert np.array_equal(again.event_id, events.event_id)
    result = bench_reference(kind, events, n=5, repeats=1)
    assert result["declared"] and result["n"] == 5 and result["us_per_event"] > 0


def test_a_conditional_run_takes_its_kinds_examples_and_bad_batches_are_one_line(
    tmp_path: Path, make_run_config: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    detector = _train(tmp_path, "particle-vae", "particle-jets", make_run_config, "model.mode=detector")
    out = tmp_path / "bench.json"
    args = ["bench", "runs", "--run", str(detector), "--repeats", "1", "--reference-events", "2"]
    args += ["--example-events", "8"]
    assert main([*args, "--batches", "500", "--out", str(out)]) == 0  # bench_sampler loops 2000/batch calls
    r = json.loads(out.read_text())["runs"][str(detector)]
    assert r["mode"] == "conditioned on events" and r["events"].startswith("kind example")
    assert main([*args, "--batches", "2,x"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--batches" in err and "\n" not in err
