"""The one φ wrap, ΔR and jet pT/mass, in numpy and torch: closed forms, four-vector sums, twin agreement."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlfastsim.physics import jets
from mlfastsim.physics import torch_kinematics as tk
from mlfastsim.physics.kinematics import (
    delta_phi,
    delta_r,
    four_momentum,
    invariant_mass,
    jet_pt_mass,
    jet_pt_mass_from_energy,
    wrap_phi,
)


def _constituents(seed: int, n: int = 20, k: int = 12) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    eta = rng.normal(0.5, 1.0, (n, k))
    phi = rng.uniform(-np.pi, np.pi, (n, k))
    pt = rng.exponential(20.0, (n, k))
    mask = np.arange(k) < rng.integers(1, k + 1, (n, 1))
    return eta, phi, pt, mask


def test_wrap_phi_lands_in_the_half_open_interval() -> None:
    phi = np.array([-np.pi, np.pi, 3 * np.pi, -3 * np.pi, 0.5, 2 * np.pi + 0.5, -7.0])
    got = wrap_phi(phi)
    assert np.all(got > -np.pi) and np.all(got <= np.pi)
    np.testing.assert_allclose(got, [np.pi, np.pi, np.pi, np.pi, 0.5, 0.5, -7.0 + 2 * np.pi], atol=1e-12)
    assert float(delta_phi(np.pi - 0.1, -np.pi + 0.1)) == pytest.approx(-0.2)


def test_torch_wrap_is_the_numpy_wrap_bit_for_bit() -> None:
    phi = np.concatenate([np.random.default_rng(0).normal(0, 8.0, 10_000), [-np.pi, np.pi, 3 * np.pi]])
    assert np.array_equal(tk.wrap_phi(torch.from_numpy(phi)).numpy(), wrap_phi(phi))
    assert np.array_equal(
        tk.delta_phi(torch.tensor(3.0, dtype=torch.float64), torch.tensor(-3.0, dtype=torch.float64)).numpy(),
        delta_phi(3.0, -3.0),
    )


def test_delta_r_wraps_only_where_it_must_and_agrees_with_the_wrapped_formula() -> None:
    rng = np.random.default_rng(1)
    eta1, eta2 = rng.normal(size=(50, 1)), rng.normal(size=(1, 40))
    for scale in (0.3, 3.0):  # inside the shortcut's range, and across the φ = ±π seam
        phi1, phi2 = rng.uniform(-scale, scale, (50, 1)), rng.uniform(-scale, scale, (1, 40))
        want = np.hypot(eta1 - eta2, wrap_phi(phi1 - phi2))
        np.testing.assert_allclose(delta_r(eta1, phi1, eta2, phi2), want, rtol=1e-15, atol=1e-15)
        got = tk.delta_r(*(torch.from_numpy(a) for a in (eta1, phi1, eta2, phi2)))
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-15, atol=1e-15)
    assert float(delta_r(0.0, np.pi - 0.1, 0.0, -np.pi + 0.1)) == pytest.approx(0.2)
    # a NaN must not switch the wrap off for the other entries
    got = delta_r(np.zeros(2), np.array([np.nan, 3.0]), 0.0, -3.0)
    assert np.isnan(got[0]) and got[1] == pytest.approx(2 * np.pi - 6.0)
    assert delta_r(np.zeros(0), np.zeros(0), 0.0, 0.0).shape == (0,)
    assert jets.delta_r is delta_r  # the old import path serves the one definition


def test_jet_pt_mass_is_the_four_vector_sum() -> None:
    eta, phi, pt, mask = _constituents(2)
    got_pt, got_m = jet_pt_mass(eta, phi, pt, mask)
    ptm = np.where(mask, pt, 0.0)
    p4 = four_momentum(ptm, eta, phi, ptm * np.cosh(eta))
    total = p4.sum(axis=1)
    np.testing.assert_allclose(got_pt, np.hypot(total[:, 1], total[:, 2]), rtol=1e-12)
    np.testing.assert_allclose(got_m, invariant_mass(p4), rtol=1e-8)
    # one massless constituent: pT itself, no mass; two back to back in φ at η = 0: no pT, mass 2 pT
    one_pt, one_m = jet_pt_mass(np.array([0.7]), np.array([0.2]), np.array([30.0]))
    assert float(one_pt) == pytest.approx(30.0) and float(one_m) == pytest.approx(0.0, abs=1e-6)
    two_pt, two_m = jet_pt_mass(np.zeros(2), np.array([0.0, np.pi]), np.array([10.0, 10.0]))
    assert float(two_pt) == pytest.approx(0.0, abs=1e-12) and float(two_m) == pytest.approx(20.0)


def test_energy_variant_and_summing_over_several_axes() -> None:
    eta, phi, pt, mask = _constituents(3, n=6, k=16)
    energy = pt * np.cosh(eta)
    np.testing.assert_allclose(
        jet_pt_mass_from_energy(eta, phi, energy, mask), jet_pt_mass(eta, phi, pt, mask), rtol=1e-10
    )
    grid = (6, 4, 4)  # pixels [N, S, S] summed over both image axes, φ broadcast from [S, S]
    phi_grid = phi[0].reshape(4, 4)
    got = jet_pt_mass_from_energy(eta.reshape(grid), phi_grid, energy.reshape(grid), axis=(1, 2))
    flat = jet_pt_mass_from_energy(eta, np.broadcast_to(phi[0], eta.shape), energy)
    np.testing.assert_allclose(got, flat, rtol=1e-12)


def test_torch_jet_pt_mass_matches_numpy_and_has_gradients() -> None:
    eta, phi, pt, mask = _constituents(4)
    t = [torch.from_numpy(a) for a in (eta, phi, pt)]
    t[2].requires_grad_(True)
    tm = torch.from_numpy(mask)
    got_pt, got_m = tk.jet_pt_mass(*t, mask=tm)
    want_pt, want_m = jet_pt_mass(eta, phi, pt, mask)
    np.testing.assert_allclose(got_pt.detach().numpy(), want_pt, rtol=1e-12)
    np.testing.assert_allclose(got_m.detach().numpy(), want_m, rtol=1e-10)
    (got_pt.sum() + got_m.sum()).backward()
    grad = t[2].grad
    assert grad is not None and torch.isfinite(grad).all()
    assert (grad[~tm] == 0).all() and (grad[tm] != 0).all()
    e = torch.from_numpy(pt * np.cosh(eta))
    got_e = tk.jet_pt_mass_from_energy(t[0], t[1], e, mask=tm)
    np.testing.assert_allclose(got_e[1].numpy(), want_m, rtol=1e-10)
