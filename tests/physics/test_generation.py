"""Pythia presets → labelled jets: windows, labels, masses, determinism, neutrinos and pile-up."""

from __future__ import annotations

import numpy as np
import pytest

from mlfastsim._utils import InputError
from mlfastsim.physics.generation import (
    PRESETS,
    JetRecord,
    PythiaGenerator,
    generate_jets,
    get_preset,
)
from mlfastsim.physics.jets import jet_mass

N_JETS = {"qcd": 60, "qcd-boosted": 20, "ttbar": 40, "wjets": 40}


def test_presets_are_exactly_the_documented_four() -> None:
    assert set(PRESETS) == {"qcd", "qcd-boosted", "ttbar", "wjets"}
    for name, preset in PRESETS.items():
        assert preset.name == name and len(preset.description) > 100
        assert preset.jet_abs_eta_max == pytest.approx(1.479) and preset.max_jets_per_event == 2
        assert f"R = {preset.jet_radius}" in preset.description


def test_unknown_preset_error_lists_valid_names() -> None:
    with pytest.raises(InputError, match="qcd, qcd-boosted, ttbar, wjets") as info:
        get_preset("zprime")
    assert "\n" not in str(info.value)


@pytest.fixture(scope="module")
def records() -> dict[str, list[JetRecord]]:
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    return {name: list(generate_jets(PRESETS[name], n, seed=1234)) for name, n in N_JETS.items()}


@pytest.mark.pythia
@pytest.mark.parametrize("name", list(N_JETS))
def test_jets_are_inside_the_window_with_the_preset_label(name: str, records: dict) -> None:
    preset, recs = PRESETS[name], records[name]
    assert len(recs) == N_JETS[name]
    for rec in recs:
        assert preset.jet_pt_min <= rec.jet.pt < preset.jet_pt_max
        assert abs(rec.jet.eta) < preset.jet_abs_eta_max
        assert rec.y in ((0.0, 1.0) if name == "qcd" else (0.0,) if name == "qcd-boosted" else (1.0,))
        in_jet = rec.particles["in_jet"]
        np.testing.assert_array_equal(np.flatnonzero(in_jet), rec.jet.constituents)
        assert rec.jet.mass == pytest.approx(jet_mass(rec.particles[in_jet]), rel=1e-6, abs=1e-6)
        assert rec.generation_seconds > 0
        assert not rec.particles["pileup"].any()


@pytest.mark.pythia
def test_qcd_has_quarks_and_gluons_in_a_plausible_mix(records: dict) -> None:
    gluon_fraction = np.mean([r.y for r in records["qcd"]])
    # Pythia at 13 TeV, 70-200 GeV, |η| < 1.5: ≈ 0.7-0.75 with 200 jets; wide bounds for 60 jets.
    assert 0.45 < gluon_fraction < 0.95


@pytest.mark.pythia
@pytest.mark.parametrize(("name", "low", "high"), [("ttbar", 140.0, 200.0), ("wjets", 65.0, 105.0)])
def test_merged_jet_mass_peaks_at_the_resonance(name: str, low: float, high: float, records: dict) -> None:
    median = np.median([r.jet.mass for r in records[name]])
    assert low < median < high
    # Ungroomed R = 0.8 QCD jets above 400 GeV have a broad mass near 50-90 GeV, well below the top.
    assert np.median([r.jet.mass for r in records["qcd-boosted"]]) < 130.0


@pytest.mark.pythia
def test_same_seed_gives_identical_records_and_another_seed_differs() -> None:
    pytest.importorskip("pythia8mc")
    preset = PRESETS["qcd-boosted"]
    a, b, c = (list(generate_jets(preset, 4, seed=s)) for s in (77, 77, 78))
    for ra, rb in zip(a, b, strict=True):
        assert (ra.jet.pt, ra.jet.eta, ra.jet.phi, ra.jet.mass, ra.y) == (rb.jet.pt, rb.jet.eta, rb.jet.phi,
                                                                          rb.jet.mass, rb.y)  # fmt: skip
        np.testing.assert_array_equal(ra.particles, rb.particles)
    assert [r.jet.pt for r in a] != [r.jet.pt for r in c]


@pytest.mark.pythia
def test_events_have_no_neutrinos_and_sane_particles() -> None:
    pytest.importorskip("pythia8mc")
    gen = PythiaGenerator(PRESETS["ttbar"], seed=5)
    for _ in range(3):
        event = gen.next_event()
        p = event.particles
        assert len(p) > 100 and not np.isin(np.abs(p["pdgid"]), [12, 14, 16]).any()
        assert (p["e"] >= p["pt"] - 1e-9).all() and set(np.unique(p["charge"])) <= {-2, -1, 0, 1, 2}
        assert len(event.truth.tops) == 2  # W forced to quarks: both tops hadronic
        for top in event.truth.tops:
            assert np.abs(top["pdgid"]).tolist()[0] == 5 and np.all(np.abs(top["pdgid"][1:]) <= 5)


@pytest.mark.pythia
def test_pileup_particles_are_flagged_and_grow_with_mu() -> None:
    pytest.importorskip("pythia8mc")
    means = []
    for mu in (0.0, 1.0, 5.0):
        gen = PythiaGenerator(PRESETS["qcd-boosted"], seed=9, pileup_mu=mu)
        counts = [int(gen.next_event().particles["pileup"].sum()) for _ in range(8)]
        means.append(np.mean(counts))
    assert means[0] == 0 and 0 < means[1] < means[2]


def test_bad_seed_and_pileup_are_input_errors() -> None:
    with pytest.raises(InputError, match="seed"):
        PythiaGenerator(PRESETS["qcd"], seed=0)
    with pytest.raises(InputError, match="pileup"):
        PythiaGenerator(PRESETS["qcd"], seed=1, pileup_mu=-1.0)
