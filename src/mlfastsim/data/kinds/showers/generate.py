"""Shower data sets from the LHCb-like ECAL reference simulation, their resimulation, and tiny examples.

``mlfastsim generate showers`` runs :func:`generate_shower_file`: photons and electrons from the interaction
point into the inner ECAL region (:func:`~mlfastsim.physics.detector.lhcb_ecal.inner_face_particles`), their
showers on the 30 × 30 window (:func:`~mlfastsim.physics.detector.lhcb_ecal.simulate_showers`), written in
batches. ``--resimulate FILE`` simulates FILE's particles again with a new seed (same conditions, event ids
and species): the resimulation floor. The cost per shower is measured and stored (``wall_time_per_event_s``).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import InputError, make_rng, progress, provenance, shard_seed
from mlfastsim.data.kinds.showers.container import Showers
from mlfastsim.data.kinds.showers.io import iter_showers, open_shower_writer
from mlfastsim.physics.detector.lhcb_ecal import (
    SHASHLIK,
    ShowerConfig,
    inner_face_particles,
    simulate_showers,
    window_frame,
)
from mlfastsim.physics.detector.lhcb_ecal_constants import ECAL_FACE_Z_MM, ENERGY_RANGE_GEV

__all__ = [
    "SPECIES",
    "example_showers",
    "generate_shower_file",
    "resimulate_events",
    "resimulate_showers",
    "simulate_batch",
]

#: Particle species of the gun.
SPECIES = ("gamma", "e")
_BATCH = 4096  # showers per written batch: 4096 × 900 × 4 B ≈ 15 MB


def _check_out(out: Path) -> None:
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise InputError(f"--out {out}: showers are written as HDF5; use the suffix .h5 or .hdf5")
    if out.is_dir():
        raise InputError(f"--out {out} is a directory; give a file path such as {out}/showers.h5")


def simulate_batch(
    face_xy: np.ndarray, momentum: np.ndarray, pdg: np.ndarray, rng: np.random.Generator, config: ShowerConfig
) -> np.ndarray:
    """Showers ``[n, G, G]`` of particles entering at ``face_xy [n, 2]`` (global, mm) with ``momentum [n, 3]``."""
    return simulate_showers(window_frame(face_xy, config.cell_mm)[1], momentum, pdg, rng, config)


def _conditions(face_xy: np.ndarray, momentum: np.ndarray) -> np.ndarray:
    face_z = np.full((len(face_xy), 1), ECAL_FACE_Z_MM)
    return np.concatenate([face_xy, face_z, momentum], axis=1)


def generate_shower_file(
    out: str | Path,
    n_events: int,
    seed: int = 1,
    shard: tuple[int, int] = (0, 1),
    species: tuple[str, ...] = SPECIES,
    energy_range: tuple[float, float] = ENERGY_RANGE_GEV,
    config: ShowerConfig | None = None,
) -> dict[str, Any]:
    """Simulate ``n_events`` showers (equal shares of ``species``) and write them atomically to ``out``.

    Args:
        out: ``.h5``/``.hdf5`` path. seed, shard: shard ``(i, n)`` draws independent streams from (seed, i, n)
            and numbers its showers ``i · 2³² + index``. energy_range: [GeV], flat in ln E.

    Returns:
        Summary: path, showers, and the wall time per shower (s) of the particle gun and the shower model.
    """
    from mlfastsim.data.generate import event_id

    out = Path(out)
    _check_out(out)
    if n_events <= 0:
        raise InputError(f"--events must be a positive number of showers, got {n_events}")
    bad = [s for s in species if s not in SPECIES]
    if bad or not species:
        raise InputError(f"--particles {','.join(species)}: choose from {', '.join(SPECIES)} (e.g. gamma,e)")
    lo, hi = energy_range
    if not 0 < lo < hi:
        raise InputError(f"--energy {lo},{hi}: need 0 < min < max (GeV)")
    config = config or ShowerConfig()
    rng = make_rng(shard_seed(seed, shard[0], shard[1], "showers"))
    settings = {
        "kind": "showers", "n_events": n_events, "shard": f"{shard[0]}/{shard[1]}", "species": list(species),
        "energy_range_gev": [lo, hi], "detector": dataclasses.asdict(config),
        "calorimeter": dataclasses.asdict(SHASHLIK),
    }  # fmt: skip
    attrs = provenance("mlfastsim generate showers", settings, seed)
    timing = {"generation": 0.0, "detector": 0.0}
    bar = progress(total=n_events, desc="generate showers")
    with open_shower_writer(out, attrs) as writer:
        for start in range(0, n_events, _BATCH):
            m = min(_BATCH, n_events - start)
            t0 = time.perf_counter()
            gun = inner_face_particles(m, rng, tuple(species), (lo, hi))
            t1 = time.perf_counter()
            response = simulate_batch(gun.face_xy, gun.momentum, gun.pdg, rng, config)
            timing["generation"] += t1 - t0
            timing["detector"] += time.perf_counter() - t1
            ids = np.array([event_id(shard, start + i) for i in range(m)], np.int64)
            writer.write(Showers(_conditions(gun.face_xy, gun.momentum), response, ids, gun.pdg))
            bar.update(m)
        bar.close()
        writer.attrs["wall_time_per_event_s"] = {k: v / n_events for k, v in timing.items()}
    return {"path": str(out), "n_events": n_events, **writer.attrs["wall_time_per_event_s"]}


def _detector_config(attrs: dict[str, Any], where: str) -> ShowerConfig:
    """The detector settings recorded in a shower set's attributes (defaults when none are recorded)."""
    config = attrs.get("config", {})
    settings = config.get("detector", {}) if isinstance(config, dict) else {}
    try:
        return ShowerConfig(**settings)
    except TypeError as exc:
        raise InputError(f"{where}: its detector settings do not fit this version ({exc})") from None


def resimulate_events(showers: Showers, seed: int) -> Showers:
    """``showers``' particles through the reference ECAL again (their recorded detector settings, new
    ``seed``): the same conditions, ids and species, new maps. In memory (``mlfastsim bench`` times it)."""
    if len(showers) and not (showers.pdg != 0).all():
        raise InputError(
            "these showers carry no particle species; resimulation needs showers of the reference"
        )
    config = _detector_config(showers.attrs, "these showers")
    point = showers.point.astype(np.float64)
    rng = make_rng(seed)
    response = simulate_batch(point[:, :2], showers.momentum.astype(np.float64), showers.pdg, rng, config)
    return Showers(showers.conditions, response, showers.event_id, showers.pdg)


def resimulate_showers(source: str | Path, out: str | Path, seed: int) -> dict[str, Any]:
    """Simulate the particles of ``source`` again with ``seed``: same conditions, ids and species, in order,
    with the source's detector settings. Returns a summary like :func:`generate_shower_file` (detector only)."""
    out = Path(out)
    _check_out(out)
    batches = iter_showers(source, batch_size=_BATCH)
    first = next(batches, None)
    if first is None or not (first.pdg != 0).all():
        raise InputError(
            f"{source}: no particle species stored; resimulation needs a file made by 'mlfastsim generate showers'"
        )
    src = dict(first.attrs.get("config", {}))
    config = _detector_config(first.attrs, str(source))
    rng = make_rng(seed)
    attrs = provenance(
        "mlfastsim generate showers --resimulate", {**src, "resimulated_from": str(source)}, seed
    )
    seconds, n = 0.0, 0
    with open_shower_writer(out, attrs) as writer:
        for showers in (first, *batches):
            t0 = time.perf_counter()
            point = showers.point.astype(np.float64)
            response = simulate_batch(
                point[:, :2], showers.momentum.astype(np.float64), showers.pdg, rng, config
            )
            seconds += time.perf_counter() - t0
            writer.write(Showers(showers.conditions, response, showers.event_id, showers.pdg))
            n += len(showers)
        writer.attrs["wall_time_per_event_s"] = {"detector": seconds / max(n, 1)}
    return {"path": str(out), "n_events": n, **writer.attrs["wall_time_per_event_s"]}


def example_showers(n: int, seed: int) -> Showers:
    """``n`` reference showers (photons and electrons, 2–100 GeV) from the real simulation, reproducible from
    ``seed`` (≈1 ms each): for tests, benchmarks and export parity."""
    if n <= 0:
        raise InputError(f"example needs a positive number of showers, got {n}")
    rng = make_rng(seed)
    config = ShowerConfig()
    gun = inner_face_particles(n, rng)
    response = simulate_batch(gun.face_xy, gun.momentum, gun.pdg, rng, config)
    settings = {"kind": "showers", "n": n, "detector": dataclasses.asdict(config)}
    attrs = provenance("mlfastsim example showers", settings, seed)
    return Showers(
        _conditions(gun.face_xy, gun.momentum), response, np.arange(n, dtype=np.int64), gun.pdg, attrs
    )
