"""``halos = 2``: a second, narrow halo per particle (the ring of crystals around its core) — its starting
parameters, its exclusion from the particle's core cells in the likelihood and the sampler, and its export."""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from tests.models.test_channel_cores import COL, _gen, _model, onnx_parity

from mlfastsim.models.gvae import GVAE, GVAEConfig
from mlfastsim.models.gvae_likelihood import cell_sides, hit_cells
from mlfastsim.models.gvae_sampler import mixture_from_noise, mixture_noise
from mlfastsim.models.halo_cells import halo_core_mass, halo_exclusion
from mlfastsim.models.particle_response import RING_FRACTION, RING_WIDTH_CELLS


def _ring_model(**changes: object) -> GVAE:
    torch.manual_seed(0)
    return GVAE(replace(_model().config, halos=2, **changes)).eval()  # type: ignore[arg-type]


def _decode(model: GVAE, gen: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        ctx, anchors = model._context(
            {"gen_features": gen, "gen_mask": mask}, len(gen), gen.device, drop=False
        )
        return model.decode(torch.zeros(len(gen), 4), ctx, gen, anchors)


def test_each_particle_gets_a_second_narrow_halo_at_its_impact_point() -> None:
    gen, mask = _gen()
    m, k = gen.shape[1], _model().config.components
    one, two = _decode(_model(), gen, mask), _decode(_ring_model(), gen, mask)
    assert one["mean"].shape[1] == k + m and two["mean"].shape[1] == k + 2 * m  # halo-major after the globals
    first, ring = slice(k, k + m), slice(k + m, k + 2 * m)
    # the same impact point; the ring σ ≈ RING_WIDTH_CELLS (pixel scale 1), its hits ≈ RING_FRACTION of E
    assert torch.allclose(two["mean"][0, ring, :2], two["mean"][0, first, :2], atol=0.05)
    assert torch.allclose(two["log_std"][0, ring, :2].exp(), torch.full((m, 2), RING_WIDTH_CELLS), atol=0.05)
    log_e = gen[0, :, COL["log_e"]]  # energy_norm (0, 1): ln GeV
    assert torch.allclose(two["mean"][0, ring, 2], log_e + math.log(RING_FRACTION), atol=0.05)
    assert not torch.allclose(two["log_std"][0, ring, :2], two["log_std"][0, first, :2], atol=0.1)
    # the ring draws ECAL hits (slot 1) alone; the first halo any channel
    assert (two["channel_logp"][0, ring, 1] > -1e-6).all() and (
        two["channel_logp"][0, ring][:, [0, 2]] < -20
    ).all()
    assert (two["channel_logp"][0, first] > -3).all()


def test_each_halo_is_taken_out_of_its_own_particles_core_cells() -> None:
    """``halo_exclusion`` with two halos per particle: each halo's correction is the one it gets alone."""
    gen, mask = _gen()
    params = _decode(_ring_model(halo_rings=True), gen, mask)
    m = gen.shape[1]
    cells = params["core_cell"][:, m : 2 * m]  # hits in the ECAL crystals the particles own, and one off
    x = torch.tensor([[[3.0, -2.0, 0.5, 1.0], [4.0, 0.0, 0.5, 1.0], [6.0, -2.0, 0.5, 1.0]]])
    hit_cell, slots = hit_cells(x, _model().config), x[..., 3].long()
    assert set(hit_cell[0, :2].tolist()) <= set(cells[0].tolist())
    scale, offset, sides = (1.0, 1.0), (62.0, 62.0), (1, 1, 5)
    both = halo_exclusion(params, hit_cell, scale, offset, slots, sides, halos=2)
    assert both.shape == (1, 3, 2 * m)
    for h in range(2):
        alone = dict(params)
        keep = slice(params["mean"].shape[1] - (2 - h) * m, params["mean"].shape[1] - (1 - h) * m)
        alone["mean"], alone["log_std"] = params["mean"][:, keep], params["log_std"][:, keep]
        assert torch.allclose(both[..., h * m : (h + 1) * m], halo_exclusion(alone, hit_cell, scale, offset,
                                                                          slots, sides))  # fmt: skip
    assert (both[0, :2] < -1e3).sum() == 4  # two hits, each in one owner's crystal, for both its halos


def test_with_halo_rings_neither_halo_draws_in_its_own_core_cells() -> None:
    gen, mask = _gen([(3, -2, 5.0, 1, 0), (-20, 15, 8.0, 1, 0)])  # two charged hadrons, far apart
    n = 64
    cond = {"gen_features": gen.expand(n, -1, -1), "gen_mask": mask.expand(n, -1)}
    model = _ring_model(halo_rings=True)
    width = model.mixture_head.out_features // model.config.components
    with torch.no_grad():
        model.anchor_head[-1].bias[0:9:3] = -20.0  # no cores drawn: their cells stay free
        model.anchor_head[-1].bias[9] = -30.0  # the first halo off: every hit is the ring's
        model.mixture_head.weight[0::width] = 0.0
        model.mixture_head.bias[0::width] = -30.0  # no global components
    params = _decode(model, gen.expand(n, -1, -1), mask.expand(n, -1))
    owned = torch.where(params["core_owner"], params["core_cell"], -5)
    out = model.sample(n, cond=cond, generator=torch.Generator().manual_seed(1))
    hit = torch.where(out["mask"], hit_cells(out["features"], model.config), -7)
    assert out["mask"].sum() > 100  # the ring's hits, around the core cells
    assert int((hit.unsqueeze(2) == owned.unsqueeze(1)).any(2).sum()) == 0


def test_two_halos_export_to_onnx_with_parity() -> None:
    _, mask = onnx_parity(_ring_model())
    assert mask.any()


def _kept_shares(model: GVAE, params: dict[str, torch.Tensor], n: int) -> torch.Tensor:
    """The shares ``[K', C]`` of (component, channel) among ``n`` mixture draws of one jet, the halos' draws
    in their particle's own core cell of their channel thrown away (the sampler's rule with ``halo_rings``)."""
    draws = mixture_from_noise(params, model.config, mixture_noise(1, n, torch.Generator().manual_seed(3),
                                                                   torch.device("cpu")), exportable=False)  # fmt: skip
    x, comp, ch = draws
    slots = len(cell_sides(model.config))
    m = params["core_cell"].shape[1] // slots
    n_global = params["mean"].shape[1] - model.config.halos * m
    owned = torch.where(params["core_owner"], params["core_cell"], -5)[0]
    own = owned[ch[0] * m + (comp[0] - n_global).clamp_min(0) % m]
    kept = ~((comp[0] >= n_global) & (hit_cells(x, model.config)[0] == own))
    shares = torch.zeros(params["mean"].shape[1], slots)
    shares.index_put_((comp[0][kept], ch[0][kept]), torch.ones(int(kept.sum())), accumulate=True)
    return shares / kept.sum()


def test_with_halo_rings_the_kept_draws_follow_the_likelihoods_weights() -> None:
    """A hadron's halo is mostly inside its own 5 × 5-crystal HCAL tower; the sampler throws those draws away,
    so it draws each halo's (component, channel) 1/(1 − P_core) times as often: the kept draws then hold each
    pair with the likelihood's weight w_k c_ks (truncated halos, normalised per channel)."""
    gen, mask = _gen([(3, -2, 20.0, 0, 0)])  # a neutral hadron: cores in the ECAL and the HCAL
    model = _ring_model(halo_rings=True)
    params = _decode(model, gen, mask)
    target = params["log_weights"][0].softmax(-1)[:, None] * params["channel_logp"][0].softmax(-1)
    shares = _kept_shares(model, params, 200_000)
    k = params["mean"].shape[1] - 2  # the halos: the last two components
    p_core = (-halo_core_mass(params, (1.0, 1.0), (62.0, 62.0), (1, 1, 5), halos=2)).expm1().neg()[0]
    assert p_core[0, 2] > 0.3  # the first halo is mostly in its own HCAL tower
    assert torch.allclose(shares[k:].sum(0), target[k:].sum(0), rtol=0.03, atol=2e-3)
    assert torch.allclose(shares[:k].sum(), target[:k].sum(), rtol=0.03)


def test_in_one_channel_the_kept_draws_follow_the_likelihoods_halo_weights() -> None:
    """One channel: the halos are always rings (outside their particle's core crystal); the sampler's boost
    keeps each halo's share of the kept draws at the likelihood's weight."""
    cfg = GVAEConfig(
        n_max=64, n_features=3, use_gen=True, components=4, context=16, latent=4, hidden=8,
        pixel_scale=(1.0, 1.0), pixel_offset=(62.0, 62.0), energy_norm=(0.0, 1.0), min_log_energy=-3.0,
        cond_dropout=0.0, halos=2,
    )  # fmt: skip
    torch.manual_seed(0)
    model = GVAE(cfg).eval()
    gen, mask = _gen([(3, -2, 20.0, 0, 1)])  # a photon: its core crystal and two halos around it
    params = _decode(model, gen, mask)
    target = params["log_weights"][0].softmax(-1)
    shares = _kept_shares(model, params, 200_000)[:, 0]
    p_core = (-halo_core_mass(params, (1.0, 1.0), (62.0, 62.0), (1,), halos=2)).expm1().neg()[0, :, 0]
    assert p_core.max() > 0.2  # a halo with much of its mass in the core's crystal
    assert torch.allclose(shares[-2:], target[-2:], rtol=0.03, atol=2e-3)
    assert torch.allclose(shares[:-2].sum(), target[:-2].sum(), rtol=0.03)
