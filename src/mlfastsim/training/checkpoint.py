"""Run-dir files: the metrics log; the checkpoint format itself lives in ``_utils.checkpoint``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlfastsim._utils import atomic_write_text, jsonable
from mlfastsim._utils.checkpoint import (
    CHECKPOINT_FORMAT,
    load_checkpoint,
    restore_rng_state,
    rng_state,
    save_checkpoint,
    unwrap_model,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "MetricsLog",
    "load_checkpoint",
    "restore_rng_state",
    "rng_state",
    "save_checkpoint",
    "unwrap_model",
]


class MetricsLog:
    """``metrics.jsonl``: one JSON object per line, appended and flushed per line (no-op when disabled)."""

    def __init__(self, path: str | Path, enabled: bool = True) -> None:
        self.path, self.enabled = Path(path), enabled

    def append(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` as one line (inf / NaN as strings, see :func:`mlfastsim._utils.jsonable`)."""
        if self.enabled:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(jsonable(dict(record))) + "\n")
                fh.flush()

    def reset(self, keep: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """Empty the log, or (atomically) keep only the records for which ``keep(record)`` is true."""
        if not self.enabled:
            return
        lines = self.path.read_text(encoding="utf-8").splitlines() if keep and self.path.exists() else []
        kept = [line for line in lines if line.strip() and keep and keep(json.loads(line))]
        atomic_write_text(self.path, "".join(line + "\n" for line in kept))
