"""The Markdown compatibility summary, for a GitHub Actions job summary or a pull request.

Every string from the report goes through :func:`escape_markdown`: snapshots are untrusted, and
GitHub renders inline HTML in job summaries, so a host label must not be able to break the table,
start a heading or inject a tag. The output depends only on the report.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from eflowgpu.report.labels import (
    ELIGIBLE_VERDICTS,
    ERROR_LABEL,
    NO_GPU_LABEL,
    Label,
    as_mapping,
    as_mappings,
    benchmark_label,
    error_count,
    ids_with_status,
    sort_criteria,
    status_label,
    system_verdict_label,
    verdict_counts,
    verdict_label,
    waivers_lines,
)
from eflowgpu.report.verdicts import attention_rank, by_attention

TITLE = "EFLOW GPU compatibility report"
_DASH = "\u2014"
_TABLE_COLUMNS = ("System", "Host", "GPU", "Model", "Passthrough", "Verdict", "Failed", "Warned")

# One pass of str.translate: HTML-significant characters become entities (GitHub renders inline
# HTML), Markdown punctuation is backslash-escaped, and line breaks and control characters become
# spaces so that a value never leaves its table cell, list item or heading.
_ESCAPES: Mapping[int, str] = MappingProxyType(
    {
        **dict.fromkeys((*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029), " "),
        ord("&"): "&amp;",
        ord("<"): "&lt;",
        ord(">"): "&gt;",
        **{ord(ch): "\\" + ch for ch in "\\`*_[]#|~$"},
    }
)


def escape_markdown(value: object) -> str:
    """``value`` as inert Markdown text on one line: safe in a table cell, list item or heading.

    Backslashes and ``` ` * _ [ ] # | ~ $``` are backslash-escaped, ``& < >`` become HTML
    entities, and newlines, tabs and other control characters become spaces.
    """
    return str(value).translate(_ESCAPES).strip()


def _text(value: object, default: str = _DASH) -> str:
    """Escaped ``value``, or the (trusted) ``default`` when it is missing or empty."""
    if value is None or value == "":
        return default
    return escape_markdown(value) or default


def _badge(label: Label) -> str:
    return f"**{escape_markdown(label.badge)}**"


def _ids(ids: list[str]) -> str:
    return escape_markdown(", ".join(ids)) if ids else _DASH


def _row(cells: tuple[str, ...] | list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _header(report: Mapping[str, Any], out: list[str]) -> None:
    matrix = as_mapping(report.get("matrix"))
    run = as_mapping(report.get("run"))
    out.append(f"# {TITLE}")
    out.append("")
    note = run.get("note")
    if run.get("mode") == "sample-lab":
        text = _text(note, "These results come from example snapshots, not from your host.")
        out.append(f"> **Sample lab: example snapshots, not your host.** {text}")
        out.append("")
    elif run.get("mode") or note:
        mode = f"Run mode: {_text(run.get('mode'))}."
        out.append(f"{mode} {_text(note, '')}".rstrip())
        out.append("")
    if run.get("vm_note"):
        out.append(f"In-VM checks: {_text(run.get('vm_note'))}")
        out.append("")
    profile = _text(matrix.get("profile"))
    if matrix.get("profile_title"):
        profile += f" ({escape_markdown(matrix['profile_title'])})"
    out.append(
        f"Generated {_text(report.get('generated_at'))} with matrix {_text(matrix.get('path'))}, "
        f"profile {profile}."
    )
    if matrix.get("profile_source"):
        out.append(f"Profile source: {escape_markdown(matrix['profile_source'])}.")
    out.append("")


def _counts(systems: list[Mapping[str, Any]], verdicts: list[str], out: list[str]) -> None:
    by_system = Counter(verdicts)
    ordered = sorted(by_system, key=attention_rank)
    out.append(
        "**Systems:** " + ", ".join(f"{by_system[v]} {escape_markdown(v)}" for v in ordered) + "."
        if ordered
        else "**Systems:** none."
    )
    out.append("")
    counts = verdict_counts(systems)
    parts = [f"{count} {escape_markdown(verdict)}" for verdict, count in counts.items()]
    errors = error_count(systems)
    out.append(
        f"**Verdicts:** {', '.join(parts)}. **Systems in error:** {errors}. "
        f"{len(systems)} systems, {sum(counts.values())} GPUs."
    )
    out.append("")


def _run_notes(report: Mapping[str, Any], out: list[str]) -> None:
    """The coverage note of a narrowed run and the regression gate's outcome."""
    run = as_mapping(report.get("run"))
    coverage = as_mapping(run.get("coverage"))
    if coverage.get("note"):
        out.append(f"> **Narrowed run:** {_text(coverage['note'])}")
        out.append("")
    for failure in as_mappings(as_mapping(run.get("regression_gate")).get("failures")):
        out.append(f"- {_text(failure.get('message'))}")
    if as_mappings(as_mapping(run.get("regression_gate")).get("failures")):
        out.append("")


def _failed_cell(criteria: list[Mapping[str, Any]]) -> str:
    failed = ids_with_status(criteria, "fail")
    failed += [f"{i} (unknown)" for i in ids_with_status(criteria, "unknown", required_only=True)]
    failed += [f"{i} (waived)" for i in ids_with_status(criteria, "waived")]
    return _ids(failed)


def _table(ordered: list[tuple[str, Mapping[str, Any]]], out: list[str]) -> None:
    out.append("## Systems")
    out.append("")
    out.append(_row(_TABLE_COLUMNS))
    out.append(_row(["---"] * len(_TABLE_COLUMNS)))
    for verdict, system in ordered:
        first = _badge(system_verdict_label(verdict))
        host = _text(system.get("host"), "(no host label)")
        if system.get("status") == "error":
            cells = [
                first,
                host,
                "(not evaluated, see below)",
                _DASH,
                _DASH,
                _badge(ERROR_LABEL),
                _DASH,
                _DASH,
            ]
            out.append(_row(cells))
            continue
        gpus = as_mappings(system.get("gpus"))
        if not gpus and system.get("os") is None and isinstance(system.get("vm"), Mapping):
            out.append(_row([first, host, "no host snapshot: in-VM results only", *[_DASH] * 5]))
        elif not gpus:
            out.append(_row([first, host, "no GPU found", _DASH, _DASH, _badge(NO_GPU_LABEL), _DASH, _DASH]))
        for gpu in gpus:
            criteria = as_mappings(gpu.get("criteria"))
            cells = [
                first,
                host,
                _text(gpu.get("name"), "(unnamed GPU)"),
                _text(gpu.get("model"), "not in catalog"),
                _text(gpu.get("passthrough")),
                _badge(verdict_label(gpu.get("verdict"))),
                _failed_cell(criteria),
                _ids(ids_with_status(criteria, "warn")),
            ]
            out.append(_row(cells))
    out.append("")


def _errors(systems: list[Mapping[str, Any]], out: list[str]) -> None:
    in_error = [s for s in systems if s.get("status") == "error"]
    if not in_error:
        return
    out.append("## Systems in error")
    out.append("")
    for system in in_error:
        source = f" ({escape_markdown(system['source'])})" if system.get("source") else ""
        reason = _text(system.get("error"), "the snapshot could not be evaluated (no reason given)")
        out.append(f"- **{_text(system.get('host'), '(no host label)')}**{source}: {reason}")
    out.append("")


def _criterion_line(criterion: Mapping[str, Any]) -> str:
    """``- id (required, fail): detail Remedy: …`` for one criterion."""
    status = status_label(criterion.get("status")).text
    kind = "required, " if criterion.get("required") is True else ""
    line = f"- {_text(criterion.get('id'))} ({kind}{escape_markdown(status)}): "
    line += _text(criterion.get("detail"), "no detail given")
    if criterion.get("remedy"):
        line += f" Remedy: {escape_markdown(criterion['remedy'])}"
    return line


def _blocking(criteria: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [
        c
        for c in sort_criteria(criteria)
        if c.get("status") == "fail" or (c.get("status") == "unknown" and c.get("required") is True)
    ]


def _section(title: str, lines: list[str], out: list[str]) -> None:
    """A ``## title`` section of ``lines``, or nothing when there are none."""
    if lines:
        out.extend([f"## {title}", "", *lines])


def _blockers(ordered: list[tuple[str, Mapping[str, Any]]], out: list[str]) -> None:
    sections: list[str] = []
    for _, system in ordered:
        if system.get("status") == "error":
            continue
        for gpu in as_mappings(system.get("gpus")):
            if gpu.get("verdict") in ELIGIBLE_VERDICTS:
                continue
            label = verdict_label(gpu.get("verdict"))
            sections.append(
                f"### {_text(system.get('host'), '(no host label)')}: "
                f"{_text(gpu.get('name'), '(unnamed GPU)')} ({escape_markdown(label.badge)})"
            )
            sections.append("")
            blocking = _blocking(as_mappings(gpu.get("criteria")))
            sections.extend(_criterion_line(c) for c in blocking)
            if not blocking:
                sections.append("- no failed criterion was reported")
            sections.append("")
    _section("Why GPUs are not eligible", sections, out)


def _vm_failures(ordered: list[tuple[str, Mapping[str, Any]]], out: list[str]) -> None:
    """Failed or unknown required in-VM criteria and failed benchmarks, with detail and remedy."""
    sections: list[str] = []
    for _, system in ordered:
        vm = system.get("vm")
        if not isinstance(vm, Mapping):
            continue
        blocking = _blocking(as_mappings(vm.get("criteria")))
        failed = [b for b in as_mappings(vm.get("benchmarks")) if b.get("status") == "fail"]
        unusable = vm.get("status") == "error"
        if not blocking and not failed and not unusable:
            continue
        sections.append(f"### {_text(system.get('host'), '(no host label)')}: in the VM")
        sections.append("")
        if unusable:
            sections.append(f"- VM snapshot unusable: {_text(vm.get('error'))}")
        sections.extend(_criterion_line(c) for c in blocking)
        for bench in failed:
            detail = _text(bench.get("detail"), "no detail given")
            sections.append(f"- benchmark {_text(bench.get('id'))} failed: {detail}")
        sections.append("")
    _section("In-VM failures", sections, out)


def _warnings(ordered: list[tuple[str, Mapping[str, Any]]], out: list[str]) -> None:
    lines: list[str] = []
    for _, system in ordered:
        host = _text(system.get("host"), "(no host label)")
        vm = system.get("vm")
        groups = [(_text(g.get("name"), "(unnamed GPU)"), g) for g in as_mappings(system.get("gpus"))]
        if isinstance(vm, Mapping):
            groups.append(("in the VM", vm))
        for where, owner in groups:
            for criterion in as_mappings(owner.get("criteria")):
                if criterion.get("status") == "warn":
                    lines.append(f"- **{host}** / {where}: " + _criterion_line(criterion)[2:])
    _section("Warnings", [*lines, ""] if lines else [], out)


def _deploy(ordered: list[tuple[str, Mapping[str, Any]]], out: list[str]) -> None:
    """Every GPU's Deploy-Eflow command, one list item each (escaped: it renders as the command)."""
    body: list[str] = []
    for system_verdict, system in ordered:
        if system.get("status") == "error":
            continue
        host = _text(system.get("host"), "(no host label)")
        for gpu in as_mappings(system.get("gpus")):
            hint = gpu.get("deploy_hint")
            if not hint:
                continue
            label = verdict_label(gpu.get("verdict"))
            ready = gpu.get("verdict") in ELIGIBLE_VERDICTS and system_verdict in ELIGIBLE_VERDICTS
            when = "" if ready else ", once every required criterion passes"  # the VM's too
            body.append(
                f"- **{host}** / {_text(gpu.get('name'), '(unnamed GPU)')} "
                f"({escape_markdown(label.badge)}{when}): {escape_markdown(hint)}"
            )
    _section("Deploy commands", [*body, ""] if body else [], out)


def _vm(ordered: list[tuple[str, Mapping[str, Any]]], out: list[str]) -> None:
    with_vm = [s for _, s in ordered if isinstance(s.get("vm"), Mapping)]
    if not with_vm:
        return
    columns = (
        "Host",
        "Passthrough in VM",
        "Failed criteria",
        "Warned criteria",
        "Benchmarks",
        "Failed benchmarks",
    )
    out.append("## In-VM results")
    out.append("")
    out.append(_row(columns))
    out.append(_row(["---"] * len(columns)))
    for system in with_vm:
        vm = as_mapping(system.get("vm"))
        criteria = as_mappings(vm.get("criteria"))
        benchmarks = as_mappings(vm.get("benchmarks"))
        failed_benchmarks = [str(b.get("id")) for b in benchmarks if b.get("status") == "fail"]
        cells = [
            _text(system.get("host"), "(no host label)"),
            _text(vm.get("passthrough")),
            _failed_cell(criteria),
            _ids(ids_with_status(criteria, "warn")),
            str(len(benchmarks)),
            _ids(failed_benchmarks),
        ]
        out.append(_row(cells))
    out.append("")


def _number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return _DASH if value is None else _text(value)
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def _benchmarks(ordered: list[tuple[str, Mapping[str, Any]]], out: list[str]) -> None:
    rows: list[str] = []
    for _, system in ordered:
        vm = system.get("vm")
        if not isinstance(vm, Mapping):
            continue
        host = _text(system.get("host"), "(no host label)")
        for bench in as_mappings(vm.get("benchmarks")):
            gate = as_mapping(bench.get("gate"))
            rows.append(
                _row(
                    [
                        host,
                        _text(bench.get("id")),
                        _number(bench.get("value")),
                        _text(bench.get("unit")),
                        _number(bench.get("reference")),
                        _number(bench.get("threshold")),
                        _badge(benchmark_label(bench)),
                        _number(bench.get("cv")),
                        _text(gate.get("detail") or bench.get("detail"), _DASH),
                    ]
                )
            )
    if rows:
        columns = ("Host", "Benchmark", "Value", "Unit", "Reference", "Threshold", "Status", "CV", "Detail")
        out.append("## Benchmarks")
        out.append("")
        out.append(_row(columns))
        out.append(_row(["---"] * len(columns)))
        out.extend(rows)
        out.append("")


MAX_SUMMARY_BYTES = 1000 * 1024
"""Default size bound: GitHub refuses a job summary over 1 MiB per step; this leaves room for others."""

_SECTIONS: tuple[tuple[str, Callable[[list[tuple[str, Mapping[str, Any]]], list[str]], None]], ...] = (
    ("the systems table", _table),
    ("the reasons GPUs are not eligible", _blockers),
    ("the in-VM failures", _vm_failures),
    ("the deploy commands", _deploy),
    ("the warnings", _warnings),
    ("the in-VM results", _vm),
    ("the benchmark figures", _benchmarks),
)
"""The sections in the order they are shown."""

_KEEP_FIRST = (
    "the reasons GPUs are not eligible",
    "the in-VM failures",
    "the systems table",
    "the deploy commands",
)
"""Which sections keep their room first when the summary must be cut."""


def _bounded(head: list[str], sections: list[tuple[str, list[str]]], max_bytes: int) -> list[str]:
    """``head`` and the sections, each cut at a line when all of them do not fit in ``max_bytes``."""
    size = _size(head) + 600 + 120 * len(sections)  # room for the notes that say what was cut
    room: dict[str, int] = {}
    order = sorted(
        sections, key=lambda s: _KEEP_FIRST.index(s[0]) if s[0] in _KEEP_FIRST else len(_KEEP_FIRST)
    )
    left = max(0, max_bytes - size)
    for name, lines in order:
        room[name] = min(left, _size(lines))
        left -= room[name]
    out = list(head)
    cut: list[str] = []
    for name, lines in sections:
        if room[name] >= _size(lines):
            out.extend(lines)
            continue
        kept, used = [], 0
        for line in lines:
            if used + len(line.encode()) + 1 > room[name] - 80:
                break
            kept.append(line)
            used += len(line.encode()) + 1
        kept.append(f"*… {len(lines) - len(kept)} more lines of {name} cut to fit the summary.*")
        kept.append("")
        out.extend(kept)
        cut.append(name)
    if cut:
        out.append(
            f"**Cut to stay under {max_bytes} bytes:** part of {', '.join(cut)}. "
            "report.html and compat-report.json hold everything."
        )
    return out


def _size(lines: list[str]) -> int:
    return sum(len(line.encode()) + 1 for line in lines)


def render_markdown(report: Mapping[str, Any], *, max_bytes: int = MAX_SUMMARY_BYTES) -> str:
    """Render a ``eflow-gpu-report/1`` report as a Markdown summary of at most ``max_bytes``.

    Title, run note (a warning quote for the sample lab), the coverage of a narrowed run, the
    regression gate's outcome, counts per system verdict and per GPU verdict; then a table row per
    system and GPU (failures first, the system's verdict first), why each GPU is not eligible
    (detail and remedy), systems in error, in-VM failures, every Deploy-Eflow command, warnings,
    in-VM results and benchmark figures. When that is more than ``max_bytes`` (a CI job summary's
    limit), the least urgent sections are cut at a line and the summary says what was cut.
    Missing fields become dashes instead of raising.
    """
    systems = as_mappings(report.get("systems"))
    ordered = by_attention(systems)
    head: list[str] = []
    _header(report, head)
    _run_notes(report, head)
    _counts(systems, [v for v, _ in ordered], head)
    if waived := waivers_lines(report):
        head.extend(["## Waivers", "", *(f"- {escape_markdown(line)}" for line in waived), ""])
    sections: list[tuple[str, list[str]]] = []
    for name, render in _SECTIONS:
        lines: list[str] = []
        render(ordered, lines)
        if name == "the reasons GPUs are not eligible":
            _errors([s for _, s in ordered], lines)
        sections.append((name, lines))
    return "\n".join(_bounded(head, sections, max_bytes)).rstrip("\n") + "\n"
