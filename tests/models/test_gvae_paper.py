"""gvae-paper without work on padding: the same function as over all slots, whatever the slot order."""

from __future__ import annotations

import pytest
import torch

from mlfastsim._utils import InputError
from mlfastsim.models import build_model

CFG = {"n_max": 40, "n_features": 3, "clusters": (12, 4), "hidden": (16, 16), "latent": 4}


def _batch(b: int = 20, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(40) < torch.randint(2, 40, (b, 1), generator=g)
    feats = torch.randn(b, 40, 3, generator=g) * mask.unsqueeze(-1)  # continuous positions: no kNN ties
    return {"features": feats, "mask": mask}


def _model(**extra: object) -> torch.nn.Module:
    torch.manual_seed(0)
    model, _ = build_model("gvae-paper", {**CFG, **extra})
    return model.eval()


def test_seed_001_regulariser_weights_are_the_default() -> None:
    _, cfg = build_model("gvae-paper", {})
    assert (cfg.weight_mincut, cfg.weight_ortho) == (0.1, 0.1)
    assert cfg.padding == "skip"


@torch.no_grad()
def test_skipping_padding_computes_the_dense_model() -> None:
    fast, dense = _model(), _model(padding="dense")
    fast.load_state_dict(dense.state_dict())
    batch = _batch()
    a, b = fast.reconstruct(batch)["features"], dense.reconstruct(batch)["features"]
    assert torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(fast.score(batch), dense.score(batch), atol=1e-5)
    torch.manual_seed(3)
    la = fast.loss(batch)
    torch.manual_seed(3)
    lb = dense.loss(batch)
    for key in ("mincut", "ortho"):  # batch means, recombined over blocks of jets
        assert torch.allclose(la[key], lb[key], atol=1e-5), key


@torch.no_grad()
def test_real_hits_anywhere_among_the_slots() -> None:
    model, batch = _model(block=3), _batch()
    perm = torch.stack([torch.randperm(40, generator=torch.Generator().manual_seed(i)) for i in range(20)])
    shuffled = {
        "features": batch["features"].gather(1, perm.unsqueeze(-1).expand(-1, -1, 3)),
        "mask": batch["mask"].gather(1, perm),
    }
    out = model.reconstruct(shuffled)["features"]
    assert (out[~shuffled["mask"]] == 0).all()
    expected = model.reconstruct(batch)["features"].gather(1, perm.unsqueeze(-1).expand(-1, -1, 3))
    assert torch.allclose(out, expected, atol=1e-5)


@torch.no_grad()
def test_block_size_changes_nothing() -> None:
    one, many = _model(block=1), _model(block=64)
    batch = _batch()
    assert torch.allclose(one.reconstruct(batch)["features"], many.reconstruct(batch)["features"], atol=1e-5)


def test_bad_padding_setting_is_one_line() -> None:
    with pytest.raises((InputError, ValueError), match=r"model\.padding='none'"):
        build_model("gvae-paper", {"padding": "none"})


def test_neighbour_list_operator_is_the_dense_adjacency() -> None:
    from mlfastsim.data.knn import knn_real_hits
    from mlfastsim.models.gvae_paper import KnnOperator, dense_knn_adjacency

    batch = _batch()
    pos, mask = batch["features"][..., :2], batch["mask"]
    idx = knn_real_hits(pos, mask, 4)
    adj = dense_knn_adjacency(pos, mask, 4, idx)
    v = torch.randn(20, 40, 5)
    graph = KnnOperator(idx, mask)
    assert torch.allclose(graph.apply(v), adj @ v, atol=1e-5)
    assert torch.equal(graph.degree.squeeze(-1), adj.sum(-1))
