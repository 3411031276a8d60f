"""What an evaluation suite of one data kind provides to the generic driver (:mod:`..driver`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Suite"]


@runtime_checkable
class Suite(Protocol):
    """The metrics, paired distances and plots of one data kind.

    The driver owns the floors (truth vs truth from a second reference sample or two halves; the
    resimulation floor from the same generator-level events simulated again), the pairing by event id,
    the JSON, the table and the HTML report; a suite only computes on the events it is given.
    """

    kind: str
    #: what the per-event distance of :meth:`paired_metrics` is, with its unit (axis label)
    per_event_label: str
    #: notes shown under the table in the report (what the metrics mean)
    notes: str

    def units(self) -> dict[str, str]:
        """Unit of each metric row that has one (for ``metrics.json``)."""
        ...

    def prepare_all(self, samples: Mapping[str, Any]) -> dict[str, Any]:
        """Everything computed once per sample (observables, point clouds, features), for all the samples of
        one evaluation at once, so that the suite can choose what they are compared on consistently (e.g. the
        particle-jet level every sample holds)."""
        ...

    def distribution_metrics(self, reference: Any, candidate: Any, seed: int) -> dict[str, Any]:
        """Rows of the table for one sample against the reference: distribution distances (W1, FPD, KPD,
        classifier AUCs ...), each a :class:`~mlfastsim.metrics.MetricResult` dict."""
        ...

    def paired_metrics(
        self, reference: Any, candidate: Any, seed: int, n_jobs: int
    ) -> tuple[dict[str, Any], np.ndarray]:
        """Event-by-event metrics of a candidate paired with the reference (same event ids, same order):
        table rows and the per-event distance ``[N]`` (plotted beside the resimulation floor)."""
        ...

    def plots(
        self,
        out_dir: Path,
        reference: Any,
        samples: Mapping[str, Any],
        per_event: Mapping[str, np.ndarray],
    ) -> list[Path]:
        """Write the kind's PNGs under ``out_dir / "plots"`` (``reference`` and ``samples``: prepared)."""
        ...
