"""The fleet report as one self-contained HTML page: matrix, charts, cells, regressions.

Like the host report (:mod:`eflowgpu.report.html`): inline CSS and inline SVG only, no JavaScript
and no external URL, a strict Content-Security-Policy, and every string from a report escaped with
:func:`html.escape` (reports are untrusted). Each matrix cell is coloured by its worst verdict,
shows its number of systems and its best and worst verdicts, and links to the section that lists
its systems (``href="#cell-…"``; the ids are sanitised, see :func:`eflowgpu.fleet.merge.cell_id`).
The output depends only on the fleet.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from eflowgpu.fleet.document import judged_by, verdict_totals
from eflowgpu.fleet.merge import model_key
from eflowgpu.fleet.model import BaselineComparison, Cell, Change, Fleet, FleetSystem, host_key
from eflowgpu.report.htmlsafe import badge as _badge
from eflowgpu.report.htmlsafe import escape as _e
from eflowgpu.report.htmlsafe import text as _text
from eflowgpu.report.labels import VERDICTS, all_labels, status_label, verdict_label

TITLE = "EFLOW GPU fleet report"
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
_TIMES = "\u00d7"

_BASE_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 1.25rem 1.5rem 3rem; color: #1f2328; background: #ffffff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
h2 { font-size: 1.2rem; margin: 1.75rem 0 .5rem; border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; }
h3 { font-size: 1rem; margin: 1.25rem 0 .35rem; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: 0 0 1rem; }
.meta dt { color: #59636e; }
.meta dd { margin: 0; overflow-wrap: anywhere; }
.muted { color: #59636e; }
small { font-size: .85em; }
.summary { display: flex; flex-wrap: wrap; gap: .5rem; list-style: none; padding: 0; margin: 0 0 1rem; }
.summary li { display: flex; align-items: center; gap: .4rem; border: 1px solid #d0d7de;
  border-radius: 6px; padding: .35rem .7rem; background: #f6f8fa; }
.summary .n { font-size: 1.3rem; font-weight: 700; }
.badge { display: inline-block; padding: .1rem .5rem; border-radius: 999px; font-weight: 600;
  font-size: .85em; white-space: nowrap; border: 1px solid rgba(0,0,0,.15); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; }
table.matrix th { background: #24292f; color: #ffffff; font-weight: 600; }
table.matrix { table-layout: fixed; width: 100%; }
table.matrix thead th { position: sticky; top: 0; vertical-align: bottom;
  font-size: .8em; overflow-wrap: break-word; }
table.matrix thead th:first-child { width: 7rem; }
table.matrix tbody th { overflow-wrap: break-word; }
table.matrix td { border: 2px solid #ffffff; overflow-wrap: break-word; }
table.matrix th, table.matrix td { padding: .2rem .15rem; }
table.matrix td.empty { background: #f6f8fa; }
table.matrix td.cell a { color: inherit; text-decoration: none; display: block; }
table.matrix td.cell a:hover .count { text-decoration: underline; }
table.matrix .count { font-size: 1.1rem; font-weight: 700; }
table.matrix .best, table.matrix .worst { display: block; font-size: .8em; }
table.list { width: 100%; margin: .25rem 0 .6rem; font-size: .92em; border: 1px solid #d0d7de; }
table.list th { background: #eaeef2; border-bottom: 1px solid #d0d7de; }
table.list td { border-top: 1px solid #eaeef2; overflow-wrap: anywhere; }
table.list tr.regression td:first-child { box-shadow: inset 4px 0 0 #c62828; }
table.list tr.improvement td:first-child { box-shadow: inset 4px 0 0 #1a7f37; }
.legend { display: flex; flex-wrap: wrap; gap: .4rem; margin: .25rem 0 .5rem; }
svg.chart { display: block; max-width: 100%; height: auto; margin: .25rem 0 1rem; }
svg.chart text { font: 11px system-ui, sans-serif; fill: #1f2328; }
.ok-note { border-left: 4px solid #1a7f37; background: #eef8f0; padding: .4rem .7rem; }
.bad-note { border-left: 4px solid #c62828; background: #ffebe9; padding: .4rem .7rem; font-weight: 600; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
footer { margin-top: 2rem; color: #59636e; font-size: .85em; }
@media print { table.matrix thead th { position: static; }
  .badge, td.cell, table.matrix th { print-color-adjust: exact; -webkit-print-color-adjust: exact; } }
"""

_CSS = (
    _BASE_CSS
    + "\n".join(
        f".b-{label.key} {{ background: {label.background}; color: {label.foreground}; }}"
        for label in all_labels()
    )
    + "\n"
)


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# --- matrix ---------------------------------------------------------------------------------------


def _cell_td(cell: Cell) -> str:
    best, worst = verdict_label(cell.best), verdict_label(cell.worst)
    noun = "system" if cell.count == 1 else "systems"
    return (
        f'<td class="cell b-{worst.key}" data-count="{cell.count}" data-best="{_e(cell.best)}" '
        f'data-worst="{_e(cell.worst)}"><a href="#{cell.id}" title="{_e(cell.model.label)} {_TIMES} '
        f'{_e(cell.release.label)}"><span class="count">{cell.count}</span> {noun}'
        f'<span class="best">best: {_e(best.text)}</span>'
        f'<span class="worst">worst: {_e(worst.text)}</span></a></td>'
    )


def _matrix(fleet: Fleet, out: list[str]) -> None:
    out.append(f'<h2 id="matrix">GPU model {_TIMES} Windows release</h2>')
    if not fleet.cells:
        out.append('<p class="muted">No GPU in any report.</p>')
        return
    out.append(
        '<p class="muted">Colour: the worst verdict in the cell. Each cell links to its systems.</p>'
        '<div class="scroll"><table class="matrix"><thead><tr><th>GPU model</th>'
    )
    for release in fleet.releases:
        out.append(f"<th>{_e(release.name)}<br><small>{_e(release.edition)}</small></th>")
    out.append("</tr></thead><tbody>")
    cells = {(c.model.key, c.release.key): c for c in fleet.cells}
    for model in fleet.models:
        out.append(f'<tr><th scope="row">{_e(model.label)}</th>')
        for release in fleet.releases:
            cell = cells.get((model.key, release.key))
            out.append(_cell_td(cell) if cell is not None else '<td class="empty"></td>')
        out.append("</tr>")
    out.append("</tbody></table></div>")


# --- charts ---------------------------------------------------------------------------------------


def _verdict_chart(fleet: Fleet, out: list[str]) -> None:
    """A stacked horizontal bar per GPU model: its GPUs per verdict."""
    rows: dict[str, dict[str, int]] = {m.key: {} for m in fleet.models}
    for cell in fleet.cells:
        counts = rows[cell.model.key]
        for verdict, n in cell.verdicts:
            counts[verdict] = counts.get(verdict, 0) + n
    if not rows:
        return
    order = [*VERDICTS]
    for counts in rows.values():
        order.extend(v for v in counts if v not in order)
    biggest = max((sum(c.values()) for c in rows.values()), default=1) or 1
    label_w, bar_w, row_h = 210, 470, 22
    height = row_h * len(rows) + 10
    out.append('<h3>GPUs per verdict, by GPU model</h3><div class="legend">')
    out.extend(_badge(verdict_label(v)) for v in order if any(v in c for c in rows.values()))
    out.append(
        f'</div><svg class="chart verdict-chart" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'width="{label_w + bar_w + 60}" height="{height}" viewBox="0 0 {label_w + bar_w + 60} {height}">'
        "<title>GPUs per verdict, by GPU model</title>"
    )
    for i, model in enumerate(fleet.models):
        counts = rows[model.key]
        y = 5 + i * row_h
        out.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{_e(_short(model.label))}</text>')
        x = float(label_w)
        for verdict in order:
            n = counts.get(verdict, 0)
            if not n:
                continue
            width = bar_w * n / biggest
            label = verdict_label(verdict)
            out.append(
                f'<rect x="{x:.1f}" y="{y + 2}" width="{width:.1f}" height="{row_h - 5}" '
                f'fill="{label.background}"><title>{_e(model.label)}: {n} {_e(label.text)}</title></rect>'
            )
            x += width
        out.append(f'<text x="{x + 5:.1f}" y="{y + 15}">{sum(counts.values())}</text>')
    out.append("</svg>")


def _quantile(values: Sequence[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    position = (len(values) - 1) * q
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def _system_model(system: FleetSystem) -> str:
    models = [model_key(g) for g in system.gpus]
    catalog = [m for m in models if m.in_catalog]
    chosen = catalog or models
    return chosen[0].label if chosen else "no GPU on the host"


def _benchmark_charts(fleet: Fleet, out: list[str]) -> None:
    """Per benchmark: each system's ratio to the reference as a dot, a box per GPU model."""
    points: dict[str, dict[str, list[tuple[float, str | None, str]]]] = {}
    fractions: dict[str, list[float]] = {}
    for system in fleet.systems:
        if system.status == "error":
            continue
        for bench in system.benchmarks:
            ratio = bench.ratio
            if ratio is None and bench.value is not None and bench.reference:
                ratio = bench.value / bench.reference
            if ratio is None:
                continue
            if bench.threshold is not None and bench.reference:
                fractions.setdefault(bench.id, []).append(bench.threshold / bench.reference)
            group = points.setdefault(bench.id, {}).setdefault(_system_model(system), [])
            group.append((ratio, bench.status, system.host))
    if not points:
        return
    out.append(
        '<h3>Benchmarks: ratio to the reference</h3><p class="muted">One dot per system '
        "(green pass, red fail), a box from the first to the third quartile with the median per GPU "
        "model; the solid line is the reference (1.0), the dashed line the threshold.</p>"
    )
    label_w, plot_w, row_h = 210, 470, 26
    for bench_id in sorted(points):
        groups = points[bench_id]
        all_ratios = [r for g in groups.values() for r, _, _ in g]
        top = min(3.0, max(1.25, max(all_ratios) * 1.05))
        height = row_h * len(groups) + 34

        def x_of(ratio: float, top: float = top) -> float:
            return label_w + plot_w * max(0.0, min(ratio, top)) / top

        out.append(
            f'<svg class="chart bench-chart" xmlns="http://www.w3.org/2000/svg" role="img" '
            f'width="{label_w + plot_w + 20}" height="{height}" '
            f'viewBox="0 0 {label_w + plot_w + 20} {height}"><title>{_e(bench_id)}: ratio to the '
            f"reference per system</title>"
            f'<text x="0" y="12" font-weight="700">{_e(_short(bench_id, 40))}</text>'
        )
        bottom = height - 18
        for tick in range(int(top / 0.25) + 1):
            value = tick * 0.25
            x = x_of(value)
            out.append(
                f'<line x1="{x:.1f}" y1="18" x2="{x:.1f}" y2="{bottom}" stroke="#eaeef2"/>'
                f'<text x="{x:.1f}" y="{height - 4}" text-anchor="middle">{value:g}</text>'
            )
        out.append(f'<line x1="{x_of(1):.1f}" y1="18" x2="{x_of(1):.1f}" y2="{bottom}" stroke="#24292f"/>')
        if bench_id in fractions:
            fx = x_of(statistics.median(fractions[bench_id]))
            out.append(
                f'<line x1="{fx:.1f}" y1="18" x2="{fx:.1f}" y2="{bottom}" stroke="#c62828" '
                'stroke-dasharray="4 3"/>'
            )
        for i, name in enumerate(sorted(groups)):
            y = 20 + i * row_h + row_h / 2
            ratios = sorted(r for r, _, _ in groups[name])
            q1, q2, q3 = (_quantile(ratios, q) for q in (0.25, 0.5, 0.75))
            out.append(
                f'<text x="{label_w - 6}" y="{y + 4:.1f}" text-anchor="end">{_e(_short(name))}</text>'
                f'<rect x="{x_of(q1):.1f}" y="{y - 8:.1f}" width="{max(1.0, x_of(q3) - x_of(q1)):.1f}" '
                f'height="16" fill="#ddf4ff" stroke="#0969da"><title>{_e(name)}: {len(ratios)} systems, '
                f"median {q2:.3g}, quartiles {q1:.3g}-{q3:.3g}</title></rect>"
                f'<line x1="{x_of(q2):.1f}" y1="{y - 8:.1f}" x2="{x_of(q2):.1f}" y2="{y + 8:.1f}" '
                'stroke="#0969da" stroke-width="2"/>'
            )
            for j, (ratio, status, _host) in enumerate(groups[name]):
                colour = status_label(status).background if status in ("pass", "fail") else "#8c959f"
                out.append(
                    f'<circle cx="{x_of(ratio):.1f}" cy="{y + (j % 7 - 3) * 1.6:.1f}" r="2.6" '
                    f'fill="{colour}" fill-opacity=".7"/>'
                )
        out.append("</svg>")


# --- sections -------------------------------------------------------------------------------------


def _cell_section(cell: Cell, systems: dict[str, FleetSystem], out: list[str]) -> None:
    out.append(
        f'<section class="cell-section" id="{cell.id}"><h3>{_e(cell.model.label)} {_TIMES} '
        f'{_e(cell.release.label)} <small class="muted">{cell.count} '
        f"{'system' if cell.count == 1 else 'systems'}</small></h3>"
        f"<p>best {_badge(verdict_label(cell.best))} worst {_badge(verdict_label(cell.worst))}</p>"
        '<table class="list"><thead><tr><th>Host</th><th>GPU</th><th>PCI id</th><th>Verdict</th>'
        "<th>Profile</th><th>Report</th><th>Generated</th><th>Reports</th></tr></thead><tbody>"
    )
    for member in cell.systems:
        system = systems.get(host_key(member.host))
        seen = 1 + len(system.history) if system is not None else 1
        out.append(
            f'<tr class="cell-system"><td class="host">{_text(member.host)}</td><td>{_text(member.gpu)}</td>'
            f"<td>{_text(member.pci_id)}</td><td>{_badge(verdict_label(member.verdict))}</td>"
            f"<td>{_text(member.profile)}</td><td><small>{_text(member.report)}</small></td>"
            f"<td>{_text(member.generated_at)}</td><td>{seen}</td></tr>"
        )
    out.append('</tbody></table><p><a href="#matrix">back to the matrix</a></p></section>')


def _changes(title: str, changes: Sequence[Change], row_class: str, out: list[str]) -> None:
    out.append(f"<h3>{title} ({len(changes)})</h3>")
    if not changes:
        return
    out.append(
        f'<table class="list {row_class}s"><thead><tr><th>Host</th><th>Kind</th><th>GPU / benchmark</th>'
        "<th>Before</th><th>After</th><th>Detail</th></tr></thead><tbody>"
    )
    for change in changes:
        out.append(
            f'<tr class="{row_class}"><td>{_text(change.host)}</td><td>{_e(change.kind)}</td>'
            f"<td>{_text(change.what)}</td><td>{_text(change.before)}</td><td>{_text(change.after)}</td>"
            f"<td>{_text(change.full_detail)}</td></tr>"
        )
    out.append("</tbody></table>")


def _baseline(baseline: BaselineComparison, out: list[str]) -> None:
    out.append(
        f'<h2 id="baseline">Against the baseline</h2><p class="muted">{_e(baseline.path)}'
        f"{f', generated {_e(baseline.generated_at)}' if baseline.generated_at else ''}</p>"
    )
    if baseline.regressions:
        out.append(f'<p class="bad-note">{len(baseline.regressions)} regression(s).</p>')
    else:
        out.append('<p class="ok-note">No regressions.</p>')
    _changes("Regressions", baseline.regressions, "regression", out)
    _changes("Improvements", baseline.improvements, "improvement", out)
    for title, hosts in (
        ("New systems", baseline.new_systems),
        ("Removed systems", baseline.removed_systems),
    ):
        out.append(f"<h3>{title} ({len(hosts)})</h3>")
        if hosts:
            out.append("<p>" + ", ".join(_e(h) for h in hosts) + "</p>")


def _errors(fleet: Fleet, out: list[str]) -> None:
    failed = [s for s in fleet.systems if s.status == "error"]
    if failed:
        out.append(
            f'<h2 id="system-errors">Systems in error ({len(failed)})</h2><table class="list"><thead><tr>'
            "<th>Host</th><th>Snapshot</th><th>Report</th><th>Error</th></tr></thead><tbody>"
        )
        out.extend(
            f"<tr><td>{_text(s.host)}</td><td>{_text(s.source)}</td><td><small>{_text(s.report)}</small>"
            f"</td><td>{_text(s.error)}</td></tr>"
            for s in failed
        )
        out.append("</tbody></table>")
    if fleet.input_errors:
        out.append(
            f'<h2 id="input-errors">Input errors ({len(fleet.input_errors)})</h2><table class="list">'
            "<thead><tr><th>Report</th><th>Error</th></tr></thead><tbody>"
        )
        out.extend(f"<tr><td>{_text(e.path)}</td><td>{_text(e.error)}</td></tr>" for e in fleet.input_errors)
        out.append("</tbody></table>")


def render_fleet_html(fleet: Fleet) -> str:
    """The whole page."""
    out: list[str] = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{TITLE}</title><style>{_CSS}</style></head><body>"
        f"<h1>{TITLE}</h1>"
    ]
    no_gpu = sum(1 for s in fleet.systems if s.status != "error" and not s.gpus)
    out.append(
        f'<dl class="meta"><dt>Merged</dt><dd>{_e(fleet.generated_at)}</dd>'
        f"<dt>Reports</dt><dd>{len(fleet.reports)} read, {len(fleet.input_errors)} input error(s)</dd>"
        f"<dt>Systems</dt><dd>{len(fleet.systems)} ({no_gpu} without a GPU, "
        f"{sum(1 for s in fleet.systems if s.status == 'error')} in error)</dd>"
        f"<dt>Cells</dt><dd>{len(fleet.cells)}</dd>"
        f"<dt>Judged by</dt><dd>{_e(judged_by(fleet))}</dd></dl>"
    )
    out.append('<ul class="summary">')
    for verdict, n in verdict_totals(fleet).items():
        out.append(f'<li><span class="n">{n}</span>{_badge(verdict_label(verdict))}</li>')
    out.append("</ul>")
    if fleet.baseline is not None:
        _baseline(fleet.baseline, out)
    _matrix(fleet, out)
    out.append('<h2 id="charts">Charts</h2>')
    _verdict_chart(fleet, out)
    _benchmark_charts(fleet, out)
    out.append(f'<h2 id="cells">Cells ({len(fleet.cells)})</h2>')
    systems = {host_key(s.host): s for s in fleet.systems}
    for cell in fleet.cells:
        _cell_section(cell, systems, out)
    _errors(fleet, out)
    out.append(
        "<footer>eflowgpu fleet report: format eflow-gpu-fleet/1 beside this page.</footer></body></html>\n"
    )
    return "".join(out)
