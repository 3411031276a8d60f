"""Produce jet-image data sets with the reference simulation: Pythia 8 → FastJet → parametric detector.

Also *resimulation*: run only the detector again, with a new seed, on the generator-level particles
stored in a file. A pair (file, resimulated file) gives the per-event noise floor of every metric.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import InputError, make_rng, progress, provenance, shard_seed
from mlfastsim.data.io import JetImageWriter, read_jet_images
from mlfastsim.data.schemas import JetImages
from mlfastsim.physics.detector import DetectorConfig, simulate_jet
from mlfastsim.physics.generation import generate_jets, get_preset

__all__ = ["event_id", "generate_jet_images", "parse_shard", "resimulate_jet_images"]

_BATCH = 128  # jets written per batch: bounds memory at ~25 MB of images


def event_id(shard: tuple[int, int], index: int) -> int:
    """The id of the ``index``-th event of shard ``(i, n)``: ``i · 2³² + index`` (unique across a job's shards)."""
    return shard[0] * 2**32 + index


def parse_shard(text: str) -> tuple[int, int]:
    """Parse ``"i/n"`` (0 ≤ i < n) into ``(i, n)``; one-line InputError otherwise."""
    try:
        i_text, n_text = text.split("/")
        index, count = int(i_text), int(n_text)
    except ValueError:
        raise InputError(f"--shard {text!r} is not of the form i/n (e.g. 0/4)") from None
    if count < 1 or not 0 <= index < count:
        raise InputError(f"--shard {text!r}: need n ≥ 1 and 0 ≤ i < n (e.g. 0/4 … 3/4)")
    return index, count


def _check_common(n_events: int, out: Path) -> None:
    if n_events <= 0:
        raise InputError(f"--events must be a positive number of jets, got {n_events}")
    if out.exists() and out.is_dir():
        raise InputError(f"--out {out} is a directory; give a file path such as {out}/jets.parquet")


def _batches(images: list[np.ndarray], meta: list[dict[str, Any]], gen: list[np.ndarray]) -> JetImages:
    return JetImages(
        event_id=np.array([m["event_id"] for m in meta], dtype=np.int64),
        images=np.stack(images),
        pt=np.array([m["pt"] for m in meta]),
        m0=np.array([m["m0"] for m in meta]),
        y=np.array([m["y"] for m in meta]),
        eta=np.array([m["eta"] for m in meta]),
        phi=np.array([m["phi"] for m in meta]),
        gen=gen,
    )


def _write_stream(
    out: Path,
    fmt: str | None,
    attrs: dict[str, Any],
    items: Iterator[tuple[np.ndarray, dict[str, Any], np.ndarray]],
    timing: dict[str, float],
) -> int:
    """Write (image, scalars, gen particles) items in batches; returns the number written.

    ``timing`` (total seconds per stage, filled while ``items`` runs) becomes the attribute
    ``wall_time_per_event_s`` before the file is closed.
    """
    images: list[np.ndarray] = []
    meta: list[dict[str, Any]] = []
    gen: list[np.ndarray] = []
    n = 0
    with JetImageWriter(out, fmt, attrs) as writer:
        for image, scalars, particles in items:
            images.append(image)
            meta.append(scalars)
            gen.append(particles)
            if len(images) == _BATCH:
                writer.write(_batches(images, meta, gen))
                n += len(images)
                images, meta, gen = [], [], []
        if images:
            writer.write(_batches(images, meta, gen))
            n += len(images)
        attrs["wall_time_per_event_s"] = {k: v / max(n, 1) for k, v in timing.items()}
        writer.attrs.update(attrs)
    return n


def generate_jet_images(
    out: str | Path,
    process: str,
    n_events: int,
    seed: int = 1,
    pileup_mu: float = 0.0,
    shard: tuple[int, int] = (0, 1),
    fmt: str | None = None,
    detector: DetectorConfig | None = None,
) -> dict[str, Any]:
    """Generate ``n_events`` jet images of ``process`` and write them atomically to ``out``.

    Args:
        out: output path (``.parquet`` or ``.h5``/``.hdf5``, or set ``fmt``).
        process: a preset of :data:`mlfastsim.physics.generation.PRESETS`.
        n_events: number of jets (one image per jet).
        seed: job seed; shard ``i`` of ``n`` uses independent streams derived from (seed, i, n).
        pileup_mu: mean number of pile-up minimum-bias interactions per event (Poisson).
        shard: ``(i, n)``, this job's shard.
        fmt: "parquet" or "hdf5"; None infers it from the suffix.
        detector: detector configuration (defaults: the documented reference detector).

    Returns:
        A summary: number of jets, wall time per jet for generation and detector (s), path.
    """
    out = Path(out)
    preset = get_preset(process)
    _check_common(n_events, out)
    if pileup_mu < 0:
        raise InputError(f"--pileup must be ≥ 0 (mean interactions per crossing), got {pileup_mu}")
    detector = detector or DetectorConfig()
    pythia_seed = shard_seed(seed, shard[0], shard[1], "pythia")
    rng = make_rng(shard_seed(seed, shard[0], shard[1], "detector"))
    timing = {"generation": 0.0, "detector": 0.0}
    n_done = [0]

    def items() -> Iterator[tuple[np.ndarray, dict[str, Any], np.ndarray]]:
        records = generate_jets(preset, n_events, pythia_seed, pileup_mu, progress_desc=f"generate {process}")
        for record in records:
            timing["generation"] += record.generation_seconds
            start = time.perf_counter()
            image, reaches = simulate_jet(record.particles, record.jet.eta, record.jet.phi, rng, detector)
            timing["detector"] += time.perf_counter() - start
            jet = record.jet
            scalars = {"pt": jet.pt, "m0": jet.mass, "y": record.y, "eta": jet.eta, "phi": jet.phi}
            scalars["event_id"] = event_id(shard, n_done[0])
            n_done[0] += 1
            yield image, scalars, record.particles[reaches]

    config = {
        "kind": "jet-images",
        "process": process,
        "preset": dataclasses.asdict(preset),
        "n_events": n_events,
        "pileup_mu": pileup_mu,
        "shard": f"{shard[0]}/{shard[1]}",
        "pythia_seed": pythia_seed,
        "detector": dataclasses.asdict(detector),
    }
    attrs = provenance("mlfastsim generate jet-images", config, seed)
    n = _write_stream(out, fmt, attrs, items(), timing)
    return {"path": str(out), "n_events": n, **attrs["wall_time_per_event_s"]}


def resimulate_jet_images(
    source: str | Path,
    out: str | Path,
    seed: int,
    fmt: str | None = None,
    detector: DetectorConfig | None = None,
) -> dict[str, Any]:
    """Run the detector again, with ``seed``, on the generator-level particles stored in ``source``.

    The output has the same jets, scalars and particles in the same order; only the detector response
    differs. Returns a summary like :func:`generate_jet_images`.
    """
    out = Path(out)
    jets = read_jet_images(source)
    if jets.gen is None or np.isnan(jets.eta).any():
        raise InputError(
            f"{source}: no generator-level particles or jet axes stored; resimulation needs a file made by "
            "'mlfastsim generate jet-images'"
        )
    _check_common(len(jets), out)
    src_config = jets.attrs.get("config", {})
    detector = detector or DetectorConfig(**src_config.get("detector", {}))
    rng = make_rng(seed)
    timing = {"detector": 0.0}

    def items() -> Iterator[tuple[np.ndarray, dict[str, Any], np.ndarray]]:
        assert jets.gen is not None and jets.eta is not None and jets.phi is not None
        for i in progress(range(len(jets)), desc="resimulate"):
            start = time.perf_counter()
            image, _ = simulate_jet(jets.gen[i], float(jets.eta[i]), float(jets.phi[i]), rng, detector)
            timing["detector"] += time.perf_counter() - start
            scalars = {
                "pt": jets.pt[i],
                "m0": jets.m0[i],
                "y": jets.y[i],
                "eta": jets.eta[i],
                "phi": jets.phi[i],
                "event_id": jets.event_id[i],
            }
            yield image, scalars, jets.gen[i]

    config = {**src_config, "resimulated_from": str(source), "detector": dataclasses.asdict(detector)}
    attrs = provenance("mlfastsim generate jet-images --resimulate", config, seed)
    n = _write_stream(out, fmt, attrs, items(), timing)
    return {"path": str(out), "n_events": n, **attrs["wall_time_per_event_s"]}
