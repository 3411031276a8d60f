"""The gvae sampler's promises: reproducible, one hit per cell, the asked counts, above threshold, by energy."""

from __future__ import annotations

import torch

from mlfastsim.models.gvae import GVAE, GVAEConfig
from mlfastsim.models.gvae_sampler import draw_hits, mixture_from_noise, mixture_noise


def test_sampler_fills_distinct_cells_above_threshold_by_decreasing_energy() -> None:
    config = GVAEConfig(
        n_max=30,
        min_log_energy=-0.5,
        components=5,
        latent=4,
        pixel_scale=(4.0, 4.0),
        pixel_offset=(62.0, 62.0),
    )
    torch.manual_seed(0)
    with torch.no_grad():
        params = GVAE(config).decode(torch.randn(6, 4, generator=torch.Generator().manual_seed(3)), None)
    n_hits = torch.tensor([0, 1, 5, 12, 30, 30])
    out = draw_hits(params, n_hits, config, torch.Generator().manual_seed(4))
    again = draw_hits(params, n_hits, config, torch.Generator().manual_seed(4))
    assert torch.equal(out["features"], again["features"]) and torch.equal(out["mask"], again["mask"])
    feats, mask = out["features"], out["mask"]
    assert feats.shape == (6, 30, 3) and (mask.sum(1) <= n_hits).all()
    assert (mask.sum(1)[:4] == n_hits[:4]).all()  # over-sampling finds enough cells for small jets
    assert torch.equal(mask, torch.sort(mask.int(), 1, descending=True).values.bool())
    assert (feats[~mask] == 0).all() and (feats[..., 2][mask] >= -0.5).all()
    e = feats[..., 2].masked_fill(~mask, -torch.inf)
    assert (e[:, :-1] >= e[:, 1:]).all()
    cells = torch.round(feats[..., :2] * 4 + 62)
    assert torch.equal(cells, feats[..., :2] * 4 + 62)  # snapped to cell centres
    for i in range(6):
        real = cells[i][mask[i]]
        assert len(torch.unique(real, dim=0)) == len(real)


def test_sample_draws_what_the_exported_sampler_draws_from_the_same_noise() -> None:
    # sample's native searches and special functions (exportable=False) against the export's operations
    config = GVAEConfig(
        n_max=40, n_features=4, n_channels=3, channel_cells=(1, 1, 5), components=24, latent=4,
        min_log_energy=-0.5, pixel_scale=(4.0, 4.0), pixel_offset=(62.0, 62.0),
    )  # fmt: skip
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        params = GVAE(config).decode(3.0 * torch.randn(8, 4, generator=gen), None)
        noise = mixture_noise(8, 500, gen, torch.device("cpu"))
        x, comp, ch = mixture_from_noise(params, config, noise, exportable=True)
        fx, fcomp, fch = mixture_from_noise(params, config, noise, exportable=False)
    assert torch.equal(comp, fcomp) and torch.equal(ch, fch)
    assert len(torch.unique(comp)) > 5 and len(torch.unique(ch)) == 3  # the test has something to compare
    assert torch.allclose(x, fx, rtol=1e-5, atol=1e-5)


def test_jets_drawn_in_groups_of_similar_counts_come_back_in_their_order() -> None:
    config = GVAEConfig(n_max=30, components=5, latent=4, pixel_scale=(4.0, 4.0), pixel_offset=(62.0, 62.0))
    torch.manual_seed(0)
    with torch.no_grad():
        params = GVAE(config).decode(torch.randn(40, 4, generator=torch.Generator().manual_seed(3)), None)
    # jet i tells itself by its hits' log-energies, all close to i / 2
    params["mean"][..., 2], params["log_std"][..., 2] = torch.arange(40.0).view(-1, 1) / 2, -4.0
    n_hits = torch.arange(40) % 7 * 3  # 40 jets: 3 groups of at least 16, counts not in order
    out = draw_hits(params, n_hits, config, torch.Generator().manual_seed(4))
    assert torch.equal(out["mask"].sum(1), n_hits)
    has = n_hits > 0
    assert torch.allclose(out["features"][has, 0, 2], torch.arange(40.0)[has] / 2, atol=0.1)
