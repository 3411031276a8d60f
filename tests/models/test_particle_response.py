"""The particles' core hits: which particle owns which crystal, their likelihood, and sampling into them."""

from __future__ import annotations

import math

import numpy as np
import torch

from mlfastsim.data import GEN_FEATURE_NAMES, gen_particles_to_padded
from mlfastsim.models import build_model
from mlfastsim.models.cellgraph import GRID
from mlfastsim.models.halo_cells import halo_exclusion
from mlfastsim.models.particle_response import core_cells, core_log_likelihood, match_core_hits
from mlfastsim.physics.detector.geometry import CRYSTAL_DETA, CRYSTAL_DPHI
from mlfastsim.physics.particles import PARTICLE_DTYPE

COL = {name: i for i, name in enumerate(GEN_FEATURE_NAMES)}


def _particles(rows: list[tuple[float, float, float, int, bool]]) -> tuple[torch.Tensor, torch.Tensor]:
    """One jet of particles given as (Δη cells, Δφ cells, E [GeV], is_em, reaches) → gen features, mask."""
    gen = torch.zeros(1, len(rows), len(GEN_FEATURE_NAMES))
    for j, (deta, dphi, e, em, reaches) in enumerate(rows):
        gen[0, j, COL["eta_ecal_rel"]] = deta * CRYSTAL_DETA
        gen[0, j, COL["phi_ecal_rel"]] = dphi * CRYSTAL_DPHI
        gen[0, j, COL["log_e"]] = math.log(e)
        gen[0, j, COL["is_em"]] = em
        gen[0, j, COL["reaches_ecal"]] = float(reaches)
    return gen, torch.ones(1, len(rows), dtype=torch.bool)


def test_the_most_energetic_particle_in_a_crystal_owns_its_core() -> None:
    gen, mask = _particles(
        [(3, -2, 5.0, 1, True), (3.2, -1.9, 20.0, 1, True), (0, 0, 8.0, 0, False), (40, 0, 2.0, 1, True)]
    )
    cell, owner = core_cells(gen, mask)
    assert cell[0, 1].item() == (GRID // 2 + 3) * GRID + GRID // 2 - 2  # row along η, column along φ
    assert owner[0].tolist() == [False, True, False, True]  # merged into the 20 GeV one; curler; alone
    cell, owner = core_cells(gen, torch.tensor([[True, False, True, True]]))
    assert owner[0].tolist() == [True, False, False, True]  # a particle outside `anchors` owns nothing


def test_core_likelihood_is_bernoulli_times_lognormal() -> None:
    cell = torch.tensor([[10, 20, 30]])
    owner = torch.tensor([[True, True, False]])
    hit_cell = torch.tensor([[20, 7, 30, 0]])
    hit_mask = torch.tensor([[True, True, True, False]])
    log_e = torch.tensor([[1.5, -1.0, 2.0, 0.0]])
    core_hit, is_core = match_core_hits(hit_cell, hit_mask, cell, owner)
    assert is_core[0].tolist() == [True, False, False, False]  # cell 30's particle owns nothing
    params = {
        "core_logit": torch.tensor([[0.3, -0.4, 5.0]]),
        "core_mean": torch.tensor([[0.0, 1.0, 0.0]]),
        "core_log_std": torch.tensor([[0.0, math.log(0.5), 0.0]]),
    }
    sig = lambda v: 1.0 / (1.0 + math.exp(-v))  # noqa: E731
    normal = -0.5 * ((1.5 - 1.0) / 0.5) ** 2 - math.log(0.5) - 0.5 * math.log(2 * math.pi)
    expected = math.log(1 - sig(0.3)) + math.log(sig(-0.4)) + normal
    got = core_log_likelihood(log_e, core_hit, owner, params)
    assert abs(got.item() - expected) < 1e-5
    # above a zero-suppression threshold the energy's normal is truncated there: −log P(E > threshold)
    above = 0.5 * math.erfc((0.5 - 1.0) / 0.5 / math.sqrt(2))
    got = core_log_likelihood(log_e, core_hit, owner, params, min_log_energy=0.5)
    assert abs(got.item() - (expected - math.log(above))) < 1e-5


def test_sampled_cores_sit_in_the_crystals_the_particles_hit() -> None:
    """A gvae whose cores are certain (logit +20) draws one hit in each owning particle's impact cell,
    at the core energy, whatever else it draws."""
    config = {
        "n_max": 60,
        "n_cond": 0,
        "use_gen": True,
        "pixel_scale": (4.0, 4.0),
        "pixel_offset": (62.0, 62.0),
        "energy_norm": (0.0, 1.0),
        "min_log_energy": -3.0,
    }
    model, _ = build_model("gvae", config)
    model.eval()
    with torch.no_grad():
        model.anchor_head[-1].bias[0] = 20.0  # core logit
        model.anchor_head[-1].bias[2] = -4.0  # core log std: sharp energies
    parts = np.zeros(3, dtype=PARTICLE_DTYPE)
    parts["pt"], parts["eta"], parts["phi"] = [30.0, 12.0, 4.0], [0.05, -0.1, 0.2], [0.0, 0.1, -0.15]
    parts["pdgid"] = 22  # photons: straight to the ECAL
    feats, mask = gen_particles_to_padded([parts], np.array([0.0]), np.array([0.0]), m_max=5)
    gen = torch.as_tensor(feats)
    given = {"gen_features": gen, "gen_mask": torch.as_tensor(mask)}
    out = model.sample(1, cond=given, generator=torch.Generator().manual_seed(0))
    hits = out["features"][0][out["mask"][0]]
    rows = torch.round(hits[:, 0] * 4.0 + 62.0).long()
    cols = torch.round(hits[:, 1] * 4.0 + 62.0).long()
    cell, owner = core_cells(gen, torch.as_tensor(mask))
    for j in torch.nonzero(owner[0]).flatten():
        at = (rows * GRID + cols) == cell[0, j]
        assert at.sum() == 1, f"particle {j.item()}: {at.sum().item()} hits in its impact cell"
        expected = gen[0, j, COL["log_e"]].item() + math.log(0.75)  # energy_norm (0, 1): log GeV
        assert abs(hits[at, 2].item() - expected) < 0.2
    assert len(torch.unique(rows * GRID + cols)) == len(rows)  # still one hit per cell


def test_halo_without_its_core_crystal_is_still_a_normalised_density() -> None:
    """∫ N(x; μ, σ) · exp(correction) dx = 1: the halo is a ring around the core crystal, normalised."""
    scale, offset = (4.0, 5.0), (62.0, 62.0)
    cell = torch.tensor([[(GRID // 2 + 1) * GRID + GRID // 2]])  # row 63, column 62
    params = {
        "core_cell": cell,
        "core_owner": torch.tensor([[True]]),
        "mean": torch.tensor([[[0.3, 0.05, 0.0]]]),  # near the crystal's centre (0.25, 0.0)
        "log_std": torch.log(torch.tensor([[[0.3, 0.2, 1.0]]])),
    }
    step = 0.01
    grid = torch.arange(-2.5, 3.0, step)
    x, y = torch.meshgrid(grid, grid, indexing="ij")
    x, y = x.reshape(1, -1), y.reshape(1, -1)
    hit_cell = (
        torch.round(x * scale[0] + offset[0]).long() * GRID + torch.round(y * scale[1] + offset[1]).long()
    )
    corr = halo_exclusion(params, hit_cell, scale, offset)[0, :, 0]
    gauss = torch.exp(-0.5 * ((x[0] - 0.3) / 0.3) ** 2 - 0.5 * ((y[0] - 0.05) / 0.2) ** 2) / (
        2 * math.pi * 0.06
    )
    inside = hit_cell[0] == cell[0, 0]
    assert (gauss[inside] * step**2).sum() > 0.1  # the crystal held a good part of the Gaussian
    total = (gauss * torch.exp(corr) * step**2).sum().item()
    assert abs(total - 1.0) < 0.01, total


def test_with_several_channels_the_halo_is_a_ring_around_the_core_of_each_hits_channel() -> None:
    """Three slots (tracks, ECAL crystals, HCAL towers of 5 × 5 crystals): for a hit of each slot, the halo
    ∫ N · exp(correction) = 1 with its core cell of that slot taken out — a tower's whole area for HCAL."""
    scale, offset, sides = (4.0, 5.0), (62.0, 62.0), (1, 1, 5)
    row, col = GRID // 2 + 1, GRID // 2  # crystal (63, 62): tower (12, 12)
    cells = [
        (0 * GRID + row) * GRID + col,
        (1 * GRID + row) * GRID + col,
        (2 * GRID + row // 5) * GRID + col // 5,
    ]
    params = {
        "core_cell": torch.tensor([cells]),
        "core_owner": torch.tensor([[True, True, True]]),
        "mean": torch.tensor([[[0.3, 0.05, 0.0]]]),
        "log_std": torch.log(torch.tensor([[[0.5, 0.4, 1.0]]])),
    }
    step = 0.01
    grid = torch.arange(-3.5, 4.0, step)
    x, y = torch.meshgrid(grid, grid, indexing="ij")
    x, y = x.reshape(1, -1), y.reshape(1, -1)
    r, c = torch.round(x * scale[0] + offset[0]).long(), torch.round(y * scale[1] + offset[1]).long()
    gauss = torch.exp(-0.5 * ((x[0] - 0.3) / 0.5) ** 2 - 0.5 * ((y[0] - 0.05) / 0.4) ** 2) / (
        2 * math.pi * 0.2
    )
    for slot, side in enumerate(sides):
        hit_cell = (slot * GRID + torch.div(r, side, rounding_mode="floor")) * GRID + torch.div(
            c, side, rounding_mode="floor"
        )
        corr = halo_exclusion(params, hit_cell, scale, offset, torch.full_like(hit_cell, slot), sides)[
            0, :, 0
        ]
        inside = hit_cell[0] == cells[slot]
        assert (gauss[inside] * step**2).sum() > (0.3 if side == 5 else 0.02)  # the core cell held some of it
        assert (corr[inside] < -1e3).all()
        total = (gauss * torch.exp(corr) * step**2).sum().item()
        assert abs(total - 1.0) < 0.01, (slot, total)
