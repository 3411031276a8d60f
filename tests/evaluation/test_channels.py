"""The jet-image suite per channel: tracks, ECAL and HCAL rows, 'not simulated' channels, per-jet displays."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mlfastsim.data import JetImages
from mlfastsim.evaluation.displays import plot_jet_displays
from mlfastsim.evaluation.driver import evaluate
from mlfastsim.evaluation.observables import image_observables
from mlfastsim.evaluation.table import FLOOR, NOT_SIMULATED, RESIM, cell, format_table
from mlfastsim.metrics import w1
from mlfastsim.physics.detector.geometry import towers_to_crystals


def _three_channels(jets: JetImages, seed: int, hcal_scale: float = 1.0) -> JetImages:
    """Toy jets with tracks (half the ECAL pT in a third of its hits) and HCAL towers around the centre."""
    rng = np.random.default_rng(seed)
    images = jets.images.copy()
    ecal = images[:, 1]
    images[:, 0] = np.where(rng.random(ecal.shape) < 0.33, 0.5 * ecal, 0.0)
    towers = np.zeros((len(jets), 25, 25), np.float32)
    n_towers = rng.integers(2, 8, len(jets))
    for k, m in enumerate(n_towers):
        i, j = rng.integers(10, 15, m), rng.integers(10, 15, m)
        towers[k, i, j] = rng.exponential(5.0, m) * hcal_scale + 1.0
    images[:, 2] = towers_to_crystals(towers)
    return dataclasses.replace(jets, images=images)


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory, make_toy_jets: Callable[..., JetImages]) -> tuple:
    n = 160
    reference = _three_channels(make_toy_jets(n, 0), 10)
    full = _three_channels(make_toy_jets(n, 1), 11)  # the reference's event ids: paired
    hot = dataclasses.replace(
        _three_channels(make_toy_jets(n, 2), 12, hcal_scale=4.0), event_id=np.arange(n) + 10_000
    )
    ecal_only = dataclasses.replace(make_toy_jets(n, 3), event_id=np.arange(n) + 20_000)
    second = _three_channels(make_toy_jets(n, 5), 15)
    out = tmp_path_factory.mktemp("eval3")
    result = evaluate(
        "jet-images",
        reference,
        {"full": full, "hot hcal": hot, "ecal only": ecal_only},
        out,
        resim=_three_channels(make_toy_jets(n, 4), 14),
        second_reference=second,
        n_jobs=1,
        plots=False,
    )
    return out, result, reference, ecal_only, full, second


def test_every_channel_has_its_rows_and_a_missing_channel_reads_not_simulated(evaluation: tuple) -> None:
    _, result, reference, ecal_only, full, second = evaluation
    m = result["metrics"]
    for row in ("W1 e_hcal", "W1 leading_fraction_hcal", "W1 jet_mass_tracks_pt", "W1 jet_mass_all"):
        assert m[FLOOR][row]["value"] > 0 and m["full"][row]["value"] > 0, row
        assert m["ecal only"][row]["not_simulated"] is True and cell(m["ecal only"][row]) == NOT_SIMULATED
    assert cell(m["ecal only"]["classifier AUC (high-level, all channels)"]) == NOT_SIMULATED
    assert "learned" in m["full"]["classifier AUC (low-level, all channels)"]
    # the paired candidate (made from the reference's events) is judged against the second reference
    ref_obs, full_obs = (image_observables(j.images, j.eta) for j in (second, full))
    for key in ("e_hcal", "jet_mass_hcal", "leading_fraction_tracks_pt", "jet_mass_all"):
        assert m["full"][f"W1 {key}"]["value"] == w1(ref_obs[key], full_obs[key]).value
    # the ECAL rows of the ECAL-only candidate are computed as before
    ref_obs, cand_obs = (image_observables(j.images, j.eta) for j in (reference, ecal_only))
    for key in ("e_ecal", "width_ecal", "jet_mass_ecal"):
        assert m["ecal only"][f"W1 {key}"]["value"] == w1(ref_obs[key], cand_obs[key]).value
    assert NOT_SIMULATED in format_table(result)
    # a wrong HCAL is seen in the HCAL rows, not in the ECAL ones
    assert m["hot hcal"]["W1 e_hcal"]["value"] > 5 * m[FLOOR]["W1 e_hcal"]["value"]
    assert m["hot hcal"]["W1 e_ecal"]["value"] < 3 * max(m[FLOOR]["W1 e_ecal"]["value"], 0.5)
    # per-channel EMD for paired samples, beside the resimulation floor
    for ch in ("tracks", "HCAL"):
        name = f"median EMD to its reference jet, {ch} (GeV)"
        assert m[RESIM][name]["value"] > 0 and m["full"][name]["value"] > 0


def test_jet_displays_draw_each_jet_in_every_channel(
    tmp_path: Path, make_toy_jets: Callable[..., JetImages]
) -> None:
    ref = _three_channels(make_toy_jets(3, 0), 1).images
    cand = make_toy_jets(1, 1).images  # ECAL only, one jet: absent from the second figure
    written = plot_jet_displays(ref, {"cand": cand}, tmp_path, channels=(0, 1, 2), n_jets=2)
    assert [p.name for p in written] == ["event_display_jet0.png", "event_display_jet1.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written)
    assert written[0].stat().st_size > written[1].stat().st_size  # two rows of panels against one
