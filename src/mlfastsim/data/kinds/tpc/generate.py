"""TPC window data sets: ``mlfastsim generate tpc`` (segments with uniform parameters through the reference
pad-row simulation, :mod:`mlfastsim.physics.detector.tpc`), their resimulation (the same segments, a new
seed: the per-event floor) and small examples for tests, benchmarks and export parity.

The cost per segment of the simulation alone is stored in the file's ``wall_time_per_event_s``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import InputError, make_rng, progress, provenance, shard_seed
from mlfastsim.data.kinds.tpc.container import TPCWindows
from mlfastsim.data.kinds.tpc.io import open_tpc_writer, read_tpc_windows
from mlfastsim.physics.detector.tpc import TPCConfig, sample_segments, simulate_windows

__all__ = ["example_tpc_windows", "generate_tpc_file", "resimulate_tpc_file", "simulate_tpc"]

_BATCH = 8192  # segments per written batch (≈ 4 MB of windows)


def _check_out(out: Path) -> None:
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise InputError(f"--out {out}: TPC windows are written as HDF5; use the suffix .h5 or .hdf5")
    if out.is_dir():
        raise InputError(f"--out {out} is a directory; give a file path such as {out}/tpc.h5")


def simulate_tpc(
    conditions: np.ndarray, rng: np.random.Generator, event_id: np.ndarray, config: TPCConfig | None = None
) -> tuple[TPCWindows, float]:
    """The windows of ``conditions``' segments ``[N, 5]`` with their ids, and the simulation's wall time [s]."""
    start = time.perf_counter()
    r = simulate_windows(conditions, rng, config)
    seconds = time.perf_counter() - start
    return TPCWindows(r.adc, conditions, r.pad_offset, r.time_offset, r.crossing, event_id), seconds


def _write(
    out: Path,
    attrs: dict[str, Any],
    conditions: np.ndarray,
    ids: np.ndarray,
    seed: int,
    config: TPCConfig,
    desc: str,
) -> dict[str, Any]:
    rng = make_rng(seed)
    seconds = 0.0
    with open_tpc_writer(out, attrs) as writer:
        bar = progress(total=len(conditions), desc=desc)
        for start in range(0, len(conditions), _BATCH):
            sl = slice(start, start + _BATCH)
            windows, dt = simulate_tpc(conditions[sl], rng, ids[sl], config)
            seconds += dt
            writer.write(windows)
            bar.update(len(windows))
        bar.close()
        writer.attrs["wall_time_per_event_s"] = {"detector": seconds / max(len(conditions), 1)}
    return {"path": str(out), "n_events": len(conditions), **writer.attrs["wall_time_per_event_s"]}


def generate_tpc_file(
    out: str | Path, n_events: int, seed: int = 1, shard: tuple[int, int] = (0, 1), row: int | None = None
) -> dict[str, Any]:
    """Simulate ``n_events`` segments (uniform parameters, :func:`~mlfastsim.physics.detector.tpc.sample_segments`)
    and write them to ``out`` (HDF5, atomic). Shard ``(i, n)`` of a job gets independent streams and the
    ids ``i · 2³² + index``. Returns the path, the count and the simulation's cost per segment [s]."""
    from mlfastsim.data.generate import event_id

    out = Path(out)
    _check_out(out)
    if n_events <= 0:
        raise InputError(f"--events must be a positive number of track segments, got {n_events}")
    config = TPCConfig()
    segment_seed = shard_seed(seed, shard[0], shard[1], "segments")
    detector_seed = shard_seed(seed, shard[0], shard[1], "detector")
    conditions = sample_segments(n_events, make_rng(segment_seed), row)
    ids = np.array([event_id(shard, i) for i in range(n_events)], dtype=np.int64)
    settings = {
        "kind": "tpc", "n_events": n_events, "shard": f"{shard[0]}/{shard[1]}", "row": row,
        "segment_seed": segment_seed, "detector_seed": detector_seed, "detector": config.to_dict(),
    }  # fmt: skip
    attrs = provenance("mlfastsim generate tpc", settings, seed)
    return _write(out, attrs, conditions, ids, detector_seed, config, "simulate tpc")


def resimulate_tpc_file(source: str | Path, out: str | Path, seed: int) -> dict[str, Any]:
    """Run the pad-row simulation again, with ``seed``, on the segments of ``source``: the same conditions,
    offsets, crossing points and event ids in the same order, new windows."""
    out = Path(out)
    _check_out(out)
    ev = read_tpc_windows(source)
    src = dict(ev.attrs.get("config", {}))
    known = set(TPCConfig.__dataclass_fields__)
    config = TPCConfig(**{k: v for k, v in src.get("detector", {}).items() if k in known})
    settings = {**src, "resimulated_from": str(source), "detector": dataclasses.asdict(config)}
    attrs = provenance("mlfastsim generate tpc --resimulate", settings, seed)
    return _write(out, attrs, ev.conditions, ev.event_id, seed, config, "resimulate tpc")


def example_tpc_windows(n: int, seed: int) -> TPCWindows:
    """``n`` segments through the real pad-row simulation (it is fast: about 0.3 ms per segment)."""
    if n <= 0:
        raise InputError(f"example needs a positive number of segments, got {n}")
    rng = make_rng(seed)
    config = TPCConfig()
    windows, seconds = simulate_tpc(sample_segments(n, rng), rng, np.arange(n, dtype=np.int64), config)
    windows.attrs = provenance(
        "mlfastsim example tpc", {"kind": "tpc", "n": n, "detector": config.to_dict()}, seed
    )
    windows.attrs["wall_time_per_event_s"] = {"detector": seconds / n}
    return windows
