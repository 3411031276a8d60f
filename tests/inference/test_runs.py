"""The run layer end to end, generated from the registries (every family × every kind it accepts): train on a
kind's example file, load the run, and use it — so that a sampler ignoring its conditions, a reconstruction
returning its input or a score returning zeros fails here, for every family present and future."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from mlfastsim._utils import InputError
from mlfastsim.data.kinds import KINDS
from mlfastsim.inference import load_run, reconstruct_run, sample_run, score_run
from mlfastsim.models import FAMILIES, GenerativeModel, ReconstructingModel, ScoringModel
from mlfastsim.training.runs import train_run

CASES = [(f.name, kind) for f in FAMILIES.values() for kind in f.kinds]


def _arrays(events: Any) -> list[np.ndarray]:
    """Every numeric array of a container (to compare two samples of the same kind)."""
    return [np.asarray(v) for v in vars(events).values() if isinstance(v, np.ndarray)]


def _differ(a: Any, b: Any) -> bool:
    return any(not np.array_equal(x, y, equal_nan=True) for x, y in zip(_arrays(a), _arrays(b), strict=True))


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    family, kind_name = request.param
    kind = KINDS[kind_name]
    tmp = tmp_path_factory.mktemp(f"{family}-{kind_name}")
    data = tmp / f"train{kind.default_suffix}"
    kind.write(data, kind.example(40, seed=1))
    cfg = request.getfixturevalue("make_run_config")(family, kind_name, max_steps=3, seed=0)
    train_run(cfg, data, tmp / "run")
    return {"run": load_run(tmp / "run"), "events": kind.example(16, seed=2), "tmp": tmp}


def test_conditional_sampling_keeps_ids_and_follows_its_conditions(run: dict[str, Any]) -> None:
    loaded, events = run["run"], run["events"]
    if not isinstance(loaded.model, GenerativeModel):
        with pytest.raises(InputError, match="does not generate"):
            sample_run(loaded, conditions=events)
        return
    out = sample_run(loaded, conditions=events, seed=4)
    assert len(out) == len(events) and np.array_equal(out.event_id, events.event_id)
    assert out.attrs["config"]["family"] == loaded.family
    if not loaded.codec.conditions(events, loaded.keys):
        return  # an unconditional configuration
    other = events.subset(np.roll(np.arange(len(events)), 1))
    moved = sample_run(loaded, conditions=other, seed=4)  # same noise, other conditions in every slot
    # what the model generated, in the codec's terms: where its elements are (not their energy scale, which
    # a codec may set from the conditions the outputs carry along, as jet images do for the library)
    a, b = (loaded.codec.encode(x, frozenset()) for x in (out, moved))
    same = torch.equal(a["mask"], b["mask"]) and torch.equal(a["features"][..., :2], b["features"][..., :2])
    assert not same, "sample ignores its conditions"


def test_prior_sampling_or_a_clear_refusal(run: dict[str, Any]) -> None:
    loaded = run["run"]
    if not isinstance(loaded.model, GenerativeModel) or loaded.model.needs_conditions():
        with pytest.raises(InputError):
            sample_run(loaded, n=5)
        return
    out = sample_run(loaded, n=7, seed=0)
    again = sample_run(loaded, n=7, seed=0)
    assert len(out) == 7 and (out.event_id == -1).all()
    assert not _differ(out, again), "the same seed must give the same sample"


def test_reconstruction_is_paired_and_not_the_input(run: dict[str, Any]) -> None:
    loaded, events = run["run"], run["events"]
    if not isinstance(loaded.model, ReconstructingModel):
        with pytest.raises(InputError, match="does not reconstruct"):
            reconstruct_run(loaded, events)
        return
    out = reconstruct_run(loaded, events)
    assert len(out) == len(events) and np.array_equal(out.event_id, events.event_id)
    # in the codec's terms (what the model sees and makes): a reconstruction is not the input passed through
    a, b = (loaded.codec.encode(x, frozenset()) for x in (out, events))
    same = torch.equal(a["mask"], b["mask"]) and torch.allclose(a["features"], b["features"], atol=1e-4)
    assert not same, "reconstruct returned its input"


def test_scores_are_informative(run: dict[str, Any]) -> None:
    loaded, events = run["run"], run["events"]
    if not isinstance(loaded.model, ScoringModel):
        with pytest.raises(InputError, match="no anomaly score"):
            score_run(loaded, events)
        return
    scores = score_run(loaded, events)
    assert scores.shape == (len(events),) and np.isfinite(scores).all()
    assert scores.std() > 0, "score returned a constant"
