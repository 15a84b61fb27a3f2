"""The fleet report in Markdown: the same matrix, the regressions, and each cell's systems.

Every string from a report goes through :func:`eflowgpu.report.markdown.escape_markdown` (reports
are untrusted; GitHub renders inline HTML). The only HTML emitted is the anchor before each cell's
heading (``<a id="cell-…"></a>``), whose id is sanitised by :func:`eflowgpu.fleet.merge.cell_id`.
"""

from __future__ import annotations

from collections.abc import Sequence

from eflowgpu.fleet.document import judged_by, verdict_totals
from eflowgpu.fleet.model import BaselineComparison, Cell, Change, Fleet
from eflowgpu.report.labels import verdict_label
from eflowgpu.report.markdown import escape_markdown

TITLE = "EFLOW GPU fleet report"
_DASH = "\u2014"
_TIMES = "\u00d7"


def _t(value: object) -> str:
    if value is None or value == "":
        return _DASH
    return escape_markdown(value) or _DASH


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _badge(verdict: str | None) -> str:
    return f"**{escape_markdown(verdict_label(verdict).badge)}**"


def _cell_text(cell: Cell) -> str:
    best = escape_markdown(verdict_label(cell.best).badge)
    worst = escape_markdown(verdict_label(cell.worst).badge)
    return f"[**{cell.count}** · best {best} · worst {worst}](#{cell.id})"


def _changes(title: str, changes: Sequence[Change], out: list[str]) -> None:
    out.append(f"### {title} ({len(changes)})")
    out.append("")
    if not changes:
        return
    out.append(_row(("Host", "Kind", "GPU / benchmark", "Before", "After", "Detail")))
    out.append(_row(("---",) * 6))
    out.extend(
        _row((_t(c.host), _t(c.kind), _t(c.what), _t(c.before), _t(c.after), _t(c.full_detail)))
        for c in changes
    )
    out.append("")


def _baseline(baseline: BaselineComparison, out: list[str]) -> None:
    out.append("## Against the baseline")
    out.append("")
    out.append(f"Baseline: {_t(baseline.path)} (generated {_t(baseline.generated_at)})")
    out.append("")
    out.append(
        f"**{len(baseline.regressions)} regression(s).**" if baseline.regressions else "No regressions."
    )
    out.append("")
    _changes("Regressions", baseline.regressions, out)
    _changes("Improvements", baseline.improvements, out)
    for title, hosts in (
        ("New systems", baseline.new_systems),
        ("Removed systems", baseline.removed_systems),
    ):
        out.append(f"### {title} ({len(hosts)})")
        out.append("")
        if hosts:
            out.append(", ".join(_t(h) for h in hosts))
            out.append("")


def render_fleet_markdown(fleet: Fleet) -> str:
    """The whole Markdown document."""
    out = [f"# {TITLE}", ""]
    errors = sum(1 for s in fleet.systems if s.status == "error")
    out.append(
        f"Merged {_t(fleet.generated_at)} from {len(fleet.reports)} report(s) "
        f"({len(fleet.input_errors)} input error(s)): {len(fleet.systems)} systems ({errors} in error), "
        f"{len(fleet.cells)} cells."
    )
    out.append("")
    out.append(f"Judged by: {_t(judged_by(fleet))}.")
    out.append("")
    out.append(", ".join(f"{n} {_badge(v)}" for v, n in verdict_totals(fleet).items()))
    out.append("")
    if fleet.baseline is not None:
        _baseline(fleet.baseline, out)
    out.append(f"## GPU model {_TIMES} Windows release")
    out.append("")
    if fleet.cells:
        cells = {(c.model.key, c.release.key): c for c in fleet.cells}
        out.append(_row(["GPU model", *(_t(r.label) for r in fleet.releases)]))
        out.append(_row(["---"] * (len(fleet.releases) + 1)))
        for model in fleet.models:
            row = [_t(model.label)]
            for release in fleet.releases:
                cell = cells.get((model.key, release.key))
                row.append(_cell_text(cell) if cell is not None else "")
            out.append(_row(row))
    else:
        out.append("No GPU in any report.")
    out.append("")
    out.append("## Cells")
    out.append("")
    for cell in fleet.cells:
        out.append(f'<a id="{cell.id}"></a>')
        out.append("")
        out.append(f"### {_t(cell.model.label)} {_TIMES} {_t(cell.release.label)}")
        out.append("")
        out.append(f"{cell.count} system(s), best {_badge(cell.best)}, worst {_badge(cell.worst)}")
        out.append("")
        out.append(_row(("Host", "GPU", "PCI id", "Verdict", "Profile", "Report")))
        out.append(_row(("---",) * 6))
        out.extend(
            _row((_t(s.host), _t(s.gpu), _t(s.pci_id), _badge(s.verdict), _t(s.profile), _t(s.report)))
            for s in cell.systems
        )
        out.append("")
    failed = [s for s in fleet.systems if s.status == "error"]
    if failed:
        out.append(f"## Systems in error ({len(failed)})")
        out.append("")
        out.extend(f"- {_t(s.host)}: {_t(s.error)}" for s in failed)
        out.append("")
    if fleet.input_errors:
        out.append(f"## Input errors ({len(fleet.input_errors)})")
        out.append("")
        out.extend(f"- {_t(e.path)}: {_t(e.error)}" for e in fleet.input_errors)
        out.append("")
    return "\n".join(out)
