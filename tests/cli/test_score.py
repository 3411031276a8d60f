"""``mlfastsim score``: the AUC of a model trained on background only, with its bootstrap interval, by label
or against a signal file."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mlfastsim.cli.main import main
from mlfastsim.data import JetImages, write_jet_images


def test_score_against_a_signal_file_and_by_label_with_an_interval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_toy_jets: Callable[..., JetImages]
) -> None:
    train, bkg, sig, mixed = (tmp_path / f"{n}.h5" for n in ("train", "bkg", "sig", "mixed"))
    write_jet_images(train, make_toy_jets(200, 0))
    background = make_toy_jets(150, 1)
    signal = dataclasses.replace(  # wider jets of hotter hits: anomalous for a model of the background
        make_toy_jets(150, 2, spread=0.15, energy=6.0), y=np.ones(150, np.float32)
    )
    write_jet_images(bkg, background)
    write_jet_images(sig, signal)
    both = [background, signal]
    write_jet_images(
        mixed,
        dataclasses.replace(
            background,
            **{
                f: np.concatenate([getattr(j, f) for j in both])
                for f in ("images", "pt", "m0", "y", "eta", "phi")
            },
            event_id=np.arange(300),
        ),
    )
    run = tmp_path / "run"
    settings = [
        "model.n_cond=0",
        "model.use_gen=false",
        "model.components=4",
        "model.latent=4",
        "data.n_max=64",
    ]
    args = ["train", "gvae", "--data", str(train), "--out", str(run), "--max-steps", "12", "--seed", "1"]
    assert main(args + [x for s in settings for x in ("--set", s)]) == 0
    capsys.readouterr()
    assert (
        main(["score", "--run", str(run), "--data", str(bkg), "--signal", str(sig), "--n-boot", "200"]) == 0
    )
    against = json.loads(capsys.readouterr().out)
    assert against["n_y0"] == 150 and against["n_y1"] == 150 and against["auc_interval_level"] == 0.68
    lo, hi = against["auc_interval"]
    assert lo < against["auc_y1_vs_y0"] < hi and hi - lo < 4 * against["auc_uncertainty"]
    assert against["auc_y1_vs_y0"] > 0.8  # the anomalies score higher than the background
    # the same jets in one file, told apart by their labels: the same AUC
    assert main(["score", "--run", str(run), "--data", str(mixed), "--n-boot", "200"]) == 0
    by_label = json.loads(capsys.readouterr().out)
    assert by_label["auc_y1_vs_y0"] == pytest.approx(against["auc_y1_vs_y0"], abs=1e-6)
    assert main(["score", "--run", str(run), "--data", str(bkg), "--level", "1.5"]) == 2
