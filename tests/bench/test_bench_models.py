"""``bench models`` on the configurations given: the three-channel gvae and gvae-paper on the same jets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mlfastsim._utils import load_config_file
from mlfastsim.bench.models import bench_models
from mlfastsim.data import JetImages

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_bench_models_times_the_configured_three_channel_models(
    make_toy_jets: Callable[..., JetImages],
    with_toy_particles: Callable[..., JetImages],
) -> None:
    jets = make_toy_jets(32, 0)
    ecal = jets.images[:, 1]
    jets.images[:, 0] = np.where(ecal > 1.0, 0.5 * ecal, 0.0)  # a track pixel under the harder crystals
    jets.images[:, 2] = ecal  # HCAL: summed into towers by the codec
    with_toy_particles(jets)  # a few photons and pions per jet, as generator-level particles
    gvae_cfg, paper_cfg = (load_config_file(CONFIGS / f) for f in ("gvae-3ch.toml", "gvae-paper-3ch.toml"))
    result = bench_models(jets, batch=16, n_sample=64, repeats=1, chunk=32, gvae_config=gvae_cfg,
                          paper_config=paper_cfg)  # fmt: skip
    assert result["channels"] == {"gvae": [0, 1, 2], "gvae-paper": [0, 1, 2]}
    assert result["n_max"] == {"gvae": 768, "gvae-paper": 400}
    ecal_hits = float((ecal[:16] > 0).sum((1, 2)).mean())
    assert result["mean_hits"] > ecal_hits and result["mean_hits_gvae_paper"] > ecal_hits  # all channels
    ratio = result["speedup gvae vs gvae-paper (reconstruct)"]
    assert ratio == pytest.approx(
        result["gvae-paper reconstruct"]["median_s"] / result["gvae reconstruct"]["median_s"]
    )
    assert result["gvae_uses_particles"] and result["gvae generation from particles"]["jets_per_s"] > 0
    assert result["gvae prior sampling"]["n"] == 64 and result["gvae prior sampling"]["jets_per_s"] > 0
