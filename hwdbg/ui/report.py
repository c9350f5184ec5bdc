"""--report FILE.html: the writers of each watch and a timeline of their writes, one page.

The page is self-contained (inline CSS and SVG, no script): it opens anywhere, offline,
from a CI artifact. A timeline row is its writer's writes per bin of the watch's hits, in
the order the hits happened (the x axis is the hit number, not time: the C hit loop hands
its hits over in batches, so their arrival times would be the batches', not the writes').
"""
from __future__ import annotations

import html
import os
from typing import Any, Iterable, Optional, Sequence

from .. import records as rec
from ..errors import UsageError
from ..session import writers_of
from ..version import __version__

BAR_W, LANE_H, LABEL_W = 10, 26, 300  # pixels: per timeline bin, per writer's lane, for its name

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.meta { color: #5a6372; margin-bottom: 12px; }
table { border-collapse: collapse; }
th, td { padding: 4px 10px; white-space: nowrap; border-bottom: 1px solid #dde1e8; text-align: left; vertical-align: middle; }
th { background: #f1f3f7; font-weight: 600; }
td.value { white-space: normal; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 13px ui-monospace, monospace; }
svg { display: block; }
h3 { font-size: 14px; margin: 16px 0 2px; }
svg.timeline text { font: 12px ui-monospace, monospace; fill: #1d2330; }
"""


def _value(v: Optional[int]) -> str:
    return "?" if v is None else str(v)


COLORS = ("#2b6cb0", "#c05621", "#2f855a", "#805ad5", "#b83280", "#2c7a7b", "#975a16", "#4a5568")


def _name(w: rec.Writer) -> str:
    return f"{w.function}+{w.offset}" if w.function else f"{w.pc:#x}"


def _timeline_svg(rows: Sequence[rec.Writer], total: int) -> str:
    """One lane per writer, a bar per bin of hits, its height the bin's writes against the busiest bin."""
    per_bin = rows[0].hits_per_bin
    bins = max(1, -(-total // per_bin))  # only the bins the run reached
    peak = max(max(w.timeline) for w in rows)
    width = LABEL_W + bins * BAR_W
    out = [f'<svg class="timeline" width="{width + 8}" height="{len(rows) * LANE_H + 24}" role="img" '
           'aria-label="writes per writer over the run">']
    for lane, w in enumerate(rows):
        y = lane * LANE_H
        out.append(f'<text x="{LABEL_W - 8}" y="{y + LANE_H - 8}" text-anchor="end">{html.escape(_name(w))}</text>'
                   f'<rect x="{LABEL_W}" y="{y + 2}" width="{bins * BAR_W}" height="{LANE_H - 4}" fill="#f3f4f8"/>')
        color = COLORS[lane % len(COLORS)]
        for i, n in enumerate(w.timeline[:bins]):
            if n:
                h = max(3, round((LANE_H - 6) * n / peak))  # a single write stays visible
                first = i * per_bin + 1
                out.append(f'<rect class="bar" x="{LABEL_W + i * BAR_W}" y="{y + LANE_H - 3 - h}" '
                           f'width="{BAR_W - 1}" height="{h}" fill="{color}"><title>{html.escape(_name(w))}: '
                           f"{n} write(s) in hits {first}-{first + per_bin - 1}</title></rect>")
    axis_y = len(rows) * LANE_H + 16
    out.append(f'<text x="{LABEL_W}" y="{axis_y}">hit 1</text>'
               f'<text x="{width}" y="{axis_y}" text-anchor="end">hit {total}</text></svg>')
    return "".join(out)


def _backtrace(w: rec.Writer) -> str:
    """The writer's sample backtrace (its first write's), folded: <details> needs no script."""
    if not w.backtrace:
        return ""
    frames = "".join(f"<li><code>{f.pc:#x} {html.escape(f.function or '??')}</code>"
                     + (f" {html.escape(os.path.basename(f.file))}:{f.line}" if f.file and f.line else "") + "</li>"
                     for f in w.backtrace)
    return f"<details><summary>backtrace of the first write</summary><ol start=\"0\">{frames}</ol></details>"


def _watch_section(bp: Any, rows: Sequence[rec.Writer]) -> str:
    total = sum(w.count for w in rows)
    head = (f"<h2>Watch {bp.id}: <code>{html.escape(bp.expr)}</code> "
            f"({bp.length} bytes at <code>{bp.addr:#x}</code>)</h2>")
    if not rows:
        return head + "<p>No writes.</p>"
    out = [head, f'<p class="meta">{total} write(s) by {len(rows)} instruction(s)</p>',
           "<table><tr><th>Count</th><th>Writer</th><th>At</th><th>Threads</th><th>First old &rarr; new</th>"
           "<th>Last old &rarr; new</th></tr>"]
    for w in rows:
        at = f"{os.path.basename(w.file)}:{w.line}" if w.file and w.line else ""
        out.append(f'<tr class="writer"><td class="num">{w.count}</td><td><code>{html.escape(_name(w))}</code>'
                   f" <small><code>{w.pc:#x}</code></small>{_backtrace(w)}</td><td>{html.escape(at)}</td>"
                   f"<td>{html.escape(', '.join(map(str, w.threads)))}</td>"
                   f'<td class="value"><code>{_value(w.first[0])} &rarr;<wbr> {_value(w.first[1])}</code></td>'
                   f'<td class="value"><code>{_value(w.last[0])} &rarr;<wbr> {_value(w.last[1])}</code></td></tr>')
    out.append("</table>")
    out.append(f'<h3>Writes over the run</h3><p class="meta">each bar: {rows[0].hits_per_bin} hit(s) of this '
               "watch, in the order they happened</p>")
    out.append(_timeline_svg(rows, total))
    return "\n".join(out)


def render(breakpoints: Iterable[Any], program: Optional[Sequence[str]]) -> str:
    watches = [bp for bp in breakpoints if bp.kind.is_data]
    title = "hwdbg writers" + (f": {os.path.basename(program[0])}" if program else "")
    sections = [_watch_section(bp, writers_of([bp])) for bp in watches] or ["<p>No watches were set.</p>"]
    command = html.escape(" ".join(program)) if program else "?"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f'<div class="meta">program <code>{command}</code> &middot; hwdbg {__version__}</div>'
            + "\n".join(sections) + "</body></html>\n")


def write_report(path: str, session: Any, program: Optional[Sequence[str]]) -> None:
    text = render(session.breakpoints.values(), program)
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write the report {path}: {exc.strerror}") from None
