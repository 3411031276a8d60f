"""Property tests generated from the registries: every family × every data kind it accepts, built through the
kind's real codec on the kind's synthetic example, so a new family or kind gets them by registering.

Each test guards behaviour a user relies on: losses finite with gradients reaching every parameter;
padding never changing an output; save/load giving the same model; sampling from the prior needing no data;
conditions not being ignored; reconstructions not being the input; anomaly scores not being constant.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch

from mlfastsim._utils import config_to_dict
from mlfastsim.data.kinds import KINDS
from mlfastsim.inference import batch_keys
from mlfastsim.models import (
    FAMILIES,
    Fitted,
    GenerativeModel,
    Prepared,
    ReconstructingModel,
    ScoringModel,
    build_model,
)
from mlfastsim.training.runs import setup_model

CASES = [(f.name, kind) for f in FAMILIES.values() for kind in f.kinds]


def _ids(case: tuple[str, str]) -> str:
    return f"{case[0]}-{case[1]}"


@pytest.fixture(scope="module", params=CASES, ids=_ids)
def setup(request: pytest.FixtureRequest) -> dict[str, Any]:
    family, kind = request.param
    cfg = request.getfixturevalue("make_run_config")(family, kind, seed=0)
    events = KINDS[kind].example(24, seed=0)
    cfg, codec, model = setup_model(cfg, events)
    keys = batch_keys(cfg.model)
    batch = codec.encode(events, keys)
    if isinstance(model, Prepared):
        model.prepare(batch)
    if isinstance(model, Fitted):
        model.fit_data(batch)
    model.eval()
    return {"cfg": cfg, "codec": codec, "model": model, "events": events, "batch": batch, "keys": keys}


def _repad(batch: dict[str, torch.Tensor], value: float) -> dict[str, torch.Tensor]:
    """The batch with every padded slot of every masked tensor overwritten by ``value``."""
    out = dict(batch)
    for feats, mask in (("features", "mask"), ("gen_features", "gen_mask")):
        if feats in out:
            out[feats] = torch.where(out[mask].unsqueeze(-1), out[feats], torch.full_like(out[feats], value))
    return out


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_every_family_declares_its_batch_keys(setup: dict[str, Any]) -> None:
    keys = setup["keys"]
    assert {"features", "mask"} <= keys
    assert keys <= set(setup["batch"]) | {"response"}, "the codec must make every key the model reads"


def test_loss_is_finite_and_reaches_every_parameter(setup: dict[str, Any]) -> None:
    model = setup["model"]
    if isinstance(model, Fitted):
        pytest.skip("fitted without gradients")
    model.train()
    torch.manual_seed(0)
    loss = model.loss(setup["batch"])["loss"]
    assert torch.isfinite(loss)
    loss.backward()
    dead = [
        n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())
    ]
    model.zero_grad()
    model.eval()
    assert not dead, f"no gradient reaches {dead}"


def test_padding_changes_no_output(setup: dict[str, Any]) -> None:
    model, batch = setup["model"], setup["batch"]
    other = _repad(batch, 7.0)
    with torch.no_grad():
        if not isinstance(model, Fitted):
            torch.manual_seed(0)
            a = model.loss(batch)["loss"]
            torch.manual_seed(0)
            b = model.loss(other)["loss"]
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-5)
        if isinstance(model, ScoringModel):
            assert torch.allclose(model.score(batch), model.score(other), rtol=1e-5, atol=1e-5)
        if isinstance(model, ReconstructingModel):
            assert _same(model.reconstruct(batch), model.reconstruct(other))


def test_save_and_load_give_the_same_model(setup: dict[str, Any]) -> None:
    model, cfg = setup["model"], setup["cfg"]
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    fresh, _ = build_model(cfg.family, config_to_dict(cfg.model))
    fresh.load_state_dict(torch.load(buffer))
    fresh.eval()
    with torch.no_grad():
        if isinstance(model, ScoringModel):
            assert torch.equal(model.score(setup["batch"]), fresh.score(setup["batch"]))
        if isinstance(model, GenerativeModel) and not model.needs_conditions():
            a = model.sample(5, generator=torch.Generator().manual_seed(1))
            b = fresh.sample(5, generator=torch.Generator().manual_seed(1))
            assert _same(a, b)


def test_sampling_from_the_prior_needs_no_data(setup: dict[str, Any]) -> None:
    model, codec = setup["model"], setup["codec"]
    if not isinstance(model, GenerativeModel):
        pytest.skip(f"{setup['cfg'].family} does not generate")
    if model.needs_conditions():
        pytest.skip("a conditional-only model")
    with torch.no_grad():
        out = model.sample(9, generator=torch.Generator().manual_seed(2))
    events = codec.decode(out, None)
    assert len(events) == 9 and (events.event_id == -1).all()


def test_conditions_are_not_ignored(setup: dict[str, Any]) -> None:
    model, codec, events = setup["model"], setup["codec"], setup["events"]
    if not isinstance(model, GenerativeModel):
        pytest.skip(f"{setup['cfg'].family} does not generate")
    cond = codec.conditions(events, setup["keys"])
    if not cond:
        pytest.skip("an unconditional configuration")
    rolled = {k: torch.roll(v, 1, dims=0) for k, v in cond.items()}  # other events' conditions, same noise
    with torch.no_grad():
        a = model.sample(len(events), cond=cond, generator=torch.Generator().manual_seed(3))
        b = model.sample(len(events), cond=rolled, generator=torch.Generator().manual_seed(3))
    assert not _same(a, b), "the samples do not depend on their conditions"


def test_reconstruction_is_not_the_input(setup: dict[str, Any]) -> None:
    model, batch = setup["model"], setup["batch"]
    if not isinstance(model, ReconstructingModel):
        pytest.skip(f"{setup['cfg'].family} does not reconstruct")
    with torch.no_grad():
        out = model.reconstruct(batch)
    assert out["features"].shape[-1] == batch["features"].shape[-1]
    n = min(out["features"].shape[1], batch["features"].shape[1])
    assert not torch.equal(out["features"][:, :n], batch["features"][:, :n])


def test_scores_tell_events_apart(setup: dict[str, Any]) -> None:
    model, batch = setup["model"], setup["batch"]
    if not isinstance(model, ScoringModel):
        pytest.skip(f"{setup['cfg'].family} has no anomaly score")
    with torch.no_grad():
        scores = model.score(batch)
    assert scores.shape == (len(batch["mask"]),) and torch.isfinite(scores).all()
    assert scores.std() > 0, "a constant score ranks nothing"
