"""The particle-jets event loop: JetNet presets, labels, records, matching, determinism and jet response."""

from __future__ import annotations

import numpy as np
import pytest

from mlfastsim._utils import InputError
from mlfastsim.physics.detector.pflow import RECO_DTYPE
from mlfastsim.physics.generation import LABEL_RULES, PRESETS, TRUTH_DTYPE, Truth, label_jet
from mlfastsim.physics.generation.jetnet import JETNET_PRESETS, get_jetnet_preset
from mlfastsim.physics.jets import Jet, jet_mass
from mlfastsim.physics.kinematics import delta_phi
from mlfastsim.physics.particle_jets import ParticleJetRecord, generate_particle_jets, reconstruct_jet
from mlfastsim.physics.particles import PARTICLE_DTYPE, empty_particles


def synthetic_jet(seed: int, eta: float = 0.4, phi: float = 3.0) -> np.ndarray:
    """A 300 GeV jet-like spray of π±, photons and K0L within ΔR ≈ 0.2 of (η, φ), plus soft particles."""
    rng = np.random.default_rng(seed)
    n = 40
    out = empty_particles(n)
    pid = rng.choice([211, -211, 22, 130], n, p=[0.3, 0.3, 0.3, 0.1])
    mass = np.select([np.abs(pid) == 211, pid == 130], [0.13957, 0.497611], 0.0)
    out["pt"] = rng.exponential(7.5, n) + 0.5
    out["eta"] = eta + rng.normal(0, 0.08, n)
    out["phi"] = phi + rng.normal(0, 0.08, n)
    out["e"] = np.hypot(out["pt"] * np.cosh(out["eta"]), mass)
    out["pdgid"], out["charge"] = pid, np.sign(pid) * (np.abs(pid) == 211)
    out["phi"] = np.angle(np.exp(1j * out["phi"]))
    return out


def test_jetnet_presets_follow_the_recipe() -> None:
    assert set(JETNET_PRESETS) == {"g", "q", "t", "w", "z"}
    assert not set(JETNET_PRESETS) & set(PRESETS)  # the jet-image presets are untouched
    for name, preset in JETNET_PRESETS.items():
        assert preset.name == name and preset.label_rule in LABEL_RULES
        assert {
            "Beams:eCM = 13000.",
            "Tune:pp = 14",
            "PhaseSpace:pTHatMin = 995.",
            "PhaseSpace:pTHatMax = 1005.",
        }
        common = {
            "Beams:eCM = 13000.",
            "Tune:pp = 14",
            "PhaseSpace:pTHatMin = 995.",
            "PhaseSpace:pTHatMax = 1005.",
        }
        assert set(preset.settings) >= common
        assert (preset.jet_radius, preset.jet_pt_min, preset.jet_pt_max) == (0.8, 800.0, 1600.0)
        assert preset.jet_abs_eta_max == pytest.approx(1.7) and preset.max_jets_per_event == 1
        assert "ms CPU per selected jet" in preset.description
    with pytest.raises(InputError, match="g, q, t, w, z"):
        get_jetnet_preset("h")


def _jet(eta: float, phi: float) -> Jet:
    return Jet(1000.0, eta, phi, 50.0, 1200.0, np.zeros(0, dtype=np.int64))


def test_new_label_rules_gluon_light_quark_and_z() -> None:
    partons = np.array([(21, 1000.0, 0.0, 0.0), (3, 1000.0, 0.1, np.pi), (4, 1000.0, 1.0, -1.5)], TRUTH_DTYPE)
    truth = Truth(partons)
    g, q = JETNET_PRESETS["g"], JETNET_PRESETS["q"]
    assert label_jet(_jet(0.05, 0.1), truth, g) == 0  # the gluon
    assert label_jet(_jet(0.1, 3.0), truth, g) is None  # an s quark
    assert label_jet(_jet(0.1, 3.0), truth, q) == 0  # s is light
    assert label_jet(_jet(1.0, -1.4), truth, q) is None  # c is not
    assert label_jet(_jet(0.05, 0.1), truth, q) is None
    assert label_jet(_jet(2.5, 1.0), truth, g) is None  # nothing within R
    z = JETNET_PRESETS["z"]
    pair = np.array([(1, 500.0, 0.1, 0.0), (-1, 500.0, -0.1, 0.2)], TRUTH_DTYPE)
    assert label_jet(_jet(0.0, 0.1), truth, z, (pair,)) == 1
    assert label_jet(_jet(0.0, 0.85), truth, z, (pair,)) is None  # one daughter outside R
    with pytest.raises(InputError, match="Z daughters"):
        label_jet(_jet(0.0, 0.1), truth, z)


def test_reconstruct_jet_matches_the_gen_jet_and_is_seeded() -> None:
    region = synthetic_jet(1)
    gen = np.array([region["pt"].sum(), 0.4, 3.0, 0.0])  # rough axis; the match needs ΔR < 0.4 only
    reco, const = reconstruct_jet(region, gen, 0.8, np.random.default_rng(5))
    again, const2 = reconstruct_jet(region, gen, 0.8, np.random.default_rng(5))
    other, _ = reconstruct_jet(region, gen, 0.8, np.random.default_rng(6))
    np.testing.assert_array_equal(reco, again)
    np.testing.assert_array_equal(const, const2)
    assert not np.array_equal(reco, other)
    assert const.dtype == RECO_DTYPE and (np.diff(const["pt"]) <= 0).all()
    assert reco[0] == pytest.approx(gen[0], rel=0.1)
    assert abs(reco[1] - 0.4) < 0.1 and abs(delta_phi(reco[2], 3.0)) < 0.1
    assert reco[3] == pytest.approx(jet_mass(const), rel=1e-6)
    # No reco jet near the axis: NaN and no constituents.
    far, none = reconstruct_jet(region, np.array([300.0, -1.0, 0.0, 0.0]), 0.8, np.random.default_rng(5))
    assert np.isnan(far).all() and len(none) == 0 and none.dtype == RECO_DTYPE


def test_bad_arguments_are_input_errors() -> None:
    with pytest.raises(InputError, match="particle-jets process"):
        next(generate_particle_jets("qcd", 1, seed=1))
    with pytest.raises(InputError, match="shard"):
        next(generate_particle_jets("g", 1, seed=1, shard=(2, 2)))


N_JETS = {"g": 8, "t": 8, "q": 2, "w": 2, "z": 2}


@pytest.fixture(scope="module")
def records() -> dict[str, list[ParticleJetRecord]]:
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    return {p: list(generate_particle_jets(p, n, seed=2024)) for p, n in N_JETS.items()}


@pytest.mark.pythia
@pytest.mark.parametrize("process", list(N_JETS))
def test_records_are_consistent(process: str, records: dict[str, list[ParticleJetRecord]]) -> None:
    recs = records[process]
    assert len(recs) == N_JETS[process]
    for rec in recs:
        assert rec.process == process and rec.y == (1.0 if process in "twz" else 0.0)
        pt, eta, phi, mass = rec.gen_jet
        assert 800.0 <= pt < 1600.0 and abs(eta) < 1.7
        c = rec.gen_constituents
        assert c.dtype == PARTICLE_DTYPE and (np.diff(c["pt"]) <= 0).all() and c["in_jet"].all()
        assert mass == pytest.approx(jet_mass(c), rel=1e-6)
        # The region holds every constituent and nothing beyond ΔR = 1.2 except constituents.
        assert rec.region["in_jet"].sum() == len(c)
        dr = np.hypot(rec.region["eta"] - eta, delta_phi(rec.region["phi"], phi))
        assert (dr[~rec.region["in_jet"]] < 1.2).all()
        assert not np.isnan(rec.reco_jet).any() and len(rec.reco_constituents) > 10
        assert rec.reco_jet[3] == pytest.approx(jet_mass(rec.reco_constituents), rel=1e-6)
        assert rec.generation_seconds > 0 and rec.detector_seconds > 0


@pytest.mark.pythia
def test_jet_response_at_1_tev(records: dict[str, list[ParticleJetRecord]]) -> None:
    recs = records["g"] + records["t"]
    response = np.array([r.reco_jet[0] / r.gen_jet[0] for r in recs])
    # docs/reference-simulation.md: mean 0.99–1.00, width ≈ 1.5 % (g) – 2 % (t) over 150 jets each.
    assert abs(response.mean() - 1.0) < 0.03 and response.std() < 0.05
    # Top jets: the gen mass peaks near m_t, and the reco mass follows it.
    top_mass = np.array([r.gen_jet[3] for r in records["t"]])
    assert 140.0 < np.median(top_mass) < 210.0
    mass_ratio = np.array([r.reco_jet[3] / r.gen_jet[3] for r in records["t"]])
    assert 0.8 < np.median(mass_ratio) < 1.1


@pytest.mark.pythia
def test_same_seed_and_shard_give_identical_records_and_others_differ() -> None:
    pytest.importorskip("pythia8mc")
    a, b = (list(generate_particle_jets("w", 1, seed=9)) for _ in range(2))
    c = list(generate_particle_jets("w", 1, seed=9, shard=(1, 2)))
    for ra, rb in zip(a, b, strict=True):
        for field in ("gen_jet", "gen_constituents", "reco_jet", "reco_constituents", "region"):
            np.testing.assert_array_equal(getattr(ra, field), getattr(rb, field))
    assert [r.gen_jet[0] for r in a] != [r.gen_jet[0] for r in c]


@pytest.mark.pythia
def test_resimulation_changes_only_the_detector(records: dict[str, list[ParticleJetRecord]]) -> None:
    rec = records["g"][0]
    reco, _ = reconstruct_jet(rec.region, rec.gen_jet, 0.8, np.random.default_rng(99))
    assert not np.array_equal(reco, rec.reco_jet)
    assert reco[0] == pytest.approx(rec.reco_jet[0], rel=0.05)
