"""Run-dir files: the metrics log; the checkpoint format itself lives in ``_utils.checkpoint``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlfastsim._utils import InputError, atomic_write_text, jsonable
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
        """Empty the log, or (atomically) keep only the records for which ``keep(record)`` is true.

        A last line without its newline is a torn append (a crash or a full disk while writing it) and is
        dropped; any other line that is not JSON is a one-line InputError (the log was edited or damaged).
        """
        if not self.enabled:
            return
        text = self.path.read_text(encoding="utf-8") if keep and self.path.exists() else ""
        lines = text.splitlines()
        if lines and not text.endswith("\n"):
            lines.pop()  # torn: never completed, so never part of the run's record
        kept = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise InputError(
                    f"{self.path} line {number} is not a JSON record; repair or remove that line to resume"
                ) from None
            if keep is not None and keep(record):
                kept.append(line)
        atomic_write_text(self.path, "".join(line + "\n" for line in kept))
