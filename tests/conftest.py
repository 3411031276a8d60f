"""Shared test settings: no progress bars in test output."""

import os

os.environ.setdefault("MLFASTSIM_PROGRESS", "0")

from collections.abc import Callable

import numpy as np
import pytest

from mlfastsim.data import HitCloud, JetImages, cloud_to_image


def toy_jets(n: int, seed: int, spread: float = 0.05, energy: float = 2.0) -> JetImages:
    """Toy jets: 10–40 ECAL hits around the centre (Gaussian spread in rad), exponential energies (GeV)."""
    rng = np.random.default_rng(seed)
    n_hits = rng.integers(10, 40, n)
    feats = np.zeros((n, 40, 3), dtype=np.float32)
    mask = np.arange(40)[None] < n_hits[:, None]
    feats[..., :2] = rng.normal(0, spread, (n, 40, 2))
    feats[..., 2] = rng.exponential(energy, (n, 40)) + 0.2
    images = cloud_to_image(HitCloud(feats * mask[..., None], mask))
    pt = rng.uniform(70, 200, n).astype(np.float32)
    return JetImages(
        images,
        pt,
        np.full(n, 10.0, np.float32),
        np.zeros(n, np.float32),
        np.zeros(n, np.float32),
        np.zeros(n, np.float32),
        attrs={"producer": "toy"},
    )


@pytest.fixture(scope="session")
def make_toy_jets() -> Callable[..., JetImages]:
    """:func:`toy_jets`, for tests that need small jet-image samples without Pythia."""
    return toy_jets
