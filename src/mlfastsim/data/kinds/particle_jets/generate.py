"""Particle-jet data sets: JetNet-like Pythia jets at generator and detector level, their resimulation, and
tiny synthetic two-level jets (no Pythia) for tests, benchmarks and export parity.

``mlfastsim generate particle-jets`` runs :func:`generate_particle_jet_file`: per jet of
:func:`mlfastsim.physics.particle_jets.generate_particle_jets`, the P highest-pT constituents of each level as
JetNet stores them (:func:`level_features`), the region of generator-level particles (the detector's input)
and the jet axis, written in batches (bounded memory) to our HDF5 layout
(:mod:`mlfastsim.data.kinds.particle_jets.io`). ``--resimulate FILE`` runs only the detector again, with a
new seed, on FILE's stored regions (:func:`resimulate_particle_jets`): the resimulation floor.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import InputError, make_rng, progress, provenance, shard_seed
from mlfastsim.data.kinds.particle_jets.container import PARTICLE_FEATURES, ParticleJets
from mlfastsim.data.kinds.particle_jets.io import iter_particle_jets
from mlfastsim.data.kinds.particle_jets.writer import open_particle_jet_writer
from mlfastsim.physics.kinematics import delta_phi, jet_pt_mass
from mlfastsim.physics.particles import PARTICLE_DTYPE

__all__ = [
    "example_particle_jets",
    "generate_particle_jet_file",
    "level_features",
    "reconstruct_regions",
    "resimulate_particle_jets",
]

_BATCH = 1024  # jets per written batch: ≤ 1024 × 150 × 4 × 4 B ≈ 2.5 MB per level, plus the regions


def level_features(constituents: np.ndarray, jet: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """One level of one jet in the JetNet convention.

    Args:
        constituents: structured ``[m]`` with fields ``pt`` (GeV), ``eta``, ``phi`` (rad), e.g.
            PARTICLE_DTYPE or RECO_DTYPE.
        jet: float64 ``[4]`` = (pT GeV, η, φ rad, mass GeV) of the jet; NaN for an unmatched reco jet.
        p: particle slots.

    Returns:
        float32 ``[p, 4]`` (η − η_jet, φ − φ_jet wrapped, pT / pT_jet, mask) of the ``p`` highest-pT
        constituents, zero-padded; float32 ``[4]`` jet features (pT, η, mass, particles kept) — all NaN
        (and no particles) when the jet is NaN.
    """
    out = np.zeros((p, len(PARTICLE_FEATURES)), np.float32)
    if not np.isfinite(jet).all():
        return out, np.full(4, np.nan, np.float32)
    kept = constituents[np.argsort(-constituents["pt"], kind="stable")[:p]]
    k = len(kept)
    out[:k, 0] = kept["eta"] - jet[1]
    out[:k, 1] = delta_phi(kept["phi"], jet[2])
    out[:k, 2] = kept["pt"] / jet[0]
    out[:k, 3] = 1.0
    return out, np.array([jet[0], jet[1], jet[3], k], np.float32)


class _Batch:
    """Jets collected one by one and written :data:`_BATCH` at a time."""

    def __init__(self, writer: Any) -> None:
        self.writer, self.n = writer, 0
        self.rows: list[dict[str, Any]] = []

    def add(self, **row: Any) -> None:
        self.rows.append(row)
        if len(self.rows) == _BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        cols = {key: [r[key] for r in self.rows] for key in self.rows[0]}
        arrays: dict[str, Any] = {k: np.stack(v) for k, v in cols.items() if k != "regions"}
        self.writer.write(ParticleJets(**arrays, regions=cols["regions"]))
        self.n += len(self.rows)
        self.rows = []


def _check_out(out: Path) -> None:
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise InputError(f"--out {out}: particle jets are written as HDF5; use the suffix .h5 or .hdf5")
    if out.is_dir():
        raise InputError(f"--out {out} is a directory; give a file path such as {out}/jets.h5")


def generate_particle_jet_file(
    out: str | Path,
    process: str,
    n_events: int,
    n_particles: int = 30,
    seed: int = 1,
    shard: tuple[int, int] = (0, 1),
) -> dict[str, Any]:
    """Generate ``n_events`` jets of ``process`` (g, q, t, w, z) at both levels and write them to ``out``.

    Args:
        out: ``.h5``/``.hdf5`` path, written atomically.
        n_events: jets (one per selected Pythia event). n_particles: P, slots per level (JetNet: 30, 150).
        seed: job seed; shard ``(i, n)`` gets the independent streams of ``generate_particle_jets``.

    Returns:
        Summary: path, jets, and the wall time per jet (s) of generation and detector.
    """
    from mlfastsim.physics.detector.pflow import PFlowConfig
    from mlfastsim.physics.generation.jetnet import get_jetnet_preset
    from mlfastsim.physics.particle_jets import MATCH_FRACTION, REGION_MARGIN, generate_particle_jets

    out = Path(out)
    preset = get_jetnet_preset(process)
    _check_out(out)
    if n_events <= 0:
        raise InputError(f"--events must be a positive number of jets, got {n_events}")
    if n_particles <= 0:
        raise InputError(f"--particles must be a positive number of slots per jet, got {n_particles}")
    from mlfastsim.data.generate import event_id

    config = {
        "kind": "particle-jets",
        "process": process,
        "preset": dataclasses.asdict(preset),
        "n_events": n_events,
        "n_particles": n_particles,
        "shard": f"{shard[0]}/{shard[1]}",
        "pythia_seed": shard_seed(seed, shard[0], shard[1], "pythia"),
        "detector_seed": shard_seed(seed, shard[0], shard[1], "detector"),
        "detector": dataclasses.asdict(PFlowConfig()),
        "region_margin": REGION_MARGIN,
        "match_fraction": MATCH_FRACTION,
    }
    attrs = provenance("mlfastsim generate particle-jets", config, seed)
    timing = {"generation": 0.0, "detector": 0.0}
    records = generate_particle_jets(process, n_events, seed, shard, progress_desc=f"generate {process}")
    with open_particle_jet_writer(out, attrs) as writer:
        batch = _Batch(writer)
        for index, record in enumerate(records):
            timing["generation"] += record.generation_seconds
            timing["detector"] += record.detector_seconds
            gen, gen_jets = level_features(record.gen_constituents, record.gen_jet, n_particles)
            reco, reco_jets = level_features(record.reco_constituents, record.reco_jet, n_particles)
            batch.add(
                gen=gen, gen_jets=gen_jets, reco=reco, reco_jets=reco_jets, y=np.float32(record.y),
                event_id=np.int64(event_id(shard, index)), regions=record.region,
                gen_axis=record.gen_jet[1:3],
            )  # fmt: skip
        batch.flush()
        writer.attrs["wall_time_per_event_s"] = {k: v / max(batch.n, 1) for k, v in timing.items()}
    return {"path": str(out), "n_events": batch.n, **writer.attrs["wall_time_per_event_s"]}


def resimulate_particle_jets(source: str | Path, out: str | Path, seed: int) -> dict[str, Any]:
    """Run the detector again, with ``seed``, on the regions stored in ``source``: the same gen level, event
    ids, labels, regions and axes in the same order, a new reco level. Returns a summary like
    :func:`generate_particle_jet_file` (detector time only)."""
    from mlfastsim.physics.detector.pflow import PFlowConfig
    from mlfastsim.physics.generation.jetnet import JETNET_RADIUS

    out = Path(out)
    _check_out(out)
    batches = iter_particle_jets(source, batch_size=_BATCH)
    first = next(batches, None)
    if first is None or first.regions is None or first.gen_axis is None or "gen" not in first.levels:
        raise InputError(
            f"{source}: no generator-level regions stored; resimulation needs a file made by "
            "'mlfastsim generate particle-jets'"
        )
    src_config = dict(first.attrs.get("config", {}))
    radius = float(src_config.get("preset", {}).get("jet_radius", JETNET_RADIUS))
    try:
        detector = PFlowConfig(**src_config.get("detector", {}))
    except TypeError as exc:
        raise InputError(f"{source}: its detector settings do not fit this version ({exc})") from None
    rng = make_rng(seed)
    config = {**src_config, "resimulated_from": str(source), "detector": dataclasses.asdict(detector)}
    attrs = provenance("mlfastsim generate particle-jets --resimulate", config, seed)
    seconds = 0.0

    def all_batches() -> Iterator[ParticleJets]:
        yield first
        yield from batches

    with open_particle_jet_writer(out, attrs) as writer:
        n = 0
        bar = progress(desc="resimulate")
        for jets in all_batches():
            reco_jets, spent = reconstruct_regions(jets, rng, detector, radius)
            seconds += spent
            writer.write(dataclasses.replace(reco_jets, attrs={}))
            n += len(jets)
            bar.update(len(jets))
        bar.close()
        writer.attrs["wall_time_per_event_s"] = {"detector": seconds / max(n, 1)}
    return {"path": str(out), "n_events": n, **writer.attrs["wall_time_per_event_s"]}


def reconstruct_regions(
    jets: ParticleJets, rng: np.random.Generator, detector: Any = None, radius: float | None = None
) -> tuple[ParticleJets, float]:
    """The detector (particle flow and jet clustering, :func:`~mlfastsim.physics.particle_jets.reconstruct_jet`)
    run on each jet's stored generator-level region: ``jets`` with a new reco level, and the detector's wall
    time [s] (reconstruction only). ``detector``: a ``PFlowConfig`` (default settings when None); ``radius``:
    the jet radius (JetNet's when None)."""
    from mlfastsim.physics.generation.jetnet import JETNET_RADIUS
    from mlfastsim.physics.particle_jets import reconstruct_jet

    if jets.regions is None or jets.gen_axis is None or "gen" not in jets.levels:
        raise InputError("no generator-level regions stored; resimulation needs them")
    p, seconds = jets.n_particles, 0.0
    reco = np.zeros((len(jets), p, 4), np.float32)
    reco_jets = np.zeros((len(jets), 4), np.float32)
    gen_jets = jets.jets("gen")
    for i, region in enumerate(jets.regions):
        gen_jet = np.array([gen_jets[i, 0], *jets.gen_axis[i], gen_jets[i, 2]], np.float64)
        start = time.perf_counter()
        reco_jet, constituents = reconstruct_jet(
            region, gen_jet, JETNET_RADIUS if radius is None else radius, rng, detector
        )
        seconds += time.perf_counter() - start
        reco[i], reco_jets[i] = level_features(constituents, reco_jet, p)
    return dataclasses.replace(jets, reco=reco, reco_jets=reco_jets), seconds


def _example_jet(rng: np.random.Generator, two_prong: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Massless generator-level constituents of one synthetic ≈ 1 TeV jet (PARTICLE_DTYPE, decreasing pT),
    its axis (η, φ) and two soft particles outside the jet (the rest of the region)."""
    n = int(rng.integers(10, 31))
    axis = np.array([rng.uniform(-1.5, 1.5), rng.uniform(-np.pi, np.pi)])
    z = rng.pareto(1.5, n) + 1.0  # falling pT-fraction spectrum
    z = np.sort(z / z.sum())[::-1]
    prong = np.zeros((n, 2))
    if two_prong:  # a boosted resonance: a second prong ΔR ≈ 0.3–0.5 away carries the softer half
        angle = rng.uniform(0, 2 * np.pi)
        offset = rng.uniform(0.3, 0.5) * np.array([np.cos(angle), np.sin(angle)])
        prong[rng.random(n) < 0.4] = offset
    spread = 0.02 + 0.05 * np.sqrt(z.min() / z)  # harder particles closer to their prong axis
    p = np.zeros(n + 2, PARTICLE_DTYPE)
    p["pt"][:n] = z * rng.uniform(900.0, 1100.0)
    p["eta"][:n] = axis[0] + prong[:, 0] + rng.normal(0, 1, n) * spread
    p["phi"][:n] = axis[1] + prong[:, 1] + rng.normal(0, 1, n) * spread
    p["in_jet"][:n] = True
    p["pt"][n:] = rng.uniform(1.0, 3.0, 2)
    p["eta"][n:] = axis[0] + rng.uniform(-1.1, 1.1, 2)
    p["phi"][n:] = axis[1] + rng.choice([-1.0, 1.0], 2) * rng.uniform(0.9, 1.1, 2)
    p["phi"] = np.asarray(delta_phi(p["phi"], 0.0))
    p["e"] = p["pt"] * np.cosh(p["eta"])
    charged = rng.random(n + 2) < 0.65
    p["pdgid"] = np.where(charged, 211, 22)
    p["charge"] = np.where(charged, rng.choice([-1.0, 1.0], n + 2), 0.0)
    return p[:n], axis, p


def _jet_of(particles: np.ndarray) -> np.ndarray:
    """(pT, η, φ, mass) of the massless constituents' sum (η, φ of the summed momentum)."""
    px, py = (
        (particles["pt"] * np.cos(particles["phi"])).sum(),
        (particles["pt"] * np.sin(particles["phi"])).sum(),
    )
    pz = (particles["pt"] * np.sinh(particles["eta"])).sum()
    pt, mass = jet_pt_mass(particles["eta"], particles["phi"], particles["pt"])
    return np.array([pt, np.arcsinh(pz / pt), np.arctan2(py, px), mass])


def example_particle_jets(n: int, seed: int, n_particles: int = 30) -> ParticleJets:
    """``n`` tiny synthetic jets at both levels, no Pythia: reproducible from ``seed``.

    Generator level: 10–30 massless particles (65 % charged pions, photons) around the axis with a
    falling pT fraction; odd jets (y = 1) have a second prong (a resonance-like mass), even ones (y = 0)
    one. Detector level: each particle kept with probability 0.9 (0.6 below 1 % of the jet pT), pT smeared
    by 5 %, η and φ by 0.01; about 5 % of reco jets unmatched (NaN). Regions: the constituents plus two
    soft particles outside the jet; gen_axis the gen jet's (η, φ).
    """
    if n <= 0:
        raise InputError(f"example needs a positive number of jets, got {n}")
    rng = make_rng(seed)
    levels: dict[str, list[np.ndarray]] = {k: [] for k in ("gen", "gen_jets", "reco", "reco_jets")}
    regions, axes = [], []
    y = (np.arange(n) % 2).astype(np.float32)
    for i in range(n):
        constituents, _, region = _example_jet(rng, bool(y[i]))
        gen_jet = _jet_of(constituents)
        keep = rng.random(len(constituents)) < np.where(constituents["pt"] > 0.01 * gen_jet[0], 0.9, 0.6)
        keep[0] = True
        reco_p = constituents[keep].copy()
        reco_p["pt"] *= rng.normal(1.0, 0.05, len(reco_p)).clip(0.5)
        reco_p["eta"] += rng.normal(0, 0.01, len(reco_p))
        reco_p["phi"] = delta_phi(reco_p["phi"] + rng.normal(0, 0.01, len(reco_p)), 0.0)
        reco_jet = _jet_of(reco_p) if rng.random() > 0.05 else np.full(4, np.nan)
        for level, parts, jet in (("gen", constituents, gen_jet), ("reco", reco_p, reco_jet)):
            feats, jet_feats = level_features(parts, jet, n_particles)
            levels[level].append(feats)
            levels[f"{level}_jets"].append(jet_feats)
        regions.append(region)
        axes.append(gen_jet[1:3])
    attrs = provenance("mlfastsim example particle-jets", {"kind": "particle-jets", "n": n}, seed)
    attrs["config"].update(process="example", n_particles=n_particles)
    return ParticleJets(
        **{k: np.stack(v) for k, v in levels.items()},
        y=y,
        event_id=np.arange(n, dtype=np.int64),
        regions=regions,
        gen_axis=np.stack(axes),
        attrs=attrs,
    )
