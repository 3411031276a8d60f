"""Provenance recorded in every output: producer, package version, configuration, seed, time, host."""

from __future__ import annotations

import datetime as _dt
import platform
from typing import Any

__all__ = ["package_version", "provenance"]


def package_version() -> str:
    """The installed mlfastsim version string."""
    from mlfastsim import __version__

    return __version__


def provenance(producer: str, config: dict[str, Any] | None = None, seed: int | None = None) -> dict[str, Any]:
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
        "config": config or {},
        "seed": seed,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
