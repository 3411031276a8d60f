"""The self-contained HTML report of an evaluation: the metric table (floors highlighted) and every plot
inlined, so it opens anywhere with no network."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlfastsim.evaluation.table import cell, table_layout

__all__ = ["render_html"]


def render_html(result: Mapping[str, Any], base: Path, images: list[str], notes: str = "") -> str:
    """One self-contained HTML page: the metric table (floors highlighted) and every image inlined."""
    table = result["metrics"]
    floors, cols, metrics = table_layout(table)
    head = "".join(f'<th class="{"floor" if c in floors else ""}">{html.escape(c)}</th>' for c in cols)
    body = "".join(
        "<tr><td>"
        + html.escape(m)
        + "</td>"
        + "".join(
            f'<td class="{"floor" if c in floors else ""}">{html.escape(cell(table[c].get(m)))}</td>'
            for c in cols
        )
        + "</tr>"
        for m in metrics
    )
    figures = "".join(
        f'<figure><img alt="{html.escape(p)}" src="data:image/png;base64,'
        f'{base64.b64encode((base / p).read_bytes()).decode()}"><figcaption>{html.escape(p)}</figcaption></figure>'
        for p in images
    )
    floor_notes = "".join(
        f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in result["floors"].items() if v
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>mlfastsim evaluation</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:3px 8px;font-size:13px}}.floor{{background:#eee;color:#444}}figure{{display:inline-block;margin:8px}}
img{{max-width:560px}}</style></head><body>
<h1>mlfastsim evaluation</h1>
<p>mlfastsim {html.escape(str(result.get("version")))}, seed {result.get("seed")},
{result.get("n_reference")} reference events ({html.escape(str(result.get("kind", "")))}); every sample's
distributions compared at the floor's {result.get("n_floor")} events.
Grey columns are floors (what a perfect simulation would score):</p>
<ul>{floor_notes}</ul>
<table><tr><th>metric</th>{head}</tr>{body}</table>
<p>{html.escape(notes)}</p>
{figures}
</body></html>
"""
