"""``flow-pid``: sampling inverts the flow, the likelihood honours the tracks' weights and ignores the codec's
fixed entries, and a short fit learns the species dependence of the DLLs (conditions are used)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlfastsim.data.kinds import KINDS
from mlfastsim.data.kinds.pid import SPECIES, PIDData, PIDTable
from mlfastsim.models import Adversarial, GenerativeModel, Prepared, build_model
from mlfastsim.models.flow_pid import FlowPID

KIND = KINDS["pid"]


@pytest.fixture(scope="module")
def data() -> tuple[PIDTable, dict[str, torch.Tensor], object]:
    table = KIND.example(4000, seed=5)
    codec = KIND.fit_codec(table, PIDData())
    return table, codec.encode(table, frozenset()), codec


def _model(**kw: object) -> FlowPID:
    torch.manual_seed(0)
    model, _ = build_model("flow-pid", {"transforms": 3, "hidden": [64, 64], **kw})
    assert isinstance(model, FlowPID)
    return model


def test_protocols_and_sampling_inverts_the_flow(data: tuple) -> None:
    _, batch, _ = data
    model = _model().eval()
    assert isinstance(model, GenerativeModel) and isinstance(model, Prepared)
    assert not isinstance(model, Adversarial)
    cond = batch["cond"][:64]
    out = model.sample(64, {"cond": cond}, torch.Generator().manual_seed(3))
    again = model.sample(64, {"cond": cond}, torch.Generator().manual_seed(3))
    assert torch.equal(out["features"], again["features"]) and out["mask"].all()
    z = torch.randn(64, 5, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        back = model.flow(cond).transform(out["features"])  # f(f⁻¹(z)) = z
    torch.testing.assert_close(back, z, atol=1e-4, rtol=1e-4)


def test_the_likelihood_is_weighted_and_fixed_entries_are_noise(data: tuple) -> None:
    _, batch, _ = data
    model = _model()
    free = (batch["features"] != 0).all(1)  # tracks above every threshold: nothing drawn for them
    b = {k: v[free][:200] for k, v in batch.items()}
    half = {k: v[:100] for k, v in b.items()}
    weights = torch.cat([torch.ones(100), torch.zeros(100)])
    weighted = model.loss({**b, "weight": weights})["loss"]
    alone = model.loss({**half, "weight": torch.ones(100)})["loss"]
    torch.testing.assert_close(weighted, alone)  # zero weight: the track does not count
    doubled = model.loss({**b, "weight": 2 * weights})["loss"]
    torch.testing.assert_close(doubled, alone)  # a weighted mean
    assert not torch.allclose(model.loss({**b, "weight": torch.ones(200)})["loss"], alone)
    b = {k: v[:200] for k, v in batch.items()}
    # the threshold ties (exact zeros) are not fitted as points: the loss stays finite and varies with the draw
    assert (b["features"] == 0).any()
    losses = {float(model.loss(b)["loss"].detach()) for _ in range(3)}
    assert len(losses) == 3 and all(np.isfinite(list(losses)))


@pytest.mark.slow  # over 20 s: make test-all runs it
def test_a_short_fit_learns_the_species(data: tuple) -> None:
    table, batch, codec = data
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    first = None
    for _ in range(300):
        idx = torch.randint(len(table), (512,), generator=gen)
        loss = model.loss({k: v[idx] for k, v in batch.items()})["loss"]
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < first - 1.0  # nats per track
    with torch.no_grad():
        out = codec.decode(model.sample(len(table), {"cond": batch["cond"]}, gen), table)
    kaons, pions = table.species == SPECIES.index("K"), table.species == SPECIES.index("pi")
    for t in (table, out):  # DLL_K tells kaons from pions, in the reference and in the samples
        assert np.median(t.dll[kaons, 2]) > 0 > np.median(t.dll[pions, 2])
    ref_gap = np.median(table.dll[kaons, 2]) - np.median(table.dll[pions, 2])
    gen_gap = np.median(out.dll[kaons, 2]) - np.median(out.dll[pions, 2])
    assert abs(gen_gap - ref_gap) < 0.3 * ref_gap


def test_the_student_learns_the_flows_map_and_is_what_samples_and_exports(data: tuple) -> None:
    _, batch, _ = data
    small = {"student_hidden": [64, 64], "distill_pairs": 20_000, "distill_steps": 400, "distill_batch": 512}
    model = _model(**small).eval()
    cond = batch["cond"][:500]
    z = torch.randn(500, 5, generator=torch.Generator().manual_seed(7))
    flow_out = model.from_noise(z, cond).detach()
    before = model.sample(500, {"cond": cond}, torch.Generator().manual_seed(7))["features"]
    torch.testing.assert_close(before, flow_out)  # no student yet: the flow samples
    with pytest.raises(ValueError, match="no distilled student"):
        model.pure_sampler("conditioned")
    start = {k: v.clone() for k, v in model.state_dict().items()}
    stats = model.fit_second_stage(batch, seed=3)
    assert bool(model.student_fitted) and set(stats) == {"student_l1_fit", "student_l1_heldout"}
    with torch.no_grad():
        after = model.sample(500, {"cond": cond}, torch.Generator().manual_seed(7))["features"]
        student = model.student(torch.cat([z, cond], 1))
    torch.testing.assert_close(after, student)  # fitted: the student samples
    spread = float((flow_out - flow_out.mean(0)).abs().mean())
    assert float((after - flow_out).abs().mean()) < 0.3 * spread  # and it follows the flow's map
    assert stats["student_l1_heldout"] < 0.3 * spread
    sampler = model.pure_sampler("conditioned")
    torch.testing.assert_close(sampler(z, cond)[0], student)
    fitted = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(start)
    model.fit_second_stage(batch, seed=3)  # reproducible from the seed
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in fitted.items())
    assert not _model(**small, distill=False).fit_second_stage(batch, seed=3)  # off: nothing fitted
