"""Energy-flow polynomials against direct nested sums over all index tuples."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from mlfastsim.metrics.efp import efp_graphs, efps


def _efp_direct(jet: np.ndarray, n: int, edges: tuple[tuple[int, int], ...], normed: bool = True) -> float:
    """Σ over every index tuple of Π z · Π θ, straight from the definition (jet rows: η, φ, E)."""
    e = jet[:, 2]
    z = e / e.sum() if normed else e
    dphi = np.angle(np.exp(1j * (jet[:, None, 1] - jet[None, :, 1])))
    theta = np.hypot(jet[:, None, 0] - jet[None, :, 0], dphi)
    total = 0.0
    for idx in itertools.product(range(len(jet)), repeat=n):
        term = np.prod([z[i] for i in idx])
        for u, v in edges:
            term *= theta[idx[u], idx[v]]
        total += term
    return float(total)


def test_graph_counts_follow_the_multigraph_census() -> None:
    graphs = efp_graphs(4)
    assert len(graphs) == 36  # JetNet's FPD/KPD feature set: EFPSet("d<=4")
    assert Counter(len(edges) for _, edges in graphs) == {0: 1, 1: 1, 2: 3, 3: 8, 4: 23}
    assert len(set(graphs)) == 36
    assert [len(efp_graphs(d)) for d in range(5)] == [1, 2, 5, 13, 36]


@pytest.mark.parametrize("normed", [True, False])
def test_matches_direct_sums(normed: bool) -> None:
    rng = np.random.default_rng(0)
    n_jets, n_max = 3, 4
    feat = np.zeros((n_jets, n_max, 3))
    feat[..., 0] = rng.normal(0, 0.3, (n_jets, n_max))
    feat[..., 1] = rng.normal(0, 0.3, (n_jets, n_max))
    feat[..., 2] = rng.exponential(10.0, (n_jets, n_max))
    feat[2, :, 1] += np.array([3.0, -3.0, 3.0, -3.0])  # across the φ = π seam
    mask = np.ones((n_jets, n_max), dtype=bool)
    mask[1, 3] = False  # a padded slot, never read
    feat[1, 3] = [7.0, 7.0, 1e3]
    got = efps(feat, mask, normed=normed)
    assert got.shape == (n_jets, 36)
    for j in range(n_jets):
        jet = feat[j][mask[j]]
        want = [_efp_direct(jet, n, edges, normed) for n, edges in efp_graphs(4)]
        np.testing.assert_allclose(got[j], want, rtol=1e-10, atol=1e-14)


def test_single_particle_empty_jet_and_beta() -> None:
    feat = np.array([[[0.1, 0.2, 5.0], [0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    mask = np.array([[True, False], [False, False]])
    out = efps(feat, mask)
    np.testing.assert_allclose(out[0], np.eye(36)[0])  # only the d = 0 graph survives one particle
    np.testing.assert_allclose(out[1], 0.0)
    rng = np.random.default_rng(1)
    jet = np.column_stack([rng.normal(0, 0.3, 3), rng.normal(0, 0.3, 3), rng.exponential(1.0, 3)])
    n, edges = efp_graphs(2)[2]
    z = jet[:, 2] / jet[:, 2].sum()
    dr = np.hypot(jet[:, None, 0] - jet[None, :, 0], jet[:, None, 1] - jet[None, :, 1])
    assert (n, len(edges)) == (2, 2)  # the doubled edge: Σ z_i z_j ΔR_ij^(2β)
    assert efps(jet[None], max_degree=2, beta=0.5)[0, 2] == pytest.approx(z @ dr @ z, rel=1e-12)


def test_chunking_does_not_change_values() -> None:
    rng = np.random.default_rng(2)
    n_jets, n_max = 40, 25
    feat = rng.normal(0, 0.3, (n_jets, n_max, 3))
    feat[..., 2] = rng.exponential(1.0, (n_jets, n_max))
    mask = np.arange(n_max)[None, :] < rng.integers(0, n_max + 1, n_jets)[:, None]
    whole = efps(feat, mask)
    np.testing.assert_allclose(efps(feat, mask, chunk_elements=1), whole, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(efps(feat[:5], mask[:5]), whole[:5], rtol=1e-12, atol=1e-15)


def test_torch_efps_are_differentiable_with_coincident_and_padded_particles() -> None:
    """efps_torch (the loss terms' EFPs): the values of efps on padded jets, and gradients that match finite
    differences (gradcheck, float64) even where two particles coincide or padding sits at (0, 0) — where
    ΔR = 0 and √ has no finite gradient."""
    import torch

    from mlfastsim.metrics.efp import efps_torch

    rng = np.random.default_rng(3)
    feat = np.zeros((2, 5, 3))
    feat[..., :2] = rng.normal(0, 0.3, (2, 5, 2))
    feat[..., 2] = rng.exponential(0.2, (2, 5))
    feat[0, 1, :2] = feat[0, 0, :2]  # two coincident particles
    feat[1, 4] = 0.0  # padding: zero weight at the origin
    mask = np.ones((2, 5), dtype=bool)
    mask[1, 4] = False
    z, eta, phi = (torch.tensor(feat[..., i], requires_grad=True) for i in (2, 0, 1))
    got = efps_torch(z, eta, phi)
    np.testing.assert_allclose(got.detach().numpy(), efps(feat, mask, normed=False), rtol=1e-12, atol=1e-15)
    got.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (z, eta, phi))
    e, p = eta.detach()[1:], phi.detach()[1:]  # the jet without coincident particles: smooth everywhere
    assert torch.autograd.gradcheck(
        lambda zz: efps_torch(zz, e, p), (z.detach()[1:].clone().requires_grad_(),)
    )
    assert torch.autograd.gradcheck(
        lambda ee, pp: efps_torch(z.detach()[1:], ee, pp),
        (e.clone().requires_grad_(), p.clone().requires_grad_()),
    )
