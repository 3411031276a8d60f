"""The Protocols of a data kind: its events container, its codec and the kind itself (DESIGN.md, "Target
architecture"). A kind bundles everything the drivers need to know about one sort of data."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from torch import Tensor

__all__ = ["Codec", "DataKind", "DataSettings", "Events", "Resimulating"]

Batch = dict[str, Tensor]


@runtime_checkable
class Events(Protocol):
    """A set of events of one kind (``JetImages``, ``ParticleJets``, ...).

    ``event_id`` (int64 ``[N]``) travels with every container: resimulation, conditional sampling and
    reconstruction keep it, so paired metrics match events by id. ``attrs``: provenance (JSON types).
    """

    attrs: dict[str, Any]
    event_id: np.ndarray

    def __len__(self) -> int: ...

    def subset(self, index: Any) -> Any:
        """The events selected by a slice, boolean mask or integer array (same type as ``self``)."""
        ...


@runtime_checkable
class DataSettings(Protocol):
    """The fields every kind's data config has (the run layer reads them; the rest is the kind's own)."""

    val_fraction: float
    max_events: int | None


@runtime_checkable
class Codec(Protocol):
    """Fitted on the training split, stored in the checkpoint: physical events ↔ normalised model tensors."""

    def encode(self, ev: Any, keys: frozenset[str]) -> Batch:
        """The batch keys ``keys`` of every event (normalised tensors with ``len(ev)`` rows)."""
        ...

    def conditions(self, ev: Any, keys: frozenset[str]) -> Batch:
        """What a conditional model is given to generate ``ev``'s events (the condition keys among ``keys``)."""
        ...

    def decode(self, out: Batch, like: Any | None) -> Any:
        """A model's output batch back in physical units, as the kind's container. With ``like`` (the events
        the output was conditioned on or reconstructed from) the result keeps their ids and kinematics."""
        ...

    def model_fields(self) -> dict[str, Any]:
        """Data-dependent model settings (``n_features``, ``n_cond``, grids, normalisations, ...)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (stored in checkpoints); the kind's ``load_codec`` reads it back."""
        ...


@runtime_checkable
class DataKind(Protocol):
    """One kind of data: files, container, codec, inspection and generation."""

    name: str
    summary: str
    #: the file suffix written by default (e.g. ".parquet", ".h5")
    default_suffix: str
    #: the kind's data config dataclass (fields of ``[data]`` in a run config); has :class:`DataSettings`.
    data_config: type

    def sniff(self, path: Path) -> bool:
        """True when ``path`` holds this kind (from its content, not its name)."""
        ...

    def read(self, path: str | Path, max_events: int | None = None) -> Any: ...

    def write(self, path: str | Path, ev: Any) -> None:
        """Atomically, in the format the suffix names."""
        ...

    def concatenate(self, parts: list[Any]) -> Any: ...

    def select(self, ev: Any, data: Any, where: str) -> Any:
        """The events a run trains on (e.g. one label), checked to be enough; one-line InputError otherwise."""
        ...

    def fit_codec(self, train: Any, data: Any) -> Codec: ...

    def load_codec(self, state: Mapping[str, Any]) -> Codec: ...

    def inspect(self, path: str | Path, max_events: int | None = None) -> dict[str, Any]: ...

    def format_inspection(self, summary: Mapping[str, Any]) -> str: ...

    def example(self, n: int, seed: int) -> Any:
        """Tiny synthetic events for tests, benchmarks and export parity (no Pythia needed)."""
        ...

    def add_generate_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The options of ``mlfastsim generate <kind>``."""
        ...

    def generate(self, args: argparse.Namespace) -> dict[str, Any]:
        """Run ``mlfastsim generate <kind>`` with the parsed options; returns a JSON-ready summary."""
        ...


@runtime_checkable
class Resimulating(Protocol):
    """A kind whose reference simulation can be run again in memory on stored events (a declared
    capability: ``mlfastsim bench`` times it per event beside every run of the kind, in the same process)."""

    def resimulate(self, ev: Any, seed: int) -> Any:
        """``ev``'s events through the kind's reference detector again, with ``seed``: the same inputs
        (generator-level particles, tracks, segments, ...) and event ids, a new detector response, as the
        kind's container. The time of this call is what a fast surrogate replaces."""
        ...
