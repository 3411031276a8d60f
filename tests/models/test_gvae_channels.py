"""gvae and gvae-paper on three-channel hit clouds: every channel on its own cells (HCAL on towers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mlfastsim.data.kinds import KINDS
from mlfastsim.data.representations import image_to_cloud
from mlfastsim.inference import batch_keys
from mlfastsim.models.cellgraph import cell_neighbours, channel_neighbours
from mlfastsim.models.gvae import GVAE, GVAEConfig
from mlfastsim.models.gvae_likelihood import dequantise
from mlfastsim.physics.detector.geometry import HCAL_TOWER_CRYSTALS, HCAL_TOWERS, crystals_to_towers
from mlfastsim.training.runs import setup_model

K = HCAL_TOWER_CRYSTALS
CONFIGS = Path(__file__).resolve().parents[2] / "configs"
#: normalised positions in crystal units around the axis: row = rint(x + 62)
GRID_MAP: dict[str, Any] = {"pixel_scale": (1.0, 1.0), "pixel_offset": (62.0, 62.0)}


def test_neighbours_stay_in_their_channel_and_towers_neighbour_towers() -> None:
    # slot 0: ECAL crystals (61, 62) and (62, 62); slot 1: HCAL towers whose centres are 5 crystals apart
    row = torch.tensor([[61, 62, 62, 67, 57]])
    col = torch.tensor([[62, 62, 62, 62, 57]])
    ch = torch.tensor([[0, 0, 1, 1, 1]])
    mask = torch.ones(1, 5, dtype=torch.bool)
    nb = channel_neighbours(row, col, ch, mask, (1, K))
    assert set(nb[0, 0].tolist()) == {0, 1} and set(nb[0, 1].tolist()) == {0, 1}  # ECAL: adjacent crystals
    assert set(nb[0, 2].tolist()) == {2, 3, 4}  # the tower sees the adjacent towers, not the ECAL crystal
    assert set(nb[0, 3].tolist()) == {2, 3} and set(nb[0, 4].tolist()) == {2, 4}
    one = channel_neighbours(row, col, torch.zeros_like(ch), mask, (1,))
    assert torch.equal(one, cell_neighbours(row, col, mask))  # one crystal channel: as before


def test_dequantise_spreads_a_tower_hit_over_its_tower() -> None:
    torch.manual_seed(0)
    x = torch.zeros(1, 4000, 4)
    x[0, 2000:, 3] = 1.0  # slot 1 on towers
    shift = dequantise(x, (1.0, 1.0), (1, K))[0, :, :2] - x[0, :, :2]
    crystal, tower = shift[:2000].abs().amax(0), shift[2000:].abs().amax(0)
    assert (crystal <= 0.5).all() and (crystal > 0.49).all()
    assert (tower <= K / 2).all() and (tower > 0.49 * K).all()


def three_channel_gvae(cells: tuple[int, ...] = (1, 1, K)) -> GVAE:
    cfg = GVAEConfig(
        n_max=300,
        n_features=4,
        n_channels=3,
        channel_cells=cells,
        components=8,
        context=32,
        latent=4,
        **GRID_MAP,
    )
    torch.manual_seed(1)
    return GVAE(cfg).eval()


def test_sampled_hits_sit_one_per_cell_on_their_channels_grid() -> None:
    model = three_channel_gvae()
    with torch.no_grad():
        out = model.sample(16, generator=torch.Generator().manual_seed(3))
    x, mask = out["features"][out["mask"]], out["mask"]
    assert mask.sum() > 200
    row, col = x[:, 0] + 62, x[:, 1] + 62
    ch = x[:, 3].long()
    assert torch.equal(row, row.round()) and torch.equal(col, col.round())  # cell centres
    assert set(ch.unique().tolist()) == {0, 1, 2}
    tower = ch == 2
    assert tower.sum() > 10
    assert ((row[tower] % K == K // 2) & (col[tower] % K == K // 2)).all()  # tower centres
    jet = torch.arange(16).unsqueeze(1).expand_as(mask)[mask]
    cells = torch.stack(
        [jet, ch, row.long() // torch.where(tower, K, 1), col.long() // torch.where(tower, K, 1)]
    )
    assert cells.unique(dim=1).shape[1] == cells.shape[1]  # one hit per cell of each channel


def test_crystal_grid_for_every_channel_puts_hcal_hits_off_the_tower_centres() -> None:
    """The check above can fail: without tower cells the HCAL hits land on crystals anywhere."""
    model = three_channel_gvae(cells=())
    with torch.no_grad():
        out = model.sample(16, generator=torch.Generator().manual_seed(3))
    x = out["features"][out["mask"]]
    row = x[x[:, 3] == 2, 0] + 62
    assert (row % K != K // 2).any()


@pytest.fixture(scope="module", params=["gvae", "gvae-paper"])
def three_channel_run(request: pytest.FixtureRequest) -> dict[str, Any]:
    family = request.param
    small = {"gvae": ["model.components=8", "model.context=32", "model.latent=8", "model.use_gen=false"],
             "gvae-paper": ["model.clusters=[12,4]", "model.hidden=[16,16]", "model.latent=4"]}[family]  # fmt: skip
    from mlfastsim._utils import load_config_file
    from mlfastsim.training.runs import resolve_run_config

    file_cfg = load_config_file(CONFIGS / f"{family}-3ch.toml")
    cfg = resolve_run_config(family, "jet-images", file_cfg, small, seed=0)
    events = KINDS["jet-images"].example(12, seed=0)
    cfg, codec, model = setup_model(cfg, events)
    return {"cfg": cfg, "codec": codec, "model": model.eval(), "events": events}


def test_three_channel_configs_give_each_channel_its_cells(three_channel_run: dict[str, Any]) -> None:
    cfg, codec, events = three_channel_run["cfg"], three_channel_run["codec"], three_channel_run["events"]
    assert cfg.data.channels == (0, 1, 2) and sum(cfg.data.channel_budget) <= cfg.data.n_max
    assert codec.model_fields()["channel_cells"] == (1, 1, K)
    if cfg.family == "gvae":
        assert cfg.model.channel_cells == (1, 1, K) and cfg.model.n_channels == 3
    batch = codec.encode(events, batch_keys(cfg.model))
    assert batch["features"].shape[-1] == 4
    towers = (crystals_to_towers(events.images[:, 2]) > 0).reshape(len(events), -1).sum(1)
    n_hcal = ((batch["features"][..., 3] == 2) & batch["mask"]).sum(1).numpy()
    np.testing.assert_array_equal(n_hcal, np.minimum(towers, cfg.data.channel_budget[2]))


def test_generated_or_reconstructed_jets_paint_onto_each_channels_cells(
    three_channel_run: dict[str, Any],
) -> None:
    cfg, codec, model, events = (three_channel_run[k] for k in ("cfg", "codec", "model", "events"))
    batch = codec.encode(events, batch_keys(cfg.model))
    with torch.no_grad():
        out = model.sample(len(events)) if cfg.family == "gvae" else model.reconstruct(batch)
    if cfg.family == "gvae-paper":  # its channel is a regressed feature (≈ 0 untrained): the input's, as if
        out["features"][..., 3] = batch["features"][..., 3]  # learned; positions are the decoder's own
    jets = codec.decode(out, events)
    hcal = jets.images[:, 2]
    assert hcal.sum() > 0
    towers = hcal.reshape(len(jets), HCAL_TOWERS, K, HCAL_TOWERS, K)
    np.testing.assert_allclose(towers.max((2, 4)), towers.min((2, 4)), rtol=1e-6)  # whole towers
    cloud = image_to_cloud(jets.images, n_max=2000, channels=(0, 1, 2))
    n_cells = (jets.images[:, :2] > 0).sum((1, 2, 3)) + (crystals_to_towers(hcal) > 0).sum((1, 2))
    np.testing.assert_array_equal(cloud.n_hits, n_cells)
