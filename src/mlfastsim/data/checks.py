"""Values a reader refuses, for every data kind: NaN and ±inf anywhere, negative energies where a container
declares them, each reported with the event index — at the door, not deep inside a metric.

Every floating array of a container whose first axis runs over the events is checked; a container says
where NaN marks a missing value and which values are energies (or other non-negative quantities) with a
``value_checks`` class attribute (:class:`DeclaresValueChecks`). A kind that declares nothing gets the
strict default: every floating value finite. A scalar quantity (a field ``[N]`` or a column of a field
``[N, C]``) that is NaN in every event is "unknown" — the kinematics of samples drawn from a model's prior —
and passes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from mlfastsim._utils import InputError

if TYPE_CHECKING:
    from mlfastsim.data.kinds.base import DataKind

__all__ = ["DeclaresValueChecks", "ValueCheck", "check_events", "read_events"]


@dataclass(frozen=True)
class ValueCheck:
    """What one field of a container may hold.

    Attributes:
        nan_ok: NaN marks a missing value in this field (±inf is still refused).
        nonnegative: True: every value must be ≥ 0; a tuple: those columns of the last axis (e.g. the pT
            column of particle features); False: any sign.
        what: what the field holds, for the message (e.g. "pixel energies [GeV]").
    """

    nan_ok: bool = False
    nonnegative: bool | tuple[int, ...] = False
    what: str = ""


@runtime_checkable
class DeclaresValueChecks(Protocol):
    """A container that says, per field, what its values may be (fields it does not name: all finite)."""

    value_checks: ClassVar[Mapping[str, ValueCheck]]


def _problems(values: np.ndarray, rule: ValueCheck) -> list[tuple[str, np.ndarray]]:
    flat = values.reshape(len(values), -1)
    found = [("±inf", np.isinf(flat).any(axis=1))]
    if not rule.nan_ok:
        nan = np.isnan(flat)
        if values.ndim <= 2:  # a quantity NaN in every event is unknown (e.g. prior samples' kinematics)
            nan &= ~nan.all(axis=0, keepdims=True)
        found.insert(0, ("NaN", nan.any(axis=1)))
    if rule.nonnegative is not False:
        part = values if rule.nonnegative is True else values[..., list(rule.nonnegative)]
        found.append(("negative values", (part.reshape(len(values), -1) < 0).any(axis=1)))
    return [(name, rows) for name, rows in found if rows.any()]


def check_events(ev: Any, where: str) -> Any:
    """``ev`` unchanged when its values are valid; otherwise a one-line InputError naming the first bad
    event (index and event id), the field, what is wrong and how many events are affected."""
    if not dataclasses.is_dataclass(ev) or isinstance(ev, type):
        return ev
    n = len(ev)  # type: ignore[arg-type]  # a container has a length
    rules: Mapping[str, ValueCheck] = ev.value_checks if isinstance(ev, DeclaresValueChecks) else {}
    fields = dataclasses.fields(ev)
    ids = next((getattr(ev, f.name) for f in fields if f.name == "event_id"), None)  # a container's field
    for f in fields:
        values = getattr(ev, f.name)
        if not (
            isinstance(values, np.ndarray) and values.dtype.kind == "f" and values.ndim and len(values) == n
        ):
            continue
        rule = rules.get(f.name, ValueCheck())
        for problem, rows in _problems(values, rule):
            first = int(np.flatnonzero(rows)[0])
            ident = f" (event_id {int(ids[first])})" if isinstance(ids, np.ndarray) and len(ids) == n else ""
            what = f" ({rule.what})" if rule.what else ""
            raise InputError(
                f"{where}: event {first}{ident}: {f.name}{what} has {problem} ({int(rows.sum())} of {n} "
                "events); the file is corrupt or was written wrongly — regenerate it or drop those events"
            )
    return ev


def read_events(kind: DataKind, path: str | Path, max_events: int | None = None) -> Any:
    """``kind.read(path, max_events)`` with its values checked (:func:`check_events`): what every driver
    (train, sample, score, evaluate, bench) reads through."""
    return check_events(kind.read(path, max_events=max_events), str(path))
