"""Two log-energy modes per core (``core_modes = 2``): a hadron's ECAL crystal holds a MIP or an early shower's
start, an EM core 0.76 E with a long lower tail. The likelihood is the two truncated normals' mixture, the sampler
draws it exactly from the one uniform per core, and the three-channel sampler still exports with parity."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from tests.models.test_channel_cores import COL, PARTICLES, _gen, _model, onnx_parity

from mlfastsim.models.gvae import GVAE
from mlfastsim.models.particle_response import core_log_likelihood, cores_from_uniforms, match_core_hits


def _two_mode_model() -> GVAE:
    torch.manual_seed(0)
    return GVAE(replace(_model().config, core_modes=2)).eval()


def _normal(x: float, mean: float, std: float) -> float:
    return -0.5 * ((x - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)


def test_the_core_likelihood_with_two_modes_is_their_mixture() -> None:
    cell, owner = torch.tensor([[10, 20]]), torch.tensor([[True, True]])
    hit_cell, hit_mask = torch.tensor([[20, 10]]), torch.tensor([[True, False]])  # particle 1's core only
    core_hit, _ = match_core_hits(hit_cell, hit_mask, cell, owner)
    params = {
        "core_logit": torch.tensor([[0.3, -0.4]]),
        "core_mean": torch.tensor([[0.0, 1.0]]),
        "core_log_std": torch.tensor([[0.0, math.log(0.5)]]),
        "core_mean2": torch.tensor([[0.0, -2.0]]),
        "core_log_std2": torch.tensor([[0.0, 0.0]]),
        "core_mode_logit": torch.tensor([[0.0, -1.0]]),
    }
    sig = lambda v: 1.0 / (1.0 + math.exp(-v))  # noqa: E731
    w = sig(-1.0)  # the second mode's weight
    x = 1.5
    mixture = math.log((1 - w) * math.exp(_normal(x, 1.0, 0.5)) + w * math.exp(_normal(x, -2.0, 1.0)))
    expected = math.log(1 - sig(0.3)) + math.log(sig(-0.4)) + mixture
    got = core_log_likelihood(torch.tensor([[x, 0.0]]), core_hit, owner, params)
    assert abs(got.item() - expected) < 1e-5
    # the threshold truncates each mode by its own mass above it
    low = 0.0
    above1, above2 = (0.5 * math.erfc((low - m) / s / math.sqrt(2)) for m, s in ((1.0, 0.5), (-2.0, 1.0)))
    mixture = math.log(
        (1 - w) * math.exp(_normal(x, 1.0, 0.5)) / above1 + w * math.exp(_normal(x, -2.0, 1.0)) / above2
    )
    got = core_log_likelihood(torch.tensor([[x, 0.0]]), core_hit, owner, params, min_log_energy=low)
    assert abs(got.item() - (math.log(1 - sig(0.3)) + math.log(sig(-0.4)) + mixture)) < 1e-5


def test_cores_drawn_with_two_modes_follow_the_mixture() -> None:
    """One uniform per core picks the mode and, rescaled, the energy: 30 % of the draws in the second mode, each
    mode's draws normal around its own mean with its own spread, the threshold respected."""
    n = 40_000
    params = {
        "core_logit": torch.full((1, n), 20.0),
        "core_mean": torch.zeros(1, n),
        "core_log_std": torch.zeros(1, n),
        "core_mean2": torch.full((1, n), 10.0),
        "core_log_std2": torch.full((1, n), math.log(0.5)),
        "core_mode_logit": torch.full((1, n), math.log(0.3 / 0.7)),
        "core_owner": torch.ones(1, n, dtype=torch.bool),
    }
    g = torch.Generator().manual_seed(3)
    energy, present = cores_from_uniforms(
        params, -1.0, torch.rand(1, n, generator=g), torch.rand(1, n, generator=g)
    )
    e = energy[0].numpy()
    assert present.all()
    second = e > 5.0
    assert abs(second.mean() - 0.3) < 0.01
    assert abs(e[second].mean() - 10.0) < 0.02 and abs(e[second].std() - 0.5) < 0.02
    assert e[~second].min() >= -1.0 - 1e-6  # truncated at the threshold
    # the first mode: N(0, 1) truncated at −1 (mean φ(1)/Φ(1) = 0.2876)
    assert abs(e[~second].mean() - 0.2876) < 0.02


def test_a_two_mode_gvae_starts_hadron_ecal_cores_as_a_mip_or_a_shower_and_scores_its_draws() -> None:
    model = _two_mode_model()
    gen, mask = _gen()
    with torch.no_grad():
        ctx, anchors = model._context({"gen_features": gen, "gen_mask": mask}, 1, gen.device, drop=False)
        params = model.decode(torch.zeros(1, 4), ctx, gen, anchors)
    m = len(PARTICLES)
    for key in ("core_mean2", "core_log_std2", "core_mode_logit"):
        assert params[key].shape == (1, 3 * m)
    ecal = slice(m, 2 * m)
    log_e = gen[0, :, COL["log_e"]]
    hadron = gen[0, :, COL["is_em"]] < 0.5
    # energy_norm (0, 1): the second mode of a hadron's ECAL core starts near 0.1 E, the first at a MIP
    second = params["core_mean2"][0, ecal]
    assert torch.allclose(second[hadron], log_e[hadron] + math.log(0.1), atol=0.1)
    assert (params["core_mean"][0, ecal][hadron] < second[hadron] - 0.5).all()  # a MIP: 0.235 GeV
    assert (torch.sigmoid(params["core_mode_logit"]) < 0.3).all()
    out = model.sample(4, cond={"gen_features": gen.expand(4, -1, -1), "gen_mask": mask.expand(4, -1)},
                       generator=torch.Generator().manual_seed(0))  # fmt: skip
    batch = {"features": out["features"], "mask": out["mask"], "gen_features": gen.expand(4, -1, -1),
             "gen_mask": mask.expand(4, -1)}  # fmt: skip
    with torch.no_grad():
        loss = model._neg_elbo(batch, stochastic=False)["nll_hits"]
    assert torch.isfinite(loss).all()


def test_the_three_channel_sampler_with_two_mode_cores_exports_to_onnx_with_parity() -> None:
    model = _two_mode_model()
    with torch.no_grad():
        model.anchor_head[-1].bias[5:18:6] += 1.0  # both modes drawn often
    onnx_parity(model)


def test_core_modes_other_than_one_or_two_are_refused() -> None:
    with pytest.raises(ValueError, match="core_modes=3"):
        GVAE(replace(_model().config, core_modes=3))


def test_the_per_particle_response_network_has_the_configured_hidden_layers() -> None:
    linear = lambda model: [layer for layer in model.anchor_head if isinstance(layer, torch.nn.Linear)]  # noqa: E731
    default = linear(_model())
    assert [layer.out_features for layer in default[:-1]] == [_model().config.hidden]
    wide = linear(GVAE(replace(_model().config, anchor_hidden=(48, 40))))
    assert [layer.out_features for layer in wide[:-1]] == [48, 40]
    assert wide[-1].out_features == default[-1].out_features  # the same response parameters
