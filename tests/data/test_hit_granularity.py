"""Hit clouds at each sub-detector's granularity: image ↔ cloud exact for every channel and combination."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlfastsim.data.representations import channel_cells, cloud_to_image, image_to_cloud
from mlfastsim.data.schemas import HitCloud
from mlfastsim.physics.detector.geometry import (
    CRYSTAL_DETA,
    CRYSTAL_DPHI,
    HCAL_TOWER_CRYSTALS,
    HCAL_TOWERS,
    IMAGE_SIZE,
    crystals_to_towers,
    towers_to_crystals,
)

S, HALF, K = IMAGE_SIZE, IMAGE_SIZE // 2, HCAL_TOWER_CRYSTALS
#: every non-empty combination of channels, in increasing and in permuted order
COMBINATIONS = [c for r in (1, 2, 3) for c in itertools.combinations((0, 1, 2), r)] + [(2, 0, 1), (1, 0)]


def detector_like(n: int, seed: int, tracks: int, crystals: int, towers: int) -> np.ndarray:
    """float32 ``[n, 3, 125, 125]`` as the detector stores them: tracks and ECAL on crystals, HCAL towers
    (energies in float64, spread over 25 crystals, then float32); hit counts vary from jet to jet."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 3, S, S), np.float32)
    for i in range(n):
        for c, count in ((0, tracks), (1, crystals)):
            k = int(rng.integers(0, count + 1))
            pix = rng.choice(S * S, size=k, replace=False)
            images[i, c].flat[pix] = rng.uniform(0.02, 80.0, k)
        k = int(rng.integers(0, towers + 1))
        grid = np.zeros(HCAL_TOWERS * HCAL_TOWERS)
        grid[rng.choice(grid.size, size=k, replace=False)] = rng.uniform(0.5, 150.0, k)
        images[i, 2] = towers_to_crystals(grid.reshape(HCAL_TOWERS, HCAL_TOWERS)).astype(np.float32)
    return images


def cells_per_channel(images: np.ndarray) -> np.ndarray:
    """Nonzero cells ``[N, 3]``: track pixels, ECAL crystals, HCAL towers."""
    towers = crystals_to_towers(images[:, 2]) > 0
    return np.stack(
        [(images[:, 0] > 0).sum((1, 2)), (images[:, 1] > 0).sum((1, 2)), towers.sum((1, 2))], axis=1
    )


jets = st.builds(
    detector_like,
    n=st.integers(1, 3),
    seed=st.integers(0, 2**31 - 1),
    tracks=st.integers(0, 40),
    crystals=st.integers(0, 150),
    towers=st.integers(0, 30),
)


@settings(max_examples=40, deadline=None)
@given(images=jets, channels=st.sampled_from(COMBINATIONS))
def test_image_cloud_image_is_exact_for_every_channel(images: np.ndarray, channels: tuple[int, ...]) -> None:
    n_max = int(cells_per_channel(images)[:, list(channels)].sum(1).max()) + 2
    cloud = image_to_cloud(images, n_max=n_max, channels=channels)
    back = cloud_to_image(cloud, channels=channels)
    want = np.zeros_like(images)
    want[:, list(channels)] = images[:, list(channels)]
    np.testing.assert_allclose(back, want, rtol=1e-6, atol=0.0)
    # ... and cloud → image → cloud gives the same cloud
    again = image_to_cloud(back, n_max=n_max, channels=channels)
    np.testing.assert_array_equal(again.mask, cloud.mask)
    np.testing.assert_array_equal(again.features[..., [0, 1]], cloud.features[..., [0, 1]])
    np.testing.assert_allclose(again.features, cloud.features, rtol=1e-6, atol=0.0)


@settings(max_examples=40, deadline=None)
@given(images=jets, channels=st.sampled_from(COMBINATIONS))
def test_hits_sit_on_their_channels_cells(images: np.ndarray, channels: tuple[int, ...]) -> None:
    """One hit per nonzero crystal (tracks, ECAL) or tower (HCAL), at the cell's centre, with its energy."""
    counts = cells_per_channel(images)
    cloud = image_to_cloud(images, n_max=int(counts.sum(1).max()) + 1, channels=channels)
    assert cloud.feature_names[-1] == "channel" if len(channels) > 1 else cloud.features.shape[-1] == 3
    for i in range(len(images)):
        hits = cloud.features[i][cloud.mask[i]]
        slot = hits[:, 3].astype(int) if len(channels) > 1 else np.zeros(len(hits), int)
        for s, c in enumerate(channels):
            mine = hits[slot == s]
            assert len(mine) == counts[i, c]
            row = np.rint(mine[:, 0] / CRYSTAL_DETA).astype(int) + HALF
            col = np.rint(mine[:, 1] / CRYSTAL_DPHI).astype(int) + HALF
            if c == 2:  # a tower hit at the tower's centre (crystal 5I + 2) with the tower's whole energy
                assert (row % K == K // 2).all() and (col % K == K // 2).all()
                towers = crystals_to_towers(images[i, 2])
                np.testing.assert_allclose(mine[:, 2], towers[row // K, col // K], rtol=1e-6)
            else:
                np.testing.assert_array_equal(mine[:, 2], images[i, c, row, col])


@settings(max_examples=30, deadline=None)
@given(images=jets, budget=st.tuples(st.integers(0, 30), st.integers(0, 60), st.integers(0, 20)))
def test_channel_budget_keeps_each_channels_most_energetic_hits(
    images: np.ndarray, budget: tuple[int, int, int]
) -> None:
    channels = (0, 1, 2)
    n_max = sum(budget) + 3
    cloud = image_to_cloud(images, n_max=n_max, channels=channels, budget=budget)
    full = image_to_cloud(images, n_max=int(cells_per_channel(images).sum(1).max()) + 1, channels=channels)
    for i in range(len(images)):
        hits = cloud.features[i][cloud.mask[i]]
        n_real = len(hits)
        assert cloud.mask[i, :n_real].all() and not cloud.mask[i, n_real:].any()  # real hits first
        assert (np.diff(hits[:, 2]) <= 0).all()  # by decreasing energy
        every = full.features[i][full.mask[i]]
        for s, b in enumerate(budget):
            got = np.sort(hits[hits[:, 3] == s, 2])[::-1]
            want = np.sort(every[every[:, 3] == s, 2])[::-1][:b]
            np.testing.assert_array_equal(got, want)


def test_combined_budget_lets_hcal_towers_starve_ecal_and_the_channel_budget_does_not() -> None:
    images = np.zeros((1, 3, S, S), np.float32)
    images[0, 1, HALF, :10] = 0.5  # ten soft ECAL crystals
    towers = np.zeros((HCAL_TOWERS, HCAL_TOWERS))
    towers[:2, :5] = 20.0  # ten hard towers
    images[0, 2] = towers_to_crystals(towers)
    shared = image_to_cloud(images, n_max=10, channels=(1, 2))
    assert (shared.features[0, :, 3] == 1).all()  # all HCAL
    split = image_to_cloud(images, n_max=10, channels=(1, 2), budget=(5, 5))
    assert (split.features[0, :, 3] == 0).sum() == 5 and (split.features[0, :, 3] == 1).sum() == 5


def test_non_uniform_hcal_keeps_each_towers_energy() -> None:
    """A file whose HCAL is not spread evenly (not our detector's): each tower keeps its energy sum."""
    rng = np.random.default_rng(0)
    images = np.zeros((2, 3, S, S), np.float32)
    images[:, 2, 50:70, 40:60] = rng.uniform(0.0, 3.0, (2, 20, 20))
    cloud = image_to_cloud(images, n_max=100, channels=(2,))
    back = cloud_to_image(cloud, channels=(2,))
    np.testing.assert_allclose(crystals_to_towers(back[:, 2]), crystals_to_towers(images[:, 2]), rtol=1e-5)
    np.testing.assert_allclose(back[:, 2].sum((1, 2)), images[:, 2].sum((1, 2)), rtol=1e-5)


def test_painting_puts_an_hcal_hit_anywhere_in_a_tower_into_that_tower() -> None:
    """A model's HCAL hit off the tower centre still paints as one tower, spread over its 25 crystals."""
    off = np.array([[[1.4 * CRYSTAL_DETA, -2.3 * CRYSTAL_DPHI, 10.0, 1.0]]], np.float32)
    back = cloud_to_image(
        HitCloud(off, np.ones((1, 1), bool), ("eta_rel", "phi_rel", "e", "channel")), (1, 2)
    )
    tower = back[0, 2, 60:65, 60:65]  # the central tower (crystals 60 ... 64)
    np.testing.assert_allclose(tower, 10.0 / 25, rtol=1e-6)
    assert back[0, 2].sum() == pytest.approx(10.0) and back[0, 1].sum() == 0.0


def test_channel_cells_and_bad_input() -> None:
    assert channel_cells((0, 1, 2)) == (1, 1, 5) and channel_cells((2,)) == (5,)
    with pytest.raises(ValueError, match="budget"):
        image_to_cloud(np.zeros((1, 3, S, S), np.float32), n_max=10, channels=(0, 1), budget=(8, 8))
    with pytest.raises(ValueError, match="budget"):
        image_to_cloud(np.zeros((1, 3, S, S), np.float32), n_max=10, channels=(0, 1), budget=(8,))
    with pytest.raises(ValueError, match="towers"):
        image_to_cloud(np.zeros((1, 3, 7, 7), np.float32), channels=(2,))


def test_run_settings_refuse_a_budget_that_does_not_fit() -> None:
    from mlfastsim._utils import InputError
    from mlfastsim.data.kinds.jet_images import JetImageData

    assert JetImageData(n_max=30, channels=(0, 2), channel_budget=(10, 20)).channel_budget == (10, 20)
    with pytest.raises(InputError, match="channel_budget"):
        JetImageData(n_max=30, channels=(0, 2), channel_budget=(10, 21))
    with pytest.raises(InputError, match="channel_budget"):
        JetImageData(n_max=30, channels=(0, 1, 2), channel_budget=(10, 20))
