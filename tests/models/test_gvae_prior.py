"""The gvae flow prior (issue 12): it matches the encoder's aggregate posterior, survives the checkpoint, and the
pure sampler applies the same flow to its outside noise as ``sample`` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from mlfastsim.data.kinds import KINDS
from mlfastsim.inference import load_run, sample_run
from mlfastsim.models.gvae import GVAE, GVAEConfig
from mlfastsim.models.gvae_export import GVAESampler
from mlfastsim.models.gvae_prior import aggregate_posterior

SMALL = {"n_max": 24, "n_cond": 3, "latent": 4, "components": 4, "hidden": 16, "context": 32}


def _data(n: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(3, 24, (n,), generator=g)
    mask = torch.arange(24)[None] < counts[:, None]
    feats = torch.randn(n, 24, 3, generator=g) * mask.unsqueeze(-1)
    return {"features": feats, "mask": mask, "cond": torch.randn(n, 3, generator=g)}


def _model_with_shifted_posterior(**extra: Any) -> GVAE:
    """A gvae whose posterior is far from N(0, 1): means shifted and spread over the jets of :func:`_data`
    (standard deviation ≈ 1.5, correlated through the shared layers), σ ≈ 0.2."""
    torch.manual_seed(0)
    model = GVAE(GVAEConfig(**SMALL, prior="flow", **extra))
    last = model.encoder_head[-1]
    assert isinstance(last, torch.nn.Linear)
    batch = _data(200, seed=0)
    with torch.no_grad():
        ctx, _ = model._context(batch, 200, torch.device("cpu"), drop=False)
        spread = model.encode(batch, ctx)[0].std(0)
        last.weight[:4].mul_(1.5 / spread.unsqueeze(1))
        last.bias[:4] = torch.tensor([2.0, -1.0, 0.5, 3.0])
        last.bias[4:] = -3.0
    return model


def _moments(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return z.mean(0), torch.cov(z.T)


def test_flow_prior_samples_have_the_aggregate_posteriors_mean_and_covariance() -> None:
    model = _model_with_shifted_posterior(prior_steps=300)
    data = _data(400, seed=1)
    model.prepare(data)
    stats = model.fit_second_stage(data, seed=3)
    assert (
        stats["prior_nll"] < stats["normal_nll"] - 1.0
    )  # the flow explains the posterior better than N(0,1)
    # the aggregate posterior of the conditioned path, against the prior's draws for the same contexts
    batch = {k: data[k] for k in ("features", "mask", "cond")}
    ctx, _ = model._context(batch, 400, torch.device("cpu"), drop=False)
    with torch.no_grad():
        mu, logvar = model.encode(batch, ctx)
        post = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=torch.Generator().manual_seed(5))
        prior = model.latent(torch.randn(mu.shape, generator=torch.Generator().manual_seed(6)), ctx)
    (m_post, c_post), (m_prior, c_prior) = _moments(post), _moments(prior)
    spread = c_post.diagonal().sqrt()
    assert (spread > 0.5).all() and (m_post.abs() > 0.3).any()  # far from N(0, 1): the test can fail
    assert ((m_prior - m_post).abs() < 0.15 * spread).all(), (m_prior, m_post)
    corr = torch.outer(spread, spread)
    assert ((c_prior - c_post).abs() / corr).max() < 0.15, (c_prior, c_post)


def test_fit_is_reproducible_and_covers_every_sampling_path() -> None:
    data = _data(200, seed=2)
    a, b = _model_with_shifted_posterior(prior_steps=100), _model_with_shifted_posterior(prior_steps=100)
    a.fit_second_stage(data, seed=4)
    b.fit_second_stage(data, seed=4)
    assert all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    mu, _, ctx = aggregate_posterior(a, data)
    assert ctx is not None and len(mu) == 2 * 200  # conditions given, and the null condition
    unfitted = _model_with_shifted_posterior()
    with pytest.raises(ValueError, match="not fitted"):
        unfitted.sample(4)


def test_normal_prior_model_has_the_same_initial_weights() -> None:
    """The flow is built last: the VAE itself starts (and so trains) the same under either prior."""
    torch.manual_seed(0)
    normal = GVAE(GVAEConfig(**SMALL)).state_dict()
    torch.manual_seed(0)
    with_flow = GVAE(GVAEConfig(**SMALL, prior="flow")).state_dict()
    assert set(normal) < set(with_flow)
    assert all(torch.equal(normal[k], with_flow[k]) for k in normal)


def test_the_pure_sampler_maps_its_noise_through_the_same_flow_as_sample() -> None:
    model = _model_with_shifted_posterior(prior_steps=50)
    data = _data(100, seed=3)
    model.prepare(data)
    model.fit_second_stage(data, seed=0)
    model.eval()
    seen: list[torch.Tensor] = []
    decode = model.decode

    def spy(z: torch.Tensor, *args: Any) -> dict[str, torch.Tensor]:  # records z, changes nothing
        seen.append(z.detach().clone())
        return decode(z, *args)

    model.decode = spy  # type: ignore[method-assign]
    cond = {"cond": data["cond"][:16]}
    noise = torch.randn(16, 4, generator=torch.Generator().manual_seed(9))  # sample's first draw
    with torch.no_grad():
        model.sample(16, cond, generator=torch.Generator().manual_seed(9))
        sampler = GVAESampler(model, "conditioned")
        g = torch.Generator().manual_seed(1)
        inputs = {
            t.name: (
                cond["cond"]
                if t.name == "cond"
                else noise
                if t.name == "z"
                else torch.rand([16 if s == "batch" else s for s in t.shape], generator=g)  # type: ignore[misc]
            )
            for t in sampler.spec.inputs
        }
        sampler(*inputs.values())
    assert len(seen) == 2 and torch.equal(seen[0], seen[1])
    assert not torch.allclose(
        seen[0], noise, atol=0.5
    )  # the flow moved the noise (posterior far from N(0,1))


def test_checkpoint_round_trip_gives_identical_samples(tmp_path: Path, make_run_config: Any) -> None:
    import dataclasses

    from mlfastsim.training.runs import train_run

    kind = KINDS["jet-images"]
    data = tmp_path / f"train{kind.default_suffix}"
    kind.write(data, kind.example(40, seed=1))
    cfg = make_run_config("gvae", "jet-images", max_steps=2, seed=0)
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, prior="flow", prior_steps=40))
    summary = train_run(cfg, data, tmp_path / "run")
    assert set(summary["second_stage"]) == {"best", "last"}
    for which in ("best", "last"):
        run = load_run(tmp_path / "run", which)
        assert run.model.prior_flow is not None and bool(run.model.prior_flow.fitted)
    a = sample_run(load_run(tmp_path / "run"), n=20, seed=5)
    b = sample_run(load_run(tmp_path / "run"), n=20, seed=5)
    c = sample_run(load_run(tmp_path / "run"), n=20, seed=6)
    assert (a.images == b.images).all() and not (a.images == c.images).all()
