"""Plots and the self-contained HTML report of an evaluation (images embedded; opens with no network)."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlfastsim._utils import atomic_write_text
from mlfastsim.data.schemas import JetImages
from mlfastsim.evaluation.displays import plot_event_displays
from mlfastsim.evaluation.observables import OBSERVABLE_UNITS, hit_energies
from mlfastsim.evaluation.plots import plot_distribution_with_ratio, plot_per_event

__all__ = ["render_html", "write_plots_and_report"]


def write_plots_and_report(
    out_dir: Path,
    reference: JetImages,
    samples: Mapping[str, JetImages],
    observables: Mapping[str, Mapping[str, np.ndarray]],
    per_event: Mapping[str, np.ndarray],
    result: Mapping[str, Any],
) -> list[str]:
    """Write ``plots/*.png`` and ``report.html`` into ``out_dir``; returns the plot paths relative to it."""
    from mlfastsim.evaluation.suite import FLOOR, RESIM, W1_OBSERVABLES

    plots_dir = out_dir / "plots"
    written: list[Path] = []
    for key in W1_OBSERVABLES:
        unit = OBSERVABLE_UNITS.get(key, "")
        written.append(
            plot_distribution_with_ratio(
                observables["reference"][key],
                {n: observables[n][key] for n in samples},
                plots_dir / f"{key}.png",
                f"{key} [{unit}]" if unit else key,
                floor_name=FLOOR,
            )
        )
    written.append(
        plot_distribution_with_ratio(
            hit_energies(reference.images),
            {n: hit_energies(j.images) for n, j in samples.items()},
            plots_dir / "hit_energy_ecal.png",
            "ECAL hit energy [GeV]",
            log_x=True,
            floor_name=FLOOR,
        )
    )
    if per_event:
        written.append(
            plot_per_event(
                per_event, plots_dir / "emd_per_event.png", "EMD to its reference jet [GeV]", floor_name=RESIM
            )
        )
    rows, names = [], []
    for i in range(2):
        rows.append(reference.images[i])
        names.append(f"reference #{i}")
        for name, jets in samples.items():
            if name != FLOOR and len(jets) > i:
                rows.append(jets.images[i])
                names.append(f"{name} #{i}")
    written.append(
        plot_event_displays(
            rows,
            names,
            plots_dir / "event_displays.png",
            channels=(1,),
            title="ECAL: reference and candidates",
        )
    )
    relative = [str(p.relative_to(out_dir)) for p in written]
    atomic_write_text(out_dir / "report.html", render_html(result, out_dir, relative))
    return relative


def render_html(result: Mapping[str, Any], base: Path, images: list[str]) -> str:
    """One self-contained HTML page: the metric table (floors highlighted) and every image inlined."""
    from mlfastsim.evaluation.suite import _cell, table_layout

    table = result["metrics"]
    floors, cols, metrics = table_layout(table)
    head = "".join(f'<th class="{"floor" if c in floors else ""}">{html.escape(c)}</th>' for c in cols)
    body = "".join(
        "<tr><td>"
        + html.escape(m)
        + "</td>"
        + "".join(
            f'<td class="{"floor" if c in floors else ""}">{html.escape(_cell(table[c].get(m)))}</td>'
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
    notes = "".join(
        f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in result["floors"].items() if v
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>mlfastsim evaluation</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:3px 8px;font-size:13px}}.floor{{background:#eee;color:#444}}figure{{display:inline-block;margin:8px}}
img{{max-width:560px}}</style></head><body>
<h1>mlfastsim evaluation</h1>
<p>mlfastsim {html.escape(str(result.get("version")))}, seed {result.get("seed")},
{result.get("n_reference")} reference jets. Grey columns are floors (what a perfect simulation would score):</p>
<ul>{notes}</ul>
<table><tr><th>metric</th>{head}</tr>{body}</table>
<p>W1: 1-Wasserstein distance of the observable's distributions (units of the observable); FPD/KPD on
energy-flow polynomials (JetNet definitions); classifier AUC 0.5 = indistinguishable; EMD in GeV.</p>
{figures}
</body></html>
"""
