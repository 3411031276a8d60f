"""Speed of the models, measured as ratios in one run: reconstruction per batch (graph building included),
prior sampling throughput and, where the jets carry their generator-level particles, the throughput of
generation from particles (the fast-simulation use)."""

from __future__ import annotations

from typing import Any

import torch

from mlfastsim.bench.timing import machine_facts, time_call
from mlfastsim.data.normalisation import HitNormaliser
from mlfastsim.data.representations import cloud_to_image, gen_particles_to_padded, image_to_cloud
from mlfastsim.data.schemas import JetImages
from mlfastsim.models import build_model
from mlfastsim.physics.detector.geometry import CRYSTAL_DETA, CRYSTAL_DPHI, IMAGE_SIZE

__all__ = ["bench_models"]


def _batch_from_jets(
    jets: JetImages, batch: int, n_max: int
) -> tuple[dict[str, torch.Tensor], HitNormaliser]:
    cloud = image_to_cloud(jets.images[:batch], n_max=n_max, channels=(1,))
    norm = HitNormaliser().fit(cloud.features, cloud.mask)
    feats = torch.as_tensor(norm.transform(cloud.features, cloud.mask))
    data = {"features": feats, "mask": torch.as_tensor(cloud.mask), "cond": torch.zeros(len(feats), 3)}
    if jets.gen is not None:
        gen, gen_mask = gen_particles_to_padded(jets.gen[:batch], jets.eta[:batch], jets.phi[:batch])
        data["gen_features"], data["gen_mask"] = torch.as_tensor(gen), torch.as_tensor(gen_mask)
    return data, norm


@torch.no_grad()
def bench_models(
    jets: JetImages,
    batch: int = 64,
    n_sample: int = 10_000,
    repeats: int = 20,
    n_max: int = 400,
    chunk: int = 1024,
) -> dict[str, Any]:
    """Time ``gvae-paper`` (without work on padding, and its dense version over all ``n_max`` slots as
    before issue 12) and ``gvae`` on the same batch of real jets, and ``gvae`` prior sampling; every
    reconstruction includes building the graph.

    Models have their default configurations and fresh weights (speed does not depend on training).

    Args:
        jets: at least ``batch`` jets (their ECAL hits are the input).
        batch: jets per reconstruction call (the seeds quote batches of 64).
        n_sample: jets per prior-sampling measurement, generated in calls of ``chunk`` jets.
        repeats: timed calls per measurement (median reported).

    Returns:
        Timings (s), rates (jets/s), the speed-up ratio and the machine facts.
    """
    if len(jets) < batch:
        raise ValueError(f"need at least {batch} jets, got {len(jets)}")
    data, norm = _batch_from_jets(jets, batch, n_max)
    half = IMAGE_SIZE // 2
    grid = {
        "pixel_scale": (norm.std[0] / CRYSTAL_DETA, norm.std[1] / CRYSTAL_DPHI),
        "pixel_offset": (norm.mean[0] / CRYSTAL_DETA + half, norm.mean[1] / CRYSTAL_DPHI + half),
    }
    torch.manual_seed(0)
    paper: Any
    ours: Any
    paper, _ = build_model("gvae-paper", {"n_max": n_max})
    # the same model with graph and dense layers over all n_max slots, as before issue 12
    paper_dense, _ = build_model("gvae-paper", {"n_max": n_max, "padding": "dense"})
    paper_dense.load_state_dict(paper.state_dict())
    # fresh weights: any threshold far below the hits will do for timing
    energy = {"energy_norm": (norm.mean[2], norm.std[2]), "min_log_energy": -10.0}
    with_gen = "gen_features" in data  # the default configuration conditions on the particles
    ours, _ = build_model("gvae", {"n_max": n_max, "n_cond": 3, "use_gen": with_gen, **grid, **energy})
    paper.eval()
    paper_dense.eval()
    ours.eval()
    result: dict[str, Any] = {
        "sampling_chunk": chunk,
        "batch": batch,
        "n_max": n_max,
        "mean_hits": float(data["mask"].sum(1).float().mean()),
        "gvae_uses_particles": with_gen,
    }
    result["gvae-paper reconstruct"] = time_call(lambda: paper.reconstruct(data), repeats)
    result["gvae-paper dense (before issue 12) reconstruct"] = time_call(
        lambda: paper_dense.reconstruct(data), max(3, repeats // 4)
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
        from mlfastsim.data.schemas import HitCloud

        for out in sample_all():
            feats = norm.inverse_transform(out["features"].numpy(), out["mask"].numpy())
            cloud_to_image(HitCloud(feats, out["mask"].numpy()))

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
