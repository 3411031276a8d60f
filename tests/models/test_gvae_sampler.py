"""The gvae sampler's promises: reproducible, one hit per cell, the asked counts, above threshold, by energy."""

from __future__ import annotations

import torch

from mlfastsim.models.gvae import GVAE, GVAEConfig
from mlfastsim.models.gvae_sampler import draw_hits


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
