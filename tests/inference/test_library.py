"""The library baseline on jet images: it replays the nearest stored jet, rescaled to the requested jet pT."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from mlfastsim.data.kinds import KINDS
from mlfastsim.inference import load_run, sample_run
from mlfastsim.training.runs import resolve_run_config, train_run


def test_library_replays_stored_jets_at_the_requested_pt(tmp_path: Path) -> None:
    kind = KINDS["jet-images"]
    stored = kind.example(30, seed=5)
    kind.write(tmp_path / "train.parquet", stored)
    cfg = resolve_run_config(
        "library", "jet-images", None, ["model.n_cond=3", "data.val_fraction=0", "data.n_max=400"]
    )
    train_run(cfg, tmp_path / "train.parquet", tmp_path / "lib")
    run = load_run(tmp_path / "lib")
    # ask for harder versions of the stored jets: each output is a stored jet (the nearest in pT, η, mass)
    # with its energies scaled by requested / stored pT
    harder = dataclasses.replace(stored, pt=stored.pt * 1.3)
    out = sample_run(run, conditions=harder)
    assert np.array_equal(out.pt, harder.pt) and np.array_equal(out.event_id, stored.event_id)
    for i in range(len(out)):
        scales = harder.pt[i] / stored.pt
        matches = [
            j
            for j in range(len(stored))
            if np.allclose(out.images[i, 1], stored.images[j, 1] * scales[j], rtol=1e-4, atol=1e-5)
        ]
        assert matches, f"output {i} is no stored jet rescaled to the requested pT"
        assert all(abs(scales[j] - 1) > 1e-3 for j in matches)
    same = sample_run(run, conditions=stored)  # the stored jets' own kinematics: replayed as stored
    np.testing.assert_allclose(same.images[:, 1], stored.images[:, 1], rtol=1e-4, atol=1e-5)  # ECAL hits only


def test_the_blocked_nearest_neighbour_search_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlfastsim.models import build_model, library

    model, _ = build_model("library", {"n_cond": 3, "outputs": ["features"]})
    gen = torch.Generator().manual_seed(0)
    stored = {
        "cond": torch.randn(50, 3, generator=gen),
        "features": torch.randn(50, 4, generator=gen),
        "mask": torch.ones(50, dtype=torch.bool),
    }
    model.fit_data(stored)
    query = {"cond": torch.randn(1000, 3, generator=gen)}
    expected = torch.cdist(query["cond"], stored["cond"]).argmin(1)
    monkeypatch.setattr(library, "CDIST_ELEMENTS", 120)  # blocks of 2 queries against the 50 stored
    out = model.sample(1000, query)
    torch.testing.assert_close(out["features"], stored["features"][expected])
