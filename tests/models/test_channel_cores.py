"""Cores in every channel of the three-channel gvae with particles: a charged particle's track pixel, each
particle's ECAL crystal, a hadron's HCAL tower — owned, matched by the likelihood and drawn channel by channel."""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from mlfastsim.data import GEN_FEATURE_NAMES
from mlfastsim.models.cellgraph import GRID
from mlfastsim.models.gvae import GVAE, GVAEConfig
from mlfastsim.models.gvae_likelihood import hit_cells, hit_log_likelihood
from mlfastsim.models.particle_response import core_cells, match_core_hits
from mlfastsim.physics.detector.geometry import CRYSTAL_DETA, CRYSTAL_DPHI, HCAL_TOWER_CRYSTALS

K = HCAL_TOWER_CRYSTALS
COL = {name: i for i, name in enumerate(GEN_FEATURE_NAMES)}
SLOTS = (0, 1, 2)  # tracks, ECAL, HCAL
SIDES = (1, 1, K)

#: (Δη cells, Δφ cells, E [GeV], charge, is_em): a charged hadron and a photon in one crystal, a neutral
#: hadron in the same HCAL tower (crystal rows 65, 66 and columns 60, 62 all fall in tower (13, 12))
PARTICLES = [(3, -2, 5.0, 1, 0), (3.2, -1.9, 20.0, 0, 1), (4, 0, 8.0, 0, 0)]


def _gen(rows: list[tuple[float, float, float, int, int]] = PARTICLES) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.zeros(1, len(rows), len(GEN_FEATURE_NAMES))
    for j, (deta, dphi, e, q, em) in enumerate(rows):
        gen[0, j, COL["eta_ecal_rel"]] = deta * CRYSTAL_DETA
        gen[0, j, COL["phi_ecal_rel"]] = dphi * CRYSTAL_DPHI
        gen[0, j, COL["log_e"]] = gen[0, j, COL["log_pt"]] = math.log(e)
        gen[0, j, COL["charge"]] = q
        gen[0, j, COL["is_em"]] = em
        gen[0, j, COL["reaches_ecal"]] = 1.0
    return gen, torch.ones(1, len(rows), dtype=torch.bool)


def _cell(slot: int, row: int, col: int) -> int:
    side = SIDES[slot]
    return (slot * GRID + row // side) * GRID + col // side


def test_each_channel_has_its_own_owners_and_cells() -> None:
    gen, mask = _gen()
    cell, owner = core_cells(gen, mask, SLOTS, SIDES)
    m = len(PARTICLES)
    assert cell.shape == owner.shape == (1, 3 * m)  # channel-major
    # tracks: only the charged hadron; ECAL: the photon beats the hadron in their crystal; the neutral
    # hadron owns its crystal; HCAL: the more energetic hadron owns the tower, the photon owns none
    assert owner[0].tolist() == [True, False, False, False, True, True, False, False, True]
    assert cell[0, 0] == _cell(0, 65, 60) and cell[0, m + 1] == _cell(1, 65, 60)
    assert cell[0, m + 2] == _cell(1, 66, 62) and cell[0, 2 * m + 2] == _cell(2, 66, 62)
    one, _ = core_cells(gen, mask)  # one channel: the crystal as before
    assert one[0, 1] == 65 * GRID + 60


def _model() -> GVAE:
    cfg = GVAEConfig(
        n_max=64, n_features=4, n_channels=3, channel_cells=SIDES, image_channels=SLOTS, use_gen=True,
        components=4, context=16, latent=4, hidden=8, pixel_scale=(1.0, 1.0), pixel_offset=(62.0, 62.0),
        energy_norm=(0.0, 1.0), min_log_energy=-3.0, cond_dropout=0.0,
    )  # fmt: skip
    torch.manual_seed(0)
    return GVAE(cfg).eval()


def test_the_likelihood_matches_each_hit_to_the_core_of_its_channel() -> None:
    model = _model()
    gen, mask = _gen()
    with torch.no_grad():
        ctx, anchors = model._context({"gen_features": gen, "gen_mask": mask}, 1, gen.device, drop=False)
        params = model.decode(torch.zeros(1, 4), ctx, gen, anchors)
    m = len(PARTICLES)
    assert params["core_logit"].shape == (1, 3 * m)
    # a track pixel, an ECAL hit and a tower hit, all at the crystal (65, 60) (the tower at its centre)
    x = torch.tensor([[[3.0, -2.0, 1.5, 0.0], [3.0, -2.0, 2.9, 1.0], [3.0, 0.0, 2.0, 2.0]]])
    cell = hit_cells(x, model.config)
    assert cell[0].tolist() == [_cell(0, 65, 60), _cell(1, 65, 60), _cell(2, 65, 62)]
    core_hit, is_core = match_core_hits(cell, torch.ones(1, 3, dtype=torch.bool), params["core_cell"],
                                        params["core_owner"])  # fmt: skip
    assert is_core.all()
    assert (
        core_hit[0, 0, 0] and core_hit[0, m + 1, 1] and core_hit[0, 2 * m + 2, 2]
    )  # track: hadron, ECAL: photon


def test_sampled_cores_carry_their_channel_and_the_particles_momentum() -> None:
    model = _model()
    gen, mask = _gen()
    n = 400
    cond = {"gen_features": gen.expand(n, -1, -1), "gen_mask": mask.expand(n, -1)}
    with torch.no_grad():
        out = model.sample(n, cond, generator=torch.Generator().manual_seed(1))
    x, keep = out["features"], out["mask"]
    track = keep & (x[..., 3] == 0) & (x[..., 0] == 3.0) & (x[..., 1] == -2.0)
    # the charged hadron's track pixel in ≈ σ(2.2) = 90 % of the jets, at its pT (5 GeV, σ 10 % at start)
    assert 0.8 < track.any(1).float().mean() < 0.97
    pt = x[..., 2][track].exp()
    assert abs(float(pt.median()) - 5.0) < 0.5
    tower = (
        keep & (x[..., 3] == 2) & (x[..., 0] == 5.0) & (x[..., 1] == 0.0)
    )  # tower (13, 12): crystal (67, 62)
    assert tower.any(1).float().mean() > 0.3


def test_the_three_channel_sampler_with_cores_exports_to_onnx_with_parity() -> None:
    from mlfastsim.inference.export import draw_inputs, export_onnx_bytes, onnx_feed, onnx_session, parity

    model = _model()
    sampler = model.pure_sampler("conditioned")
    gen, mask = _gen()
    cond = {"gen_features": gen.expand(8, -1, -1), "gen_mask": mask.expand(8, -1)}
    inputs = draw_inputs(sampler.spec, 8, torch.Generator().manual_seed(2), cond)
    assert inputs["u_core"].shape == (8, 3, len(PARTICLES))  # one core per particle and channel
    with torch.no_grad():
        reference = list(sampler(*inputs.values()))
    blob = export_onnx_bytes(sampler, inputs, {"version": "test", "model": "gvae", "kind": "jet-images"})
    session = onnx_session(blob)
    exported = session.run(None, onnx_feed(session, inputs))
    report = parity(sampler.spec, reference, exported)
    assert report["ok"], report
    assert (reference[0][..., 3][reference[1]] == 0).any()  # track hits among them


def test_the_cores_log_energy_spread_is_capped_by_the_config() -> None:
    """A hadron's ECAL core is a MIP or an early shower; a log-normal fitted to both grows wide, and at σ = e
    (normalised) its upper tail drew cores of 10⁵ × the particle's energy: ``max_core_log_std`` caps it."""
    gen, mask = _gen()
    for cap in (1.0, 0.0, -0.5):
        model = GVAE(replace(_model().config, max_core_log_std=cap)).eval()
        with torch.no_grad():
            model.anchor_head[-1].bias[2::3] += 10.0  # every core's log σ far above any cap
            ctx, anchors = model._context({"gen_features": gen, "gen_mask": mask}, 1, gen.device, drop=False)
            params = model.decode(torch.zeros(1, 4), ctx, gen, anchors)
        assert torch.allclose(params["core_log_std"], torch.full_like(params["core_log_std"], cap))


def test_the_cores_log_energy_mean_stays_below_the_particles_energy_plus_the_excess() -> None:
    """``max_core_excess``: no core's mean above ln(E) + excess (ln pT for tracks), means well below unchanged."""
    gen, mask = _gen()
    log_e = gen[0, :, COL["log_e"]].repeat(3)  # tracks: log_pt, the same in _gen
    base = replace(_model().config, energy_norm=(0.5, 2.0))
    means = {}
    for excess, shift in ((None, 10.0), (0.7, 10.0), (0.7, -5.0), (None, -5.0)):
        torch.manual_seed(0)
        model = GVAE(replace(base, max_core_excess=excess)).eval()
        with torch.no_grad():
            model.anchor_head[-1].bias[1:9:3] += shift  # every core's mean far above / below its bound
            ctx, anchors = model._context({"gen_features": gen, "gen_mask": mask}, 1, gen.device, drop=False)
            means[excess, shift] = (
                model.decode(torch.zeros(1, 4), ctx, gen, anchors)["core_mean"][0] * 2.0 + 0.5
            )
    assert (means[None, 10.0] > log_e + 5).all()  # unbounded: the shift goes through
    assert (means[0.7, 10.0] <= log_e + 0.7 + 1e-5).all() and (means[0.7, 10.0] > log_e + 0.69).all()
    assert torch.allclose(means[0.7, -5.0], means[None, -5.0], atol=1e-4)


def test_with_halo_rings_no_halo_hit_is_drawn_in_its_own_core_cell_of_any_channel() -> None:
    """``halo_rings``: as the likelihood takes each particle's core cells out of its halo, the sampler draws
    none there, in every channel, even where the core itself is absent; without it, halos fill them."""
    gen, mask = _gen([(3, -2, 5.0, 1, 0)])  # one charged hadron: a track, an ECAL and an HCAL core cell
    n = 64
    cond = {"gen_features": gen.expand(n, -1, -1), "gen_mask": mask.expand(n, -1)}
    inside = {}
    for rings in (True, False):
        torch.manual_seed(0)
        model = GVAE(replace(_model().config, halo_rings=rings)).eval()
        with torch.no_grad():
            model.anchor_head[-1].bias[0:9:3] = -20.0  # no cores drawn: their cells stay free
            weights = slice(0, None, model.mixture_head.out_features // model.config.components)
            model.mixture_head.weight[weights] = 0.0
            model.mixture_head.bias[weights] = -30.0  # no global components: every hit is the halo's
            ctx, anchors = model._context(cond, n, gen.device, drop=False)
            cells = model.decode(torch.zeros(n, 4), ctx, gen.expand(n, -1, -1), anchors)
        owned = torch.where(cells["core_owner"], cells["core_cell"], -5)
        out = model.sample(n, cond=cond, generator=torch.Generator().manual_seed(1))
        hit = torch.where(out["mask"], hit_cells(out["features"], model.config), -7)
        inside[rings] = int((hit.unsqueeze(2) == owned.unsqueeze(1)).any(2).sum())
    assert inside[True] == 0 and inside[False] > 0, inside


def test_the_loss_with_halo_rings_takes_the_core_cells_out_of_the_halos() -> None:
    """The three-channel loss with ``halo_rings``: finite, and a hit in a particle's own (empty) core cell
    costs more than without rings (the halo has no density there), one beside it less (the ring is
    normalised)."""
    gen, mask = _gen([(3, -2, 5.0, 1, 0), (-20, 15, 8.0, 0, 0)])  # a charged and, far off, a neutral hadron
    x = torch.tensor([[[3.0, -2.0, 0.5, 1.0], [5.0, -2.0, 0.5, 1.0]]])  # ECAL: its own crystal, two rows off
    nll = {}
    for rings in (False, True):
        torch.manual_seed(0)
        model = GVAE(replace(_model().config, halo_rings=rings)).eval()
        with torch.no_grad():
            model.anchor_head[-1].bias[0:9:3] = -20.0  # the cores absent: the hits are the mixture's
            ctx, anchors = model._context({"gen_features": gen, "gen_mask": mask}, 1, gen.device, drop=False)
            params = model.decode(torch.zeros(1, 4), ctx, gen, anchors)
            cells = hit_cells(x, model.config)
            nll[rings] = -hit_log_likelihood(x, params, model.config, cells if rings else None)[0]
            batch = {"features": x, "mask": torch.ones(1, 2, dtype=torch.bool), "gen_features": gen,
                     "gen_mask": mask}  # fmt: skip
            assert torch.isfinite(model._neg_elbo(batch, stochastic=False)["nll_hits"]).all()
    assert nll[True][0] > nll[False][0] + 0.1 and nll[True][1] < nll[False][1]


def onnx_parity(model: GVAE) -> list[torch.Tensor]:
    """Export ``model``'s conditioned sampler to ONNX, assert parity on 8 jets of :data:`PARTICLES`, and return
    the torch sampler's outputs (features, mask)."""
    from mlfastsim.inference.export import draw_inputs, export_onnx_bytes, onnx_feed, onnx_session, parity

    sampler = model.pure_sampler("conditioned")
    gen, mask = _gen()
    cond = {"gen_features": gen.expand(8, -1, -1), "gen_mask": mask.expand(8, -1)}
    inputs = draw_inputs(sampler.spec, 8, torch.Generator().manual_seed(2), cond)
    with torch.no_grad():
        reference = list(sampler(*inputs.values()))
    blob = export_onnx_bytes(sampler, inputs, {"version": "test", "model": "gvae", "kind": "jet-images"})
    session = onnx_session(blob)
    report = parity(sampler.spec, reference, session.run(None, onnx_feed(session, inputs)))
    assert report["ok"], report
    return reference
