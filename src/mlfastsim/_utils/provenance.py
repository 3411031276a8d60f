"""Provenance recorded in every output: producer, package version, configuration, seed, time, host."""

from __future__ import annotations

import datetime as _dt
import math
import platform
from typing import Any

import numpy as np

__all__ = ["jsonable", "package_version", "provenance"]


def jsonable(value: Any) -> Any:
    """``value`` with tuples as lists, numpy scalars as Python numbers and ±inf/NaN as strings.

    Strict JSON has no Infinity or NaN; ``"inf"``, ``"-inf"`` and ``"nan"`` round-trip through
    ``float()``.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        value = value.item()  # a numpy scalar as the Python number
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def package_version() -> str:
    """The installed mlfastsim version string."""
    from mlfastsim import __version__

    return __version__


def provenance(
    producer: str, config: dict[str, Any] | None = None, seed: int | None = None
) -> dict[str, Any]:
    """A JSON-serialisable provenance record.

    Args:
        producer: what wrote the output, e.g. ``"mlfastsim generate jet-images"``.
        config: the resolved configuration (plain JSON types).
        seed: the seed used, or None.
    """
    return {
        "producer": producer,
        "package": "mlfastsim",
        "version": package_version(),
        "config": jsonable(config or {}),
        "seed": seed,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
