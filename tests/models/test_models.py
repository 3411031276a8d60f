"""Property tests of the graph VAEs and the library: shapes, masking, gradients, save/load, sampling."""

from __future__ import annotations

import io

import pytest
import torch

from mlfastsim.data import GEN_FEATURE_NAMES
from mlfastsim.models import FAMILIES, GenerativeModel, build_model

N_MAX = 48
GRID = {"pixel_scale": (4.0, 4.0), "pixel_offset": (62.0, 62.0), "energy_norm": (0.0, 1.0)}


def _config(name: str, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {"n_max": N_MAX, "n_features": 3}
    if name == "gvae":
        base.update(GRID, n_cond=3, components=8, hidden=32, context=64, latent=8)
    if name == "gvae-paper":
        base.update(clusters=(12, 4), hidden=(16, 16), latent=4)
    base.update(extra)
    return base


def _batch(b: int = 16, seed: int = 0, n_max: int = N_MAX, gen: bool = False) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    n = torch.randint(5, n_max, (b, 1), generator=g)
    mask = torch.arange(n_max) < n
    # hits on distinct cells of a 4-per-unit grid, as real calorimeter hits are
    cells = torch.stack([torch.randperm(400, generator=g)[:n_max] for _ in range(b)])
    pos = torch.stack([cells // 20 - 10, cells % 20 - 10], -1).float() / 4.0
    feats = torch.cat([pos, torch.randn(b, n_max, 1, generator=g)], -1) * mask.unsqueeze(-1)
    batch = {"features": feats, "mask": mask, "cond": torch.randn(b, 3, generator=g)}
    if gen:
        gm = torch.arange(10) < torch.randint(1, 10, (b, 1), generator=g)
        gen = torch.randn(b, 10, len(GEN_FEATURE_NAMES), generator=g)
        for name in ("eta_ecal_rel", "phi_ecal_rel"):  # impact points inside the window, a few cells apart
            gen[..., GEN_FEATURE_NAMES.index(name)] *= 0.05
        gen[..., GEN_FEATURE_NAMES.index("reaches_ecal")] = 1.0
        batch["gen_features"] = gen * gm.unsqueeze(-1)
        batch["gen_mask"] = gm
    return batch


def _build(name: str, **extra: object) -> torch.nn.Module:
    torch.manual_seed(0)
    model, _ = build_model(name, _config(name, **extra))
    return model


TRAINABLE = ["gvae", "gvae-paper"]


@pytest.mark.parametrize("name", TRAINABLE)
def test_reconstruct_shapes_and_finite_loss(name: str) -> None:
    model = _build(name).eval()
    batch = _batch()
    out = model.reconstruct(batch)
    assert out["features"].shape == batch["features"].shape
    assert out["mask"].shape == batch["mask"].shape and out["mask"].dtype == torch.bool
    assert (out["features"][~out["mask"]] == 0).all()
    assert torch.isfinite(model.loss(batch)["loss"])
    assert model.score(batch).shape == (16,)


@pytest.mark.parametrize("name", TRAINABLE)
def test_padded_slots_change_nothing(name: str) -> None:
    model = _build(name).eval()
    batch = _batch()
    noisy = dict(batch)
    noisy["features"] = torch.where(
        batch["mask"].unsqueeze(-1), batch["features"], torch.randn_like(batch["features"]) * 50
    )
    with torch.no_grad():
        assert torch.allclose(model.score(batch), model.score(noisy), atol=1e-4)
        a, b = model.reconstruct(batch), model.reconstruct(noisy)
    assert torch.equal(a["mask"], b["mask"])
    assert torch.allclose(a["features"], b["features"], atol=1e-4)


@pytest.mark.parametrize(
    ("name", "extra"),
    [("gvae", {"use_gen": True}), ("gvae", {}), ("gvae-paper", {})],
)
def test_gradients_reach_every_parameter(name: str, extra: dict[str, object]) -> None:
    model = _build(name, **extra).train()
    torch.manual_seed(1)
    model.loss(_batch(b=64, gen="use_gen" in extra))["loss"].backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, missing
    zero = [n for n, p in model.named_parameters() if p.grad.abs().sum() == 0]
    assert not zero, zero


@pytest.mark.parametrize("name", TRAINABLE)
def test_save_load_gives_identical_outputs(name: str) -> None:
    model = _build(name).eval()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    other, _ = build_model(name, _config(name))
    other.load_state_dict(torch.load(buffer))
    other.eval()
    batch = _batch()
    with torch.no_grad():
        assert torch.equal(model.score(batch), other.score(batch))
        assert torch.equal(model.reconstruct(batch)["features"], other.reconstruct(batch)["features"])


def test_gvae_samples_from_the_prior_without_data() -> None:
    model = _build("gvae").eval()
    with torch.no_grad():
        a = model.sample(200, generator=torch.Generator().manual_seed(3))
        b = model.sample(200, generator=torch.Generator().manual_seed(3))
        c = model.sample(7, cond={"cond": torch.zeros(7, 3)}, generator=torch.Generator().manual_seed(3))
    assert a["features"].shape == (200, N_MAX, 3) and c["features"].shape == (7, N_MAX, 3)
    assert torch.equal(a["features"], b["features"]) and torch.equal(a["mask"], b["mask"])
    counts = a["mask"].sum(1)
    assert counts.min() < counts.max(), "the number of hits must vary from jet to jet"
    # hits fill the first slots, by decreasing energy, one per detector cell
    assert torch.equal(a["mask"], torch.sort(a["mask"].int(), 1, descending=True).values.bool())
    e = a["features"][..., 2].masked_fill(~a["mask"], -torch.inf)
    assert (e[:, :-1] >= e[:, 1:]).all()
    cells = torch.round(a["features"][..., :2] * 4 + 62)
    for i in range(20):
        real = cells[i][a["mask"][i]]
        assert len(torch.unique(real, dim=0)) == len(real)


def test_gvae_three_channels_samples_channel_feature() -> None:
    model = _build("gvae", n_features=4, n_channels=3).eval()
    batch = _batch()
    batch["features"] = torch.cat(
        [batch["features"], torch.randint(0, 3, (16, N_MAX, 1)).float() * batch["mask"].unsqueeze(-1)], -1
    )
    assert torch.isfinite(model.loss(batch)["loss"])
    with torch.no_grad():
        out = model.sample(50, generator=torch.Generator().manual_seed(0))
    ch = out["features"][..., 3][out["mask"]]
    assert set(ch.unique().tolist()) <= {0.0, 1.0, 2.0}


def test_gvae_paper_does_not_declare_sampling() -> None:
    assert not isinstance(_build("gvae-paper"), GenerativeModel)
    assert "cannot generate" in FAMILIES["gvae-paper"].summary


def test_library_replays_nearest_stored_jet() -> None:
    model, _ = build_model("library", {"n_max": N_MAX, "n_features": 3, "n_cond": 3})
    batch = _batch()
    model.fit_data(batch)
    out = model.sample(16, cond={"cond": batch["cond"] + 1e-4})
    assert torch.equal(out["features"], batch["features"]) and torch.equal(out["mask"], batch["mask"])
    state = model.state_dict()
    fresh, _ = build_model("library", {"n_max": N_MAX, "n_features": 3, "n_cond": 3})
    fresh.load_state_dict(state)
    again = fresh.sample(5, generator=torch.Generator().manual_seed(0))
    assert again["features"].shape == (5, N_MAX, 3)


def test_every_family_is_registered() -> None:
    assert {"gvae", "gvae-paper", "library", "particle-vae"} <= set(FAMILIES)


@pytest.mark.parametrize("name", TRAINABLE)
def test_short_training_lowers_the_loss(name: str) -> None:
    model = _build(name).train()
    batch = _batch(b=32)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = model.loss(batch)["loss"]
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    # 3 %: the batch's energies are noise, which bounds gvae-paper's MSE (at seed 001's regulariser
    # weight 0.1 its loss is mostly MSE: 1.86 -> 1.78); a model that does not learn stays within 1 %
    assert last < first - 0.03 * abs(first), (first, last)


def test_the_gvae_anomaly_score_reads_the_hits_alone() -> None:
    """Given its own particles and jet mass a top jet's hits are no surprise (the conditioned ELBO told tt̄ from
    QCD no better than the hit count): the score uses the null context that cond_dropout trained."""
    batch = _batch(gen=True)
    other = {**_batch(seed=1, gen=True), "features": batch["features"], "mask": batch["mask"]}
    for dropout in (0.2, 0.0):
        model = _build("gvae", use_gen=True, cond_dropout=dropout).eval()
        with torch.no_grad():
            same = torch.allclose(model.score(batch), model.score(other), atol=1e-5)
            hits_only = model.score({"features": batch["features"], "mask": batch["mask"]})
        # with dropout: the same hits score the same under any conditions and particles, as with none
        assert same == (dropout > 0)
        assert torch.allclose(model.score(batch), hits_only, atol=1e-5) == (dropout > 0)
