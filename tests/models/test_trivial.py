"""The ``mean-hit`` baseline: every hit at its jet's energy-weighted centroid with the mean hit energy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlfastsim.cli.main import main
from mlfastsim.data.io import read_jet_images, write_jet_images
from mlfastsim.models import Fitted, GenerativeModel, ReconstructingModel, build_model

NORM = (1.5, 0.8)  # log-energy mean and std of the normalised feature 2


def _batch(f: int = 3) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    mask = torch.arange(30) < torch.randint(1, 30, (12, 1), generator=g)
    feats = torch.randn(12, 30, f, generator=g)
    if f > 3:
        feats[..., 3] = torch.randint(0, 3, (12, 30), generator=g).float()
    return {"features": feats * mask.unsqueeze(-1), "mask": mask}


def _physical(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., :2], torch.exp(x[..., 2] * NORM[1] + NORM[0])


def test_every_hit_at_the_energy_weighted_centroid_with_the_mean_energy() -> None:
    model, _ = build_model("mean-hit", {"n_features": 3, "energy_norm": NORM})
    assert isinstance(model, ReconstructingModel) and isinstance(model, Fitted)
    assert not isinstance(model, GenerativeModel)
    batch = _batch()
    noisy = {**batch, "features": torch.where(batch["mask"].unsqueeze(-1), batch["features"], 99.0)}
    out = model.reconstruct(noisy)
    assert torch.equal(out["mask"], batch["mask"]) and (out["features"][~batch["mask"]] == 0).all()
    for j in range(12):
        m = batch["mask"][j]
        pos, e = _physical(batch["features"][j][m])
        opos, oe = _physical(out["features"][j][m])
        centre = (e.unsqueeze(-1) * pos).sum(0) / e.sum()
        assert torch.allclose(opos, centre.expand_as(opos), atol=1e-5)
        assert torch.allclose(oe, e.mean().expand_as(oe), rtol=1e-4)  # total energy kept
    assert model.score(batch).shape == (12,) and (model.score(batch) > 0).all()


def test_three_channels_each_channel_at_its_own_centroid() -> None:
    model, _ = build_model("mean-hit", {"n_features": 4, "n_channels": 3, "energy_norm": NORM})
    batch = _batch(f=4)
    out = model.reconstruct(batch)["features"]
    assert torch.equal(out[..., 3], batch["features"][..., 3])
    for j in range(12):
        for c in range(3):
            m = batch["mask"][j] & (batch["features"][j, :, 3] == c)
            if not m.any():
                continue
            pos, e = _physical(batch["features"][j][m])
            opos, oe = _physical(out[j][m])
            assert torch.allclose(opos, ((e.unsqueeze(-1) * pos).sum(0) / e.sum()).expand_as(opos), atol=1e-5)
            assert torch.allclose(oe.sum(), e.sum(), rtol=1e-4)


def test_train_and_reconstruct_from_the_command_line(tmp_path: Path, make_toy_jets: Any) -> None:
    data, test = tmp_path / "train.parquet", tmp_path / "test.parquet"
    write_jet_images(data, make_toy_jets(40, seed=1))
    write_jet_images(test, make_toy_jets(10, seed=2))
    assert main(["train", "mean-hit", "--data", str(data), "--out", str(tmp_path / "run")]) == 0
    out = tmp_path / "recon.parquet"
    assert (
        main(["sample", "--run", str(tmp_path / "run"), "--reconstruct", str(test), "--out", str(out)]) == 0
    )
    ref, rec = read_jet_images(test), read_jet_images(out)
    assert np.array_equal(rec.event_id, ref.event_id)
    # each jet is one cell at its centroid holding the jet's (kept) ECAL energy
    assert ((rec.images[:, 1] > 0).reshape(10, -1).sum(1) == 1).all()
    assert np.allclose(rec.images[:, 1].sum((1, 2)), ref.images[:, 1].sum((1, 2)), rtol=1e-4)
    assert (
        main(["sample", "--run", str(tmp_path / "run"), "--n", "3", "--out", str(tmp_path / "x.parquet")])
        != 0
    )
