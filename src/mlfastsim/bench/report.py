"""The benchmark of every family as a printed table and as the Markdown page ``docs/performance.md``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlfastsim._utils import atomic_write_text

__all__ = ["markdown_table", "text_table", "write_section"]


def _rows(result: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    batches = [str(b) for b in result["batches"]]
    largest = batches[-1] if batches else ""
    head = ["run", "family", "kind", "mode"]
    head += [f"µs/event @{b}" for b in batches]
    head += [f"× reference @{largest}", f"× gvae-paper @{largest}", "peak RSS MB"]
    rows = []
    for name, r in result["runs"].items():
        cells = [name, r["family"], r["kind"], r["mode"]]
        cells += [f"{r['timings'][b]['us_per_event']:.3g}" for b in batches]
        cells.append(f"{r['vs_reference'][largest]:.3g}" if "vs_reference" in r else "—")
        cells.append(f"{r['vs_gvae_paper'][largest]:.3g}" if "vs_gvae_paper" in r else "—")
        cells.append(f"{max(t['peak_rss_mb'] for t in r['timings'].values()):.0f}")
        rows.append(cells)
    for kind, ref in result["references"].items():
        cells = [f"reference simulation ({ref.get('stage', 'not declared')})", "—", kind, ref["events"]]
        per_event = f"{ref['us_per_event']:.3g}" if ref.get("declared") else "—"
        cells += [per_event] * len(batches) + ["1", "—", f"{ref.get('peak_rss_mb', 0):.0f}"]
        rows.append(cells)
    return head, rows


def text_table(result: Mapping[str, Any]) -> str:
    """Fixed-width columns, the machine facts underneath."""
    head, rows = _rows(result)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows, strict=True)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) for cells in (head, *rows)]
    lines.append(_facts(result))
    return "\n".join(lines)


def markdown_table(result: Mapping[str, Any], command: Sequence[str] = (), notes: str = "") -> str:
    """The page: the command that made it, the table, the machine facts and ``notes``."""
    head, rows = _rows(result)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    cmd = " ".join(command)
    parts = [
        "## Generation speed of every family",
        "",
        f"Made by `{cmd}`." if cmd else "",
        "",
        "\n".join(lines),
        "",
        _facts(result),
        "",
        notes,
    ]
    return "\n".join(parts).strip() + "\n"


def _facts(result: Mapping[str, Any]) -> str:
    m = result.get("machine", {})
    return (
        f"threads {result['threads']}, precision {result['precision']}, backend torch, median of "
        f"{result['repeats']} calls after a warm-up call; CPU {m.get('cpu')} ({m.get('cores')} cores), "
        f"torch {m.get('torch')}, CUDA {m.get('cuda') or 'none'}."
    )


def write_section(path: str | Path, name: str, body: str) -> None:
    """Put ``body`` into ``path`` between the markers of section ``name`` (replacing what was there; the
    rest of the file is kept; appended when the file has no such section), atomically."""
    path = Path(path)
    start, end = f"<!-- mlfastsim bench {name}: start -->", f"<!-- mlfastsim bench {name}: end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = (text.rstrip() + "\n\n" if text.strip() else "") + block + "\n"
    atomic_write_text(path, text)
