"""Image ↔ hit cloud ↔ kNN graph, normalisers, generator-level particles and the train/validation split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlfastsim.data.datasets import HitCloudDataset, train_val_split
from mlfastsim.data.normalisation import ConditionNormaliser, HitNormaliser
from mlfastsim.data.representations import (
    GEN_FEATURE_NAMES,
    cloud_to_image,
    gen_particles_to_padded,
    image_to_cloud,
    knn_graph,
)
from mlfastsim.data.schemas import HitCloud
from mlfastsim.physics.detector.geometry import (
    CRYSTAL_DETA,
    CRYSTAL_DPHI,
    HCAL_TOWERS,
    IMAGE_SIZE,
    pixel_centres,
    towers_to_crystals,
)
from mlfastsim.physics.particles import PARTICLE_DTYPE

S = IMAGE_SIZE
HALF = S // 2


def sparse_images(n: int, seed: int = 0, n_hits: int = 40) -> np.ndarray:
    """float32 ``[n, 3, 125, 125]``: distinct energies at random pixels (tracks, ECAL), HCAL in towers."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 3, S, S), np.float32)
    for i in range(n):
        for c in (0, 1):
            k = max(n_hits - 5 * i, 5) if c == 1 else n_hits // 4  # different hit counts per jet
            pix = rng.choice(S * S, size=k, replace=False)
            images[i, c].flat[pix] = rng.uniform(0.05, 50.0, k).astype(np.float32)
        towers = np.zeros((HCAL_TOWERS, HCAL_TOWERS), np.float32)
        towers[rng.integers(0, HCAL_TOWERS, 3), rng.integers(0, HCAL_TOWERS, 3)] = rng.uniform(1, 20, 3)
        images[i, 2] = towers_to_crystals(towers)
    return images


def n_hits(images: np.ndarray, channels: tuple[int, ...]) -> np.ndarray:
    return (images[:, list(channels)] > 0).reshape(len(images), -1).sum(axis=1)


# --- image → cloud → image -------------------------------------------------------------------------


def test_image_to_cloud_keeps_top_hits_sorted() -> None:
    images = sparse_images(4)
    n_max = 10
    assert (n_hits(images, (1,)) > n_max).all()
    cloud = image_to_cloud(images, n_max=n_max)
    assert isinstance(cloud, HitCloud)
    assert cloud.features.shape == (4, n_max, 3) and cloud.features.dtype == np.float32
    assert cloud.feature_names == ("eta_rel", "phi_rel", "e")
    assert cloud.mask.all()
    for i in range(4):
        e = cloud.features[i, :, 2]
        want = np.sort(images[i, 1].ravel())[::-1][:n_max]
        np.testing.assert_array_equal(e, want)  # the top n_max energies, decreasing


def test_image_to_cloud_features_at_pixel_centres() -> None:
    images = sparse_images(3, seed=1)
    cloud = image_to_cloud(images, n_max=200)
    deta, dphi = pixel_centres()
    for i in range(3):
        for eta, phi, e in cloud.features[i][cloud.mask[i]]:
            row = int(np.rint(eta / CRYSTAL_DETA)) + HALF
            col = int(np.rint(phi / CRYSTAL_DPHI)) + HALF
            assert eta == np.float32(deta[row]) and phi == np.float32(dphi[col])
            assert images[i, 1, row, col] == e


def test_image_centre_pixel_is_the_axis() -> None:
    image = np.zeros((1, 3, S, S), np.float32)
    image[0, 1, HALF, HALF] = 5.0
    image[0, 1, HALF + 1, HALF - 2] = 1.0
    cloud = image_to_cloud(image, n_max=4)
    np.testing.assert_allclose(cloud.features[0, 0], [0.0, 0.0, 5.0])
    np.testing.assert_allclose(cloud.features[0, 1], [CRYSTAL_DETA, -2 * CRYSTAL_DPHI, 1.0], rtol=1e-6)
    assert cloud.mask[0].tolist() == [True, True, False, False]


def test_mask_is_positive_energy_and_padding_is_zero() -> None:
    images = sparse_images(3, seed=2)
    images[0, 1, 3, 3] = -2.0  # negative pixel (e.g. noise subtraction): not a hit
    images[2, 1] = 0.0  # an empty jet
    cloud = image_to_cloud(images, n_max=100)
    hits = n_hits(images, (1,))
    np.testing.assert_array_equal(cloud.n_hits, hits)
    assert cloud.n_hits[2] == 0
    real_e = cloud.features[..., 2][cloud.mask]
    assert (real_e > 0).all()
    assert (cloud.features[~cloud.mask] == 0).all()
    for i in range(3):  # real hits first
        assert cloud.mask[i, : hits[i]].all() and not cloud.mask[i, hits[i] :].any()


@pytest.mark.parametrize("channels", [(1,), (0, 1, 2), (1, 2), (2,)])
def test_cloud_to_image_inverts_when_all_hits_kept(channels: tuple[int, ...]) -> None:
    images = sparse_images(5, seed=3)
    n_max = int(n_hits(images, channels).max()) + 3
    cloud = image_to_cloud(images, n_max=n_max, channels=channels)
    if len(channels) > 1:
        assert cloud.feature_names == ("eta_rel", "phi_rel", "e", "channel")
        slots = cloud.features[..., 3][cloud.mask]
        assert set(np.unique(slots)) == set(range(len(channels)))
    else:
        assert cloud.features.shape[-1] == 3
    back = cloud_to_image(cloud, channels=channels)
    assert back.dtype == np.float32 and back.shape == images.shape
    want = np.zeros_like(images)
    want[:, list(channels)] = images[:, list(channels)]
    np.testing.assert_array_equal(back, want)


def test_cloud_to_image_exact_at_n_max_equal_to_hits() -> None:
    images = sparse_images(1, seed=4)
    cloud = image_to_cloud(images, n_max=int(n_hits(images, (1,))[0]))
    assert cloud.mask.all()
    np.testing.assert_array_equal(cloud_to_image(cloud)[:, 1], images[:, 1])


def test_cloud_to_image_with_fewer_slots_keeps_the_top_hits() -> None:
    images = sparse_images(2, seed=5)
    cloud = image_to_cloud(images, n_max=5)
    back = cloud_to_image(cloud)
    for i in range(2):
        kept = back[i, 1][back[i, 1] > 0]
        np.testing.assert_array_equal(np.sort(kept)[::-1], np.sort(images[i, 1].ravel())[::-1][:5])
        assert ((back[i, 1] == images[i, 1]) | (back[i, 1] == 0)).all()


def test_cloud_to_image_drops_outside_and_negative_hits() -> None:
    feats = np.array([[[0.0, 0.0, 2.0], [10.0, 0.0, 3.0], [0.0, 0.0, -1.0], [0.0, 0.0, 4.0]]], np.float32)
    mask = np.array([[True, True, True, False]])
    back = cloud_to_image(HitCloud(feats, mask))
    assert back.sum() == 2.0 and back[0, 1, HALF, HALF] == 2.0


def whole_slice(cloud: HitCloud, i: int) -> HitCloud:
    return HitCloud(cloud.features[i : i + 1], cloud.mask[i : i + 1], cloud.feature_names)


def test_image_to_cloud_is_vectorised_over_batch_and_chunks() -> None:
    images = sparse_images(7, seed=6)
    whole = image_to_cloud(images, n_max=30, channels=(0, 1, 2))
    chunked = image_to_cloud(images, n_max=30, channels=(0, 1, 2), chunk=3)
    np.testing.assert_array_equal(whole.features, chunked.features)
    np.testing.assert_array_equal(whole.mask, chunked.mask)
    for i in range(7):
        single = image_to_cloud(images[i : i + 1], n_max=30, channels=(0, 1, 2))
        np.testing.assert_array_equal(single.features[0], whole.features[i])
        np.testing.assert_array_equal(single.mask[0], whole.mask[i])
    back = cloud_to_image(whole, channels=(0, 1, 2))
    for i in range(7):
        np.testing.assert_array_equal(back[i], cloud_to_image(whole_slice(whole, i), channels=(0, 1, 2))[0])


def test_image_to_cloud_small_images_and_bad_input() -> None:
    images = np.zeros((2, 3, 5, 5), np.float32)
    images[0, 1, 0, 0] = 1.0
    images[1, 1] = np.arange(25, dtype=np.float32).reshape(5, 5)
    cloud = image_to_cloud(images, n_max=40)  # more slots than pixels
    assert cloud.features.shape == (2, 40, 3)
    assert cloud.n_hits.tolist() == [1, 24]
    np.testing.assert_array_equal(cloud_to_image(cloud, size=5), images * np.array([0, 1, 0])[:, None, None])
    with pytest.raises(ValueError, match="N, C, S, S"):
        image_to_cloud(np.zeros((3, 125, 125)))


def test_hit_cloud_validates_shapes() -> None:
    with pytest.raises(ValueError):
        HitCloud(np.zeros((2, 4, 3), np.float32), np.zeros((2, 5), bool))
    with pytest.raises(ValueError):
        HitCloud(np.zeros((2, 4, 4), np.float32), np.zeros((2, 4), bool))


# --- kNN graph ---------------------------------------------------------------------------------------


def test_knn_graph_never_points_to_padding() -> None:
    gen = torch.Generator().manual_seed(0)
    b, n, k = 4, 12, 4
    pos = torch.randn(b, n, 2, generator=gen)
    n_real = [12, 7, 3, 0]
    mask = torch.zeros(b, n, dtype=torch.bool)
    for i, m in enumerate(n_real):
        mask[i, torch.randperm(n, generator=gen)[:m]] = True  # padding anywhere, not just at the end
    pos[~mask] = 0.0  # padded slots all at the origin: closest to each other
    idx = knn_graph(pos, mask, k=k)
    assert idx.shape == (b, n, k) and idx.dtype == torch.int64
    self_index = torch.arange(n).view(1, n, 1).expand(b, n, k)
    for bi in range(b):
        for i in range(n):
            nbrs = idx[bi, i]
            if not mask[bi, i]:
                assert (nbrs == i).all()  # padded slots: self-loops only
                continue
            assert mask[bi, nbrs].all()  # never padding
            others = nbrs[nbrs != i]
            assert len(others) == min(k, n_real[bi] - 1)
            assert len(set(others.tolist())) == len(others)
            # the true nearest real neighbours
            real = torch.nonzero(mask[bi]).flatten()
            real = real[real != i]
            d = ((pos[bi, real] - pos[bi, i]) ** 2).sum(-1)
            want = torch.sort(d).values[: len(others)]
            got = torch.sort(((pos[bi, others] - pos[bi, i]) ** 2).sum(-1)).values
            torch.testing.assert_close(got, want)
    gathered = torch.gather(mask.unsqueeze(1).expand(b, n, n), 2, idx)
    assert (gathered == mask.unsqueeze(-1)).all()
    assert ((idx == self_index) | mask.unsqueeze(-1)).all()


def test_knn_graph_more_neighbours_than_points() -> None:
    pos = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    idx = knn_graph(pos, mask, k=5)
    assert idx.shape == (1, 3, 5)
    assert idx[0, 0].tolist() == [1, 2, 0, 0, 0]
    assert idx[0, 2].tolist() == [1, 0, 2, 2, 2]
    single = knn_graph(torch.zeros(2, 1, 2), torch.ones(2, 1, dtype=torch.bool), k=3)
    assert single.tolist() == [[[0, 0, 0]], [[0, 0, 0]]]


def test_knn_graph_periodic_phi() -> None:
    # η = 0 for all; φ near +π and −π are neighbours only with periodic φ
    phi = torch.tensor([3.10, -3.10, 0.0, 1.0, -1.5])
    pos = torch.stack([torch.zeros(5), phi], dim=-1).unsqueeze(0)
    mask = torch.ones(1, 5, dtype=torch.bool)
    flat = knn_graph(pos, mask, k=1)
    periodic = knn_graph(pos, mask, k=1, periodic_phi=True)
    assert flat[0, 0, 0].item() == 3  # |3.10 − 1.0| = 2.1 is the nearest without wrapping
    assert periodic[0, 0, 0].item() == 1  # 2π − 6.2 ≈ 0.083 across ±π
    assert periodic[0, 1, 0].item() == 0
    assert flat[0, 1, 0].item() == 4
    assert (periodic[0, 2:] == flat[0, 2:]).all()  # away from ±π nothing changes


# --- normalisers -------------------------------------------------------------------------------------


def cloud_of(seed: int = 0, channels: tuple[int, ...] = (1,)) -> HitCloud:
    return image_to_cloud(sparse_images(6, seed=seed), n_max=150, channels=channels)


def test_hit_normaliser_roundtrip_and_padding() -> None:
    cloud = cloud_of(channels=(0, 1, 2))
    assert (~cloud.mask).any()
    norm = HitNormaliser().fit(cloud.features, cloud.mask)
    z = norm.transform(cloud.features, cloud.mask)
    assert z.dtype == np.float32 and z.shape == cloud.features.shape
    assert (z[~cloud.mask] == 0).all()
    real = z[cloud.mask]
    np.testing.assert_allclose(real[:, :3].mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(real[:, :3].std(axis=0), 1.0, rtol=1e-4)
    np.testing.assert_array_equal(real[:, 3], cloud.features[cloud.mask][:, 3])  # channel passes unchanged
    back = norm.inverse_transform(z, cloud.mask)
    assert (back[~cloud.mask] == 0).all()
    np.testing.assert_allclose(back[cloud.mask], cloud.features[cloud.mask], rtol=2e-5, atol=2e-6)
    e = cloud.features[..., 2][cloud.mask]
    assert norm.mean[2] == pytest.approx(float(np.log(e).mean()), rel=1e-5)
    assert norm.std[2] == pytest.approx(float(np.log(e).std()), rel=1e-4)
    again = HitNormaliser.from_dict(norm.to_dict())
    np.testing.assert_array_equal(again.transform(cloud.features, cloud.mask), z)


def test_hit_normaliser_ignores_padded_values() -> None:
    cloud = cloud_of(seed=1)
    dirty = cloud.features.copy()
    rng = np.random.default_rng(0)
    dirty[~cloud.mask] = rng.uniform(-1e3, 1e3, dirty[~cloud.mask].shape).astype(np.float32)
    clean_norm = HitNormaliser().fit(cloud.features, cloud.mask)
    dirty_norm = HitNormaliser().fit(dirty, cloud.mask)
    assert dirty_norm.mean == clean_norm.mean and dirty_norm.std == clean_norm.std
    np.testing.assert_array_equal(
        dirty_norm.transform(dirty, cloud.mask), clean_norm.transform(cloud.features, cloud.mask)
    )
    # per-slot (permutation-equivariant): permuting the hits permutes the output
    perm = rng.permutation(cloud.features.shape[1])
    np.testing.assert_array_equal(
        clean_norm.transform(cloud.features[:, perm], cloud.mask[:, perm]),
        clean_norm.transform(cloud.features, cloud.mask)[:, perm],
    )
    with pytest.raises(ValueError, match="no real hits"):
        HitNormaliser().fit(cloud.features, np.zeros_like(cloud.mask))


def test_condition_normaliser() -> None:
    cond = np.array([[100.0, 0.5], [150.0, np.nan], [200.0, -0.5], [np.nan, 0.0]])
    norm = ConditionNormaliser().fit(cond)
    assert norm.mean == pytest.approx([150.0, 0.0])
    assert norm.std == pytest.approx([np.std([100, 150, 200]), np.std([0.5, -0.5, 0.0])])
    z = norm.transform(cond)
    assert z.dtype == np.float32 and np.isfinite(z).all()
    assert z[1, 1] == 0.0 and z[3, 0] == 0.0  # NaN → 0 (the mean)
    np.testing.assert_allclose(z[:3, 0], (cond[:3, 0] - 150.0) / np.std([100, 150, 200]), rtol=1e-6)
    back = norm.inverse_transform(z)
    finite = np.isfinite(cond)
    np.testing.assert_allclose(back[finite], cond[finite], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="2 conditions"):
        norm.transform(np.zeros((3, 3)))
    again = ConditionNormaliser.from_dict(norm.to_dict())
    np.testing.assert_array_equal(again.transform(cond), z)


def test_condition_normaliser_constant_missing_and_empty() -> None:
    # a constant column, and a column missing everywhere (e.g. η from a public file): no warnings, no NaN
    cond = np.array([[5.0, np.nan], [5.0, np.nan], [5.0, np.nan]])
    norm = ConditionNormaliser().fit(cond)
    assert norm.mean == [5.0, 0.0] and norm.std == [1.0, 1.0]
    assert (norm.transform(cond) == 0).all()
    none = ConditionNormaliser().fit(np.zeros((4, 0)))
    assert none.mean == [] and none.transform(np.zeros((4, 0))).shape == (4, 0)
    one_d = ConditionNormaliser().fit(np.array([1.0, 3.0]))
    assert one_d.transform(np.array([1.0, 3.0])).ravel().tolist() == [-1.0, 1.0]


def test_hit_cloud_dataset_items() -> None:
    cloud = cloud_of(seed=2)
    cond = np.linspace(80, 160, 6)[:, None]
    norm = HitNormaliser().fit(cloud.features, cloud.mask)
    cond_norm = ConditionNormaliser().fit(cond)
    gen = (np.zeros((6, 8, 5), np.float32), np.ones((6, 8), bool))
    ds = HitCloudDataset(cloud, cond, norm, cond_norm, gen=gen)
    assert len(ds) == 6
    item = ds[2]
    assert set(item) == {"features", "mask", "cond", "gen_features", "gen_mask"}
    assert item["features"].shape == (150, 3) and item["mask"].dtype == torch.bool
    np.testing.assert_array_equal(item["features"].numpy(), norm.transform(cloud.features, cloud.mask)[2])
    with pytest.raises(ValueError, match="condition rows"):
        HitCloudDataset(cloud, cond[:5], norm, cond_norm)


# --- generator-level particles -----------------------------------------------------------------------


def particles(pt: list[float], eta: list[float], phi: list[float], pdgid: list[int]) -> np.ndarray:
    p = np.zeros(len(pt), PARTICLE_DTYPE)
    p["pt"], p["eta"], p["phi"], p["pdgid"] = pt, eta, phi, pdgid
    p["charge"] = [float(np.sign(x)) if abs(x) in (11, 211) else 0.0 for x in pdgid]
    p["e"] = p["pt"] * np.cosh(p["eta"])
    return p


def test_gen_particles_to_padded() -> None:
    gen = [
        particles([1.0, 5.0, 3.0], [0.1, 0.2, 0.3], [3.1, -3.1, 3.0], [22, 211, -11]),
        particles([], [], [], []),
        particles([2.0] * 5, [0.0, 0.1, 0.2, 0.3, 0.4], [0.0] * 5, [130] * 5),
    ]
    feats, mask = gen_particles_to_padded(gen, np.array([0.0, 1.0, 0.0]), np.array([3.1, 0.0, 0.0]), m_max=4)
    assert feats.shape == (3, 4, len(GEN_FEATURE_NAMES)) and feats.dtype == np.float32
    assert mask.shape == (3, 4) and mask.dtype == bool
    assert mask.sum(axis=1).tolist() == [3, 0, 4]  # truncated at m_max
    # sorted by decreasing pT
    np.testing.assert_allclose(feats[0, :3, 2], np.log([5.0, 3.0, 1.0]), rtol=1e-6)
    np.testing.assert_allclose(feats[0, :3, 0], [0.2, 0.3, 0.1], rtol=1e-6)
    # φ relative to the axis, wrapped across ±π
    np.testing.assert_allclose(feats[0, :3, 1], [-3.1 - 3.1 + 2 * np.pi, 3.0 - 3.1, 0.0], atol=1e-6)
    assert (np.abs(feats[..., 1]) <= np.pi).all()
    np.testing.assert_array_equal(feats[0, :3, 3], [1.0, -1.0, 0.0])  # charge
    np.testing.assert_array_equal(feats[0, :3, 4], [0.0, 1.0, 1.0])  # is_em (e, γ)
    assert (feats[~mask] == 0).all()
    # equal pT: stable order, the first m_max
    np.testing.assert_allclose(feats[2, :, 0], [0.0, 0.1, 0.2, 0.3], atol=1e-7)


def test_gen_particles_unknown_axis_uses_centroid() -> None:
    gen = [particles([1.0, 1.0], [0.5, 0.7], [np.pi - 0.1, -np.pi + 0.1], [211, 211])]
    feats, mask = gen_particles_to_padded(gen, np.array([np.nan]), np.array([np.nan]), m_max=3)
    assert mask[0].tolist() == [True, True, False]
    np.testing.assert_allclose(feats[0, :2, 0], [-0.1, 0.1], atol=1e-6)
    np.testing.assert_allclose(sorted(feats[0, :2, 1]), [-0.1, 0.1], atol=1e-6)  # centroid at φ = π


# --- train/validation split ----------------------------------------------------------------------------


def test_train_val_split() -> None:
    train, val = train_val_split(100, 0.2, seed=3)
    assert len(val) == 20 and len(train) == 80
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(100))
    assert (np.diff(train) > 0).all() and (np.diff(val) > 0).all()
    again = train_val_split(100, 0.2, seed=3)
    np.testing.assert_array_equal(again[0], train)
    np.testing.assert_array_equal(again[1], val)
    other = train_val_split(100, 0.2, seed=4)
    assert not np.array_equal(other[1], val)


def test_train_val_split_edges() -> None:
    train, val = train_val_split(10, 0.0, seed=0)
    assert train.tolist() == list(range(10)) and val.size == 0
    train, val = train_val_split(1, 0.9, seed=0)
    assert train.tolist() == [0] and val.size == 0  # at least one jet stays in training
    train, val = train_val_split(5, 0.99, seed=0)
    assert len(train) == 1 and len(val) == 4
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="val_fraction"):
            train_val_split(10, bad, seed=0)
