"""PID tables from the reference simulation: Pythia 8 minimum-bias tracks in the LHCb acceptance through the
reference RICH (:mod:`mlfastsim.physics.detector.rich`); their resimulation; tiny synthetic tables for tests.

``mlfastsim generate pid`` runs :func:`generate_pid_file`; ``--resimulate FILE`` runs only the RICH again, with a
new seed, on FILE's tracks (same inputs and ids, new DLLs): the resimulation floor, per track.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import InputError, make_rng, progress, provenance, shard_seed
from mlfastsim.data.kinds.pid.container import SPECIES, PIDTable, concatenate_pid
from mlfastsim.data.kinds.pid.io import read_pid, write_pid
from mlfastsim.physics.detector.rich import RICHConfig, simulate_rich

__all__ = ["EXAMPLE_FRACTIONS", "example_pid", "generate_pid_file", "resimulate_pid"]

#: Species fractions of the synthetic example (e, μ, π, K, p): every species present even in tiny tables
#: (Pythia's minimum bias gives 0.5 % e and 0.05 % μ).
EXAMPLE_FRACTIONS = (0.1, 0.1, 0.4, 0.2, 0.2)


def _check_out(out: Path, n: int) -> None:
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise InputError(f"--out {out}: PID tables are written as HDF5; use the suffix .h5 or .hdf5")
    if out.is_dir():
        raise InputError(f"--out {out} is a directory; give a file path such as {out}/tracks.h5")
    if n <= 0:
        raise InputError(f"--events must be a positive number of tracks, got {n}")


def generate_pid_file(
    out: str | Path, n_tracks: int, seed: int = 1, shard: tuple[int, int] = (0, 1)
) -> dict[str, Any]:
    """Simulate ``n_tracks`` tracks (Pythia minimum bias → reference RICH) and write their table to ``out``.

    Args:
        out: ``.h5``/``.hdf5`` path, written atomically.
        n_tracks: rows of the table (tracks of successive collisions; the last collision cut).
        seed: job seed; shard ``(i, n)`` gets independent Pythia and RICH streams; ids ``i · 2³² + row``.

    Returns:
        Summary: path, tracks, collisions, species counts, and the wall time per track (s) of Pythia
        (``generation``) and of the RICH (``detector``).
    """
    from mlfastsim.data.generate import event_id
    from mlfastsim.physics.pid_tracks import MINIMUM_BIAS, generate_tracks

    out = Path(out)
    _check_out(out, n_tracks)
    rich = RICHConfig()
    pythia_seed = shard_seed(seed, shard[0], shard[1], "pythia")
    rng = make_rng(shard_seed(seed, shard[0], shard[1], "rich"))
    config = {
        "kind": "pid", "n_tracks": n_tracks, "shard": f"{shard[0]}/{shard[1]}", "pythia_seed": pythia_seed,
        "rich_seed": shard_seed(seed, shard[0], shard[1], "rich"), "generator": dataclasses.asdict(MINIMUM_BIAS),
        "rich": dataclasses.asdict(rich),
    }  # fmt: skip
    timing = {"generation": 0.0, "detector": 0.0}
    parts, dropped, done = [], 0, 0
    bar = progress(total=n_tracks, desc="generate pid")
    for batch in generate_tracks(n_tracks, pythia_seed, rich=rich):
        t = batch.tracks
        start = time.perf_counter()
        dll = simulate_rich(t["p"], t["eta"], t["n_tracks"], t["species"], rng, rich)["dll"]
        timing["detector"] += time.perf_counter() - start
        timing["generation"] += batch.generation_seconds
        ids = np.array([event_id(shard, done + i) for i in range(len(t))], np.int64)
        parts.append(
            PIDTable(
                p=t["p"], eta=t["eta"], n_tracks=t["n_tracks"], charge=t["charge"], species=t["species"],
                dll=dll, event_id=ids, collision=shard[0] * 2**32 + t["collision"],
            )
        )  # fmt: skip
        done, dropped = done + len(t), dropped + batch.dropped
        bar.update(len(t))
    bar.close()
    table = concatenate_pid(parts)
    table.attrs = provenance("mlfastsim generate pid", config, seed)
    per_track = {k: v / max(len(table), 1) for k, v in timing.items()}
    counts = {s: int((table.species == k).sum()) for k, s in enumerate(SPECIES)}
    n_collisions = len(np.unique(table.collision))
    table.attrs.update(
        wall_time_per_event_s=per_track,
        species_counts=counts,
        collisions=n_collisions,
        dropped_tracks=dropped,
    )
    write_pid(out, table)
    return {
        "path": str(out),
        "n_events": len(table),
        "collisions": n_collisions,
        "species": counts,
        **per_track,
    }


def resimulate_pid(source: str | Path, out: str | Path, seed: int) -> dict[str, Any]:
    """Run the RICH again, with ``seed``, on the tracks of ``source`` (same inputs, weights and ids, in order;
    new DLLs). Returns a summary like :func:`generate_pid_file` (RICH time only)."""
    table = read_pid(source)
    out = Path(out)
    _check_out(out, len(table))
    src_config = dict(table.attrs.get("config", {}))
    try:
        rich = RICHConfig(**{k: _radiator(v) for k, v in src_config.get("rich", {}).items()})
    except TypeError as exc:
        raise InputError(f"{source}: its RICH settings do not fit this version ({exc})") from None
    start = time.perf_counter()
    dll = simulate_rich(table.p, table.eta, table.n_tracks, table.species, make_rng(seed), rich)["dll"]
    seconds = time.perf_counter() - start
    result = dataclasses.replace(table, dll=dll)
    config = {**src_config, "resimulated_from": str(source), "rich": dataclasses.asdict(rich)}
    result.attrs = provenance("mlfastsim generate pid --resimulate", config, seed)
    result.attrs["wall_time_per_event_s"] = {"detector": seconds / len(table)}
    write_pid(out, result)
    return {"path": str(out), "n_events": len(result), **result.attrs["wall_time_per_event_s"]}


def _radiator(values: dict[str, Any]) -> Any:
    from mlfastsim.physics.detector.rich import RadiatorConfig

    return RadiatorConfig(**values)


def example_pid(n: int, seed: int) -> PIDTable:
    """``n`` synthetic tracks through the real reference RICH, no Pythia: reproducible from ``seed``.

    Species drawn with :data:`EXAMPLE_FRACTIONS`; p = 3 GeV/c + Exp(mean 20 GeV/c); η ~ U(2, 4.85) (inside the
    RICH); nTracks = 1 + Poisson(15); charge ±1 at random; weights 1; ids 0 … n − 1. The RICH's time per
    track is recorded (``wall_time_per_event_s``), as for generated files.
    """
    if n <= 0:
        raise InputError(f"example needs a positive number of tracks, got {n}")
    rng = make_rng(seed)
    species = rng.choice(len(SPECIES), size=n, p=EXAMPLE_FRACTIONS)
    p = 3.0 + rng.exponential(20.0, n)
    eta = rng.uniform(2.0, 4.85, n)
    n_tracks = 1 + rng.poisson(15.0, n)
    charge = rng.choice([-1, 1], n)
    start = time.perf_counter()
    dll = simulate_rich(p, eta, n_tracks, species, rng)["dll"]
    attrs = provenance("mlfastsim example pid", {"kind": "pid", "n": n}, seed)
    attrs["wall_time_per_event_s"] = {"detector": (time.perf_counter() - start) / n}
    return PIDTable(p=p, eta=eta, n_tracks=n_tracks, charge=charge, species=species, dll=dll, attrs=attrs)
