"""The gvae's hit density against closed forms: Gaussian mixture, renormalised threshold, flat noise."""

from __future__ import annotations

import math

import torch

from mlfastsim.models.gvae import GVAEConfig
from mlfastsim.models.gvae_likelihood import hit_log_likelihood, log_window_area

GRID = {"pixel_scale": (4.0, 4.0), "pixel_offset": (62.0, 62.0)}


def _params(b: int, k: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "log_weights": torch.log_softmax(torch.randn(b, k, generator=g, dtype=torch.float64), -1),
        "mean": torch.randn(b, k, 3, generator=g, dtype=torch.float64),
        "log_std": 0.3 * torch.randn(b, k, 3, generator=g, dtype=torch.float64) - 0.5,
        "slope": torch.zeros(b, k, dtype=torch.float64),
    }


def test_hit_density_is_the_gaussian_mixture_without_threshold_or_slope() -> None:
    params = _params(3, 4)
    x = torch.randn(3, 5, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = hit_log_likelihood(x, params, GVAEConfig(noise_component=False))
    normal = torch.distributions.Normal(params["mean"].unsqueeze(1), params["log_std"].exp().unsqueeze(1))
    want = torch.logsumexp(normal.log_prob(x.unsqueeze(2)).sum(-1) + params["log_weights"].unsqueeze(1), -1)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_threshold_renormalises_the_energy_and_noise_is_flat_in_position() -> None:
    params = _params(2, 1)
    config = GVAEConfig(min_log_energy=0.3, **GRID)  # one component: the uniform noise
    x = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    got = hit_log_likelihood(x, params, config)
    mu, sigma = params["mean"][:, :, 2], params["log_std"][:, :, 2].exp()
    energy = torch.distributions.Normal(mu, sigma)
    log_tail = torch.log1p(-energy.cdf(torch.tensor(0.3, dtype=torch.float64)))
    want = -log_window_area(config) + energy.log_prob(x[..., 2]) - log_tail
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    assert log_window_area(config) == math.log(125 / 4.0) * 2
