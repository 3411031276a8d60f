"""Speed of trained runs of any family and data kind: generation per event at several batch sizes, with the
codec's encoding of the conditions and decoding into the kind's container included (what a user pays for),
after a warm-up call, with threads, backend, device and peak memory recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from mlfastsim.bench.timing import machine_facts, peak_memory, time_call
from mlfastsim.inference import LoadedRun, sample_run
from mlfastsim.models import GenerativeModel

__all__ = ["bench_run", "cycle_events"]


def cycle_events(events: Any, n: int) -> Any:
    """``n`` events cycled from ``events`` (the timing depends on their size, not on which they are)."""
    return events.subset(np.arange(n) % len(events))


@torch.no_grad()
def bench_run(
    run: LoadedRun,
    batches: Sequence[int] = (1, 64, 10_000),
    conditions: Any | None = None,
    repeats: int = 5,
    precision: str = "fp32",
    use_given: bool = False,
) -> dict[str, Any]:
    """Time ``sample_run`` on ``run`` at each batch size (one call of ``batch`` events, median of ``repeats``
    after a warm-up call): from the prior when the model can, else conditioned on ``conditions`` (events of
    the run's kind, cycled to the batch size; needed for conditional-only models).

    ``use_given=True`` (the user chose ``conditions``, e.g. ``bench --conditions FILE``): conditioned on them
    whenever the run takes conditions (its codec gives some), also when the model could draw its own (a
    bank of training conditions); a run that takes none samples from the prior and its ``mode`` says so.

    Returns:
        Per batch: median, q16, q84 (s), µs per event, events/s and the peak memory after the measurement;
        the recorded cost per event of the reference simulation that made the run's training data
        (``wall_time_per_event_s``, s) and the ratio reference / generated at the largest batch; threads,
        backend, precision, device and the machine facts.
    """
    model = run.model
    if not isinstance(model, GenerativeModel):
        raise ValueError(f"the {run.family} family does not generate; nothing to time")
    if model.needs_conditions() and conditions is None:
        raise ValueError(f"the {run.family} run is conditional: give conditions (--conditions FILE)")
    takes = conditions is not None and bool(run.codec.conditions(conditions.subset(slice(0, 1)), run.keys))
    use_conditions = conditions is not None and (model.needs_conditions() or (use_given and takes))
    mode = "conditioned on events" if use_conditions else "from the prior"
    if use_given and not takes:
        mode = "from the prior (the run takes no conditions)"
    device = next((t.device for t in (*model.parameters(), *model.buffers())), torch.device("cpu"))
    result: dict[str, Any] = {
        "family": run.family,
        "kind": run.kind.name,
        "mode": mode,
        "backend": "torch",
        "precision": precision,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "timings": {},
    }
    for batch in batches:
        given = cycle_events(conditions, batch) if use_conditions else None

        def call(given: Any = given, batch: int = batch) -> Any:
            if given is not None:
                return sample_run(run, conditions=given, seed=0, batch_size=batch, precision=precision)
            return sample_run(run, n=batch, seed=0, batch_size=batch, precision=precision)

        timing = time_call(call, repeats=repeats, warmup=1)
        result["timings"][str(batch)] = {
            **timing,
            "batch": batch,
            "us_per_event": 1e6 * timing["median_s"] / batch,
            "events_per_s": batch / timing["median_s"],
            **peak_memory(),
        }
    reference = run.checkpoint.get("extra", {}).get("data_provenance", {}).get("wall_time_per_event_s", {})
    result["reference_s_per_event"] = reference
    if reference:
        total = float(sum(reference.values()))
        largest = result["timings"][str(max(batches))]["us_per_event"] * 1e-6
        result["reference_total_s_per_event"] = total
        result["speedup_vs_reference"] = total / largest
    result["machine"] = machine_facts()
    return result
