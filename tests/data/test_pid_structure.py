"""What the ``pid`` codec knows of the RICH: the Cherenkov-threshold ties (the rule reproduces the reference RICH's
exact zeros, the codec keeps them exact whatever a model generates) and the momentum scales (high-momentum
tracks get the same room in the model's space as low-momentum ones); runs from before both still load."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from mlfastsim._utils import InputError
from mlfastsim.data.kinds import KINDS
from mlfastsim.data.kinds.pid import PIDData, PIDTable
from mlfastsim.data.kinds.pid.codec import PIDCodec, to_basis
from mlfastsim.data.kinds.pid.thresholds import detector_of, threshold_flags, tie_mask
from mlfastsim.physics.detector.rich import RICHConfig

KIND = KINDS["pid"]


@pytest.fixture(scope="module")
def table() -> PIDTable:
    """Tracks through the real reference RICH; η up to 4.85 and p from 3 GeV/c: every tie pattern occurs."""
    return KIND.example(6000, seed=11)


def _zeros(t: PIDTable) -> np.ndarray:
    return to_basis(t.dll, "differences") == 0


def test_the_rule_is_the_reference_richs_zeros(table: PIDTable) -> None:
    tied = tie_mask(table.p, table.eta, RICHConfig())
    np.testing.assert_array_equal(tied, _zeros(table))
    assert 0.1 < tied[:, 3].mean() < tied[:, 4].mean() < 0.95  # K below threshold ⊂ p below threshold
    flags = threshold_flags(table.p, table.eta, RICHConfig())
    assert flags.shape == (6000, 7) and set(np.unique(flags)) == {0.0, 1.0}
    assert np.array_equal(flags[:, 2:].astype(bool), tied)


def test_the_detector_comes_from_the_tables_provenance(table: PIDTable) -> None:
    assert detector_of({}) == RICHConfig()
    stored = dataclasses.asdict(RICHConfig())
    stored["rich1"]["n_minus_1"] = 2e-3
    other = detector_of({"config": {"rich": stored}})
    assert other.rich1.n_minus_1 == 2e-3  # a denser RICH1: lower thresholds, fewer ties
    assert (
        tie_mask(table.p, table.eta, other)[:, 3].sum()
        < tie_mask(table.p, table.eta, RICHConfig())[:, 3].sum()
    )
    with pytest.raises(InputError, match="RICH settings"):
        detector_of({"config": {"rich": {"rich1": {"colour": 1}}}})


def test_generated_dlls_keep_exactly_the_reference_ties(table: PIDTable) -> None:
    codec = KIND.fit_codec(table, PIDData())
    noise = {"features": 3 * torch.randn(len(table), 5, generator=torch.Generator().manual_seed(0))}
    out = codec.decode(noise, table)  # any model output: ties where the physics puts them, nowhere else
    np.testing.assert_array_equal(_zeros(out), _zeros(table))
    batch = codec.encode(table, frozenset())  # drawn conditions carry their flags: the same ties
    drawn = codec.decode({**noise, "matched_cond": batch["cond"]}, None)
    np.testing.assert_array_equal(_zeros(drawn), _zeros(table))
    np.testing.assert_array_equal(drawn.species, table.species)
    np.testing.assert_allclose(drawn.p, table.p, rtol=0.01)


def test_runs_from_before_the_rule_load_unchanged(table: PIDTable) -> None:
    old = KIND.fit_codec(table, PIDData(thresholds=False, scale_bins=0))
    state = json.loads(json.dumps(old.to_dict()))
    del state["rich"], state["scales"], state["data"]["thresholds"], state["data"]["scale_bins"]
    restored = PIDCodec.from_dict(state)  # what such a run stored
    assert not restored.data.thresholds and restored.n_cond == 8
    assert restored.data.scale_bins == 0 and restored.scales is None
    cond = old.conditions(table, frozenset({"cond"}))["cond"]
    assert torch.equal(restored.conditions(table, frozenset({"cond"}))["cond"], cond)


def test_the_rule_needs_the_differences_basis() -> None:
    with pytest.raises(InputError, match=r"data\.thresholds"):
        PIDData(output_basis="dll")
    assert not PIDData(output_basis="dll", thresholds=False).thresholds


def test_momentum_scales_give_high_momentum_tracks_room(table: PIDTable) -> None:
    fast = table.p > 40  # DLL_e and DLL_mu of such tracks are ≈ 100 × smaller than at 3–6 GeV/c
    spread = {}
    for bins in (0, 10):
        codec = KIND.fit_codec(table, PIDData(scale_bins=bins))
        feats = codec.encode(table, frozenset())["features"].numpy()
        spread[bins] = feats[fast, :2].std(0)
        out = codec.decode({"features": torch.as_tensor(feats)}, table)  # still exactly invertible
        np.testing.assert_allclose(out.dll, table.dll, atol=0.02 * np.abs(table.dll).max())
        restored = PIDCodec.from_dict(json.loads(json.dumps(codec.to_dict())))
        np.testing.assert_array_equal(
            restored.decode({"features": torch.as_tensor(feats)}, table).dll, out.dll
        )
    assert fast.sum() > 300 and (spread[0] < 0.5).all() and (spread[10] > 0.8).all(), spread
    with pytest.raises(InputError, match="scale_bins"):
        PIDData(scale_bins=-1)


def test_species_balance_reweights_by_species_only(table: PIDTable) -> None:
    plain = KIND.fit_codec(table, PIDData()).encode(table, frozenset())["weight"].numpy()
    codec = KIND.fit_codec(table, PIDData(species_balance=0.5))
    weight = codec.encode(table, frozenset())["weight"].numpy()
    assert abs(weight.mean() - 1) < 1e-5
    frac = np.bincount(table.species, minlength=5) / len(table)
    for s in range(5):  # one factor per species, ∝ f_s^-1/2: the rarest species weigh most
        rows = table.species == s
        np.testing.assert_allclose(weight[rows] / plain[rows], weight[rows][0] / plain[rows][0], rtol=1e-6)
    ratio = weight[table.species == 0][0] / weight[table.species == 2][0]
    np.testing.assert_allclose(ratio, np.sqrt(frac[2] / frac[0]), rtol=1e-5)
    restored = PIDCodec.from_dict(json.loads(json.dumps(codec.to_dict())))
    np.testing.assert_array_equal(restored.encode(table, frozenset())["weight"].numpy(), weight)
    with pytest.raises(InputError, match="species_balance"):
        PIDData(species_balance=-1)
