"""Anti-kT clustering on hand-made particles and the truth-matching label rules."""

from __future__ import annotations

import numpy as np
import pytest

from mlfastsim.physics.generation import TRUTH_DTYPE
from mlfastsim.physics.jets import Jet, cluster_jets, delta_r, is_fully_merged, jet_mass, label_quark_gluon
from mlfastsim.physics.kinematics import four_momentum, invariant_mass
from mlfastsim.physics.particles import empty_particles


def _particles(rows: list[tuple[float, float, float, float]]) -> np.ndarray:
    out = empty_particles(len(rows))
    for name, column in zip(("pt", "eta", "phi", "e"), np.array(rows).T, strict=True):
        out[name] = column
    return out


def _jet(eta: float, phi: float) -> Jet:
    return Jet(pt=100.0, eta=eta, phi=phi, mass=10.0, e=120.0, constituents=np.zeros(0, dtype=np.int64))


def _truth(rows: list[tuple[int, float, float]]) -> np.ndarray:
    return np.array([(pid, 50.0, eta, phi) for pid, eta, phi in rows], dtype=TRUTH_DTYPE)


@pytest.mark.pythia
def test_two_collinear_particles_merge_into_one_jet_with_summed_four_momentum() -> None:
    pytest.importorskip("fastjet")
    # 50 GeV and 30 GeV massive-ish particles 0.1 apart in η: one R = 0.4 jet.
    parts = _particles([(50.0, 0.3, 1.0, 60.0), (30.0, 0.4, 1.05, 35.0)])
    jets = cluster_jets(parts, radius=0.4, pt_min=10.0)
    assert len(jets) == 1
    jet = jets[0]
    np.testing.assert_array_equal(jet.constituents, [0, 1])
    p4 = four_momentum(parts["pt"], parts["eta"], parts["phi"], parts["e"])
    total = p4.sum(axis=0)
    assert jet.e == pytest.approx(total[0], rel=1e-9)
    assert jet.pt == pytest.approx(np.hypot(total[1], total[2]), rel=1e-9)
    assert jet.phi == pytest.approx(np.arctan2(total[2], total[1]), abs=1e-9)
    assert jet.mass == pytest.approx(float(invariant_mass(p4)), rel=1e-6)
    assert jet_mass(parts) == pytest.approx(float(invariant_mass(p4)), rel=1e-12)


@pytest.mark.pythia
def test_separated_particles_give_two_jets_leading_first_and_pt_min_applies() -> None:
    pytest.importorskip("fastjet")
    parts = _particles([(20.0, 0.0, 0.0, 20.0), (40.0, 0.0, 3.0, 40.0), (5.0, 1.0, -2.0, 8.0)])
    jets = cluster_jets(parts, radius=0.4, pt_min=10.0)
    assert [j.constituents.tolist() for j in jets] == [[1], [0]]
    assert jets[0].pt == pytest.approx(40.0) and jets[1].pt == pytest.approx(20.0)
    assert cluster_jets(parts[:0], 0.4, 0.0) == []


def test_jet_mass_of_nothing_is_zero() -> None:
    assert jet_mass(empty_particles(0)) == 0.0


def test_delta_r_wraps_phi() -> None:
    assert float(delta_r(0.0, np.pi - 0.1, 0.0, -np.pi + 0.1)) == pytest.approx(0.2)


def test_label_quark_gluon_uses_the_nearest_parton_within_radius() -> None:
    partons = _truth([(21, 0.0, 0.0), (-2, 0.0, 2.0)])
    assert label_quark_gluon(_jet(0.1, 0.1), partons, 0.4) == 1  # near the gluon
    assert label_quark_gluon(_jet(0.1, 2.1), partons, 0.4) == 0  # near the anti-up quark
    assert label_quark_gluon(_jet(0.0, 1.0), partons, 0.4) is None  # 1.0 from both
    close = _truth([(1, 0.0, 0.0), (21, 0.0, 0.3)])
    assert label_quark_gluon(_jet(0.0, 0.2), close, 0.4) == 1  # both within R: the nearest wins
    assert label_quark_gluon(_jet(0.0, 0.1), close, 0.4) == 0
    assert label_quark_gluon(_jet(0.0, 0.0), _truth([(11, 0.0, 0.0)]), 0.4) is None  # not a parton
    assert label_quark_gluon(_jet(0.0, 0.0), _truth([]), 0.4) is None


def test_is_fully_merged_needs_every_quark_inside() -> None:
    top = _truth([(5, 0.1, 0.0), (1, -0.3, 0.2), (-2, 0.0, -0.5)])
    assert is_fully_merged(_jet(0.0, 0.0), top, 0.8)
    assert not is_fully_merged(_jet(0.0, 0.0), top, 0.5)  # the q̄ at ΔR = 0.5 is out
    across = _truth([(1, 0.0, np.pi - 0.2), (-2, 0.0, -np.pi + 0.2)])
    assert is_fully_merged(_jet(0.0, np.pi), across, 0.8)  # φ wrap-around
    assert not is_fully_merged(_jet(0.0, 0.0), _truth([]), 0.8)
