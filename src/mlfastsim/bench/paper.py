"""The seeds' model, ``gvae-paper``, timed beside the jet-image runs in the same process: it cannot sample
(its decoder needs a real event's cluster assignments), so what is timed is what it does per event —
encode a jet image into a graph, reconstruct it and decode it back into a jet image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from mlfastsim.bench.runs import cycle_events
from mlfastsim.bench.timing import peak_memory, time_call
from mlfastsim.inference import LoadedRun, reconstruct_run
from mlfastsim.models import ReconstructingModel

__all__ = ["PAPER_CHUNK", "bench_reconstruction", "fresh_paper_run"]

#: Events per gvae-paper call: its dense 400 × 400 adjacency per jet makes larger calls exhaust memory.
PAPER_CHUNK = 256


def fresh_paper_run(events: Any) -> LoadedRun:
    """A ``gvae-paper`` with its default configuration and fresh weights (speed does not depend on
    training), its codec fitted on ``events`` (jet images)."""
    from mlfastsim._utils import config_to_dict
    from mlfastsim.data.kinds import get_kind
    from mlfastsim.training.runs import resolve_run_config, setup_model

    cfg = resolve_run_config("gvae-paper", "jet-images")
    cfg, codec, model = setup_model(cfg, events)
    model.eval()
    return LoadedRun(
        "gvae-paper", get_kind("jet-images"), model, cfg.model, cfg.data, codec, config_to_dict(cfg), {}
    )


@torch.no_grad()
def bench_reconstruction(
    run: LoadedRun, events: Any, batches: Sequence[int], repeats: int = 3
) -> dict[str, Any]:
    """Time ``reconstruct_run`` (codec encoding, graph building, the model, decoding into jet images) on
    ``batch`` events cycled from ``events`` at each batch size, in calls of at most :data:`PAPER_CHUNK`."""
    if not isinstance(run.model, ReconstructingModel):
        raise ValueError(f"the {run.family} family does not reconstruct; nothing to time")
    result: dict[str, Any] = {
        "family": run.family,
        "kind": run.kind.name,
        "mode": f"reconstruction of events (calls of at most {PAPER_CHUNK})",
        "backend": "torch",
        "precision": "fp32",
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "timings": {},
    }
    for batch in batches:
        given = cycle_events(events, batch)
        size = min(batch, PAPER_CHUNK)

        def call(given: Any = given, size: int = size) -> Any:
            return reconstruct_run(run, given, batch_size=size)

        timing = time_call(call, repeats, warmup=1)
        result["timings"][str(batch)] = {
            **timing,
            "batch": batch,
            "us_per_event": 1e6 * timing["median_s"] / batch,
            "events_per_s": batch / timing["median_s"],
            **peak_memory(),
        }
    return result
