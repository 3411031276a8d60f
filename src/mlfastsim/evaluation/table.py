"""The metrics table of an evaluation, as text: floors in their own columns, candidates side by side."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["FLOOR", "NOT_SIMULATED", "RESIM", "cell", "format_table", "table_layout"]

#: Column names of the two floors in tables and ``metrics.json``.
FLOOR = "truth vs truth"
RESIM = "resimulation"


#: Cell of a row a candidate does not simulate (a channel all zero where the reference has energy).
NOT_SIMULATED = "not simulated"


def cell(entry: Any) -> str:
    """One table cell: ``value ± uncertainty`` for metric results, numbers to 4 digits, ``—`` for missing.

    Classifier results (:class:`~mlfastsim.metrics.ClassifierResult` dicts, with ``learned``) read
    ``calibrated ± err (raw R, n=N)``, or ``no power (n=N)`` when the classifier did not learn: its ≈ 0.5
    says nothing about the samples at that test size. ``{"not_simulated": True}`` reads ``not simulated``.
    """
    if isinstance(entry, dict) and entry.get("not_simulated"):
        return NOT_SIMULATED
    if isinstance(entry, dict) and "learned" in entry and "value" in entry:
        if entry["value"] != entry["value"]:  # NaN: not computed
            return "—"
        if not entry["learned"]:
            return f"no power (n={entry.get('n')})"
        raw = entry.get("raw_auc")
        raw_txt = f"raw {raw:.3g}, " if isinstance(raw, float) and raw == raw else ""
        return f"{entry['value']:.3g} ± {entry['uncertainty']:.2g} ({raw_txt}n={entry.get('n')})"
    if isinstance(entry, dict) and "value" in entry:
        unc = entry.get("uncertainty")
        return (
            f"{entry['value']:.4g} ± {unc:.2g}" if unc == unc and unc is not None else f"{entry['value']:.4g}"
        )
    if isinstance(entry, float):
        return f"{entry:.4g}"
    return "—" if entry is None else str(entry)


def table_layout(table: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[str], list[str]]:
    """(floor columns, all columns with the floors first, metric rows in first-seen order) of a metrics table."""
    floors = [c for c in (FLOOR, RESIM) if c in table]
    cols = floors + [c for c in table if c not in floors]
    metrics: list[str] = []
    for row in table.values():
        metrics += [m for m in row if m not in metrics]
    return floors, cols, metrics


def format_table(result: Mapping[str, Any]) -> str:
    """The metrics as a text table: one row per metric, candidates side by side, the floors in their own columns."""
    table = result["metrics"]
    floors, cols, metrics = table_layout(table)
    cells = [[m] + [cell(table[c].get(m)) for c in cols] for m in metrics]
    header = ["metric"] + [f"[{c}]" if c in floors else c for c in cols]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.append(
        "[bracketed] columns are floors: " + "; ".join(f"{k}: {v}" for k, v in result["floors"].items() if v)
    )
    return "\n".join(lines)
