"""Shared test settings: no progress bars in test output."""

import os

os.environ.setdefault("MLFASTSIM_PROGRESS", "0")

from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def add_toy_particles(jets: JetImages, seed: int = 1) -> JetImages:
    """Give every jet of ``jets`` six generator-level particles (three photons, two charged pions, a K0L;
    exponential pT + 1 GeV, Gaussian spread 0.05 in eta and phi), in place; returns ``jets``."""
    from mlfastsim.physics.particles import PARTICLE_DTYPE

    rng = np.random.default_rng(seed)
    jets.gen = []
    for _ in range(len(jets)):
        parts = np.zeros(6, dtype=PARTICLE_DTYPE)
        parts["pt"] = rng.exponential(10.0, 6) + 1.0
        parts["eta"], parts["phi"] = rng.normal(0.0, 0.05, (2, 6))
        parts["pdgid"] = [22, 22, 22, 211, -211, 130]
        parts["charge"] = [0, 0, 0, 1, -1, 0]
        parts["e"] = parts["pt"] * np.cosh(parts["eta"])
        jets.gen.append(parts)
    return jets


@pytest.fixture(scope="session")
def with_toy_particles() -> Callable[..., JetImages]:
    """:func:`add_toy_particles`, for tests that need jets with generator-level particles without Pythia."""
    return add_toy_particles


@pytest.fixture(scope="session")
def make_toy_jets() -> Callable[..., JetImages]:
    """:func:`toy_jets`, for tests that need small jet-image samples without Pythia."""
    return toy_jets


CONFIGS = Path(__file__).resolve().parents[1] / "configs"
#: Small model settings for speed, per family (a family missing here is tested with its defaults).
SMALL_MODEL: dict[str, list[str]] = {
    "gvae": ["model.components=8", "model.context=32", "model.latent=8"],
    "gvae-paper": ["model.clusters=[12,4]", "model.hidden=[16,16]", "model.latent=4"],
    "flow-pid": [
        "model.transforms=2",
        "model.hidden=[32,32]",
        "model.student_hidden=[32,32]",
        "model.distill_pairs=4000",
        "model.distill_steps=60",
    ],
    "flow-shower": [
        "model.distill=true",  # the run layer's second stage exercised too (off by default)
        "model.transforms=2",
        "model.hidden=[32,32]",
        "model.student_hidden=[32,32]",
        "model.distill_pairs=2000",
        "model.distill_steps=30",
    ],
}
#: Small data settings, per kind.
SMALL_DATA: dict[str, list[str]] = {"jet-images": ["data.n_max=64"]}


def small_run_config(family: str, kind: str, *, overrides: tuple[str, ...] = (), **train: Any) -> Any:
    """A resolved run config of ``family`` on ``kind``: the shipped config (configs/<family>-<kind>.toml, or
    configs/<family>.toml for the family's first kind) with small settings for tests, then ``overrides``
    (``--set`` strings, e.g. ``("model.mode=detector",)``)."""
    from mlfastsim._utils import load_config_file
    from mlfastsim.models import FAMILIES
    from mlfastsim.training.runs import resolve_run_config

    file_cfg = None
    for path in (CONFIGS / f"{family}-{kind}.toml", CONFIGS / f"{family}.toml"):
        if path.exists() and (path.stem != family or FAMILIES[family].kinds[0] == kind):
            file_cfg = load_config_file(path)
            break
    small = SMALL_MODEL.get(family, []) + SMALL_DATA.get(kind, []) + list(overrides)
    return resolve_run_config(family, kind, file_cfg, small, **train)


@pytest.fixture(scope="session")
def make_run_config() -> Callable[..., Any]:
    """:func:`small_run_config`, for the registry-generated tests of every family × kind."""
    return small_run_config
