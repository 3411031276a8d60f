"""Speed of the models, measured as ratios in one run: reconstruction per batch (graph building included),
prior sampling throughput and, where the jets carry their generator-level particles, the throughput of
generation from particles (the fast-simulation use)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from mlfastsim.bench.timing import machine_facts, time_call
from mlfastsim.data.schemas import JetImages

__all__ = ["bench_models"]


def _fresh(family: str, file_config: Mapping[str, Any], jets: JetImages, batch: int) -> tuple[Any, Any, Any]:
    """``family`` built from ``file_config`` (tables ``[model]``/``[data]``, as ``mlfastsim train --config``
    takes) with fresh weights, its codec fitted on ``jets``: (model in eval mode, codec, the first ``batch``
    jets encoded — hits of the configured channels, conditions, particles when the model uses them)."""
    from mlfastsim.inference import batch_keys
    from mlfastsim.training.runs import resolve_run_config, setup_model

    cfg = resolve_run_config(family, "jet-images", dict(file_config))
    cfg, codec, model = setup_model(cfg, jets)
    model.eval()
    return model, codec, codec.encode(jets.subset(np.arange(batch)), batch_keys(cfg.model))


@torch.no_grad()
def bench_models(
    jets: JetImages,
    batch: int = 64,
    n_sample: int = 10_000,
    repeats: int = 20,
    n_max: int = 400,
    chunk: int = 1024,
    gvae_config: Mapping[str, Any] | None = None,
    paper_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Time ``gvae-paper`` (without work on padding, and its dense version over all its slots as before
    issue 12) and ``gvae`` on the same batch of real jets, and ``gvae`` prior sampling; every reconstruction
    includes building the graph.

    Models have fresh weights (speed does not depend on training) and the configurations given, as config
    files' tables (``configs/gvae-3ch.toml``, ``configs/gvae-paper-3ch.toml``: tracks, ECAL and HCAL hits with
    each channel's budget); by default ECAL hits only (``n_max`` of them), ``gvae`` conditioned on the jet
    kinematics and, where the jets carry them, on their generator-level particles. Each model's codec is
    fitted on ``jets``; ``gvae`` samples without conditions from their conditions (its bank).

    Args:
        jets: at least ``batch`` jets (their hits are the input).
        batch: jets per reconstruction call (the seeds quote batches of 64).
        n_sample: jets per prior-sampling measurement, generated in calls of ``chunk`` jets.
        repeats: timed calls per measurement (median reported).

    Returns:
        Timings (s), rates (jets/s), the speed-up ratio and the machine facts.
    """
    if len(jets) < batch:
        raise ValueError(f"need at least {batch} jets, got {len(jets)}")
    with_gen = jets.gen is not None  # the default configuration conditions on the particles
    if gvae_config is None:
        gvae_config = {"model": {"n_cond": 3, "use_gen": with_gen}, "data": {"n_max": n_max}}
    if paper_config is None:
        paper_config = {"data": {"n_max": n_max}}
    torch.manual_seed(0)
    paper: Any
    ours: Any
    paper, paper_codec, paper_data = _fresh("gvae-paper", paper_config, jets, batch)
    # the same model with graph and dense layers over all its slots, as before issue 12
    paper_dense = type(paper)(dataclasses.replace(paper.config, padding="dense"))
    paper_dense.load_state_dict(paper.state_dict())
    paper_dense.eval()
    ours, codec, data = _fresh("gvae", gvae_config, jets, batch)
    if ours.config.n_cond:  # unconditional sampling draws the jets' conditions, as a trained run does
        ours.prepare(codec.encode(jets, frozenset({"features", "mask", "cond"})))
    if ours.prior_flow is not None:  # fresh weights: an unfitted flow prior costs what a fitted one does
        ours.prior_flow.fitted.fill_(True)
    with_gen = ours.config.use_gen
    result: dict[str, Any] = {
        "sampling_chunk": chunk,
        "batch": batch,
        "n_max": {"gvae": ours.config.n_max, "gvae-paper": paper.config.n_max},
        "channels": {
            "gvae": list(codec.data.channels),
            "gvae-paper": list(paper_codec.data.channels),
        },
        "mean_hits": float(data["mask"].sum(1).float().mean()),
        "mean_hits_gvae_paper": float(paper_data["mask"].sum(1).float().mean()),
        "gvae_uses_particles": with_gen,
        "gvae_config": dict(gvae_config),
        "gvae_paper_config": dict(paper_config),
    }
    result["gvae-paper reconstruct"] = time_call(lambda: paper.reconstruct(paper_data), repeats)
    result["gvae-paper dense (before issue 12) reconstruct"] = time_call(
        lambda: paper_dense.reconstruct(paper_data), max(3, repeats // 4)
    )
    result["speedup gvae-paper vs its dense version (reconstruct)"] = (
        result["gvae-paper dense (before issue 12) reconstruct"]["median_s"]
        / result["gvae-paper reconstruct"]["median_s"]
    )
    result["gvae reconstruct"] = time_call(lambda: ours.reconstruct(data), repeats)
    result["speedup gvae vs gvae-paper (reconstruct)"] = (
        result["gvae-paper reconstruct"]["median_s"] / result["gvae reconstruct"]["median_s"]
    )
    gen = torch.Generator().manual_seed(0)

    def sample_all() -> list[dict[str, torch.Tensor]]:
        return [ours.sample(min(chunk, n_sample - i), generator=gen) for i in range(0, n_sample, chunk)]

    sampling = time_call(sample_all, max(3, repeats // 5), warmup=1)
    result["gvae prior sampling"] = {**sampling, "n": n_sample, "jets_per_s": n_sample / sampling["median_s"]}

    def to_images() -> None:
        for out in sample_all():
            codec.decode(out, None)

    with_images = time_call(to_images, 3, warmup=1)
    result["gvae prior sampling to jet images"] = {
        **with_images,
        "n": n_sample,
        "jets_per_s": n_sample / with_images["median_s"],
    }
    if with_gen:  # generation from particles: the batch's particles, over and over

        def from_particles() -> None:
            for i in range(0, n_sample, chunk):
                k = min(chunk, n_sample - i)
                pick = torch.arange(k) % batch
                given = {key: data[key][pick] for key in ("cond", "gen_features", "gen_mask")}
                ours.sample(k, cond=given, generator=gen)

        timing = time_call(from_particles, max(3, repeats // 5), warmup=1)
        result["gvae generation from particles"] = {
            **timing,
            "n": n_sample,
            "jets_per_s": n_sample / timing["median_s"],
        }
    result["machine"] = machine_facts()
    return result
