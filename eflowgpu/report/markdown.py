"""The Markdown compatibility summary, for a GitHub Actions job summary or a pull request.

Every string from the report goes through :func:`escape_markdown`: snapshots are untrusted, and
GitHub renders inline HTML in job summaries, so a host label must not be able to break the table,
start a heading or inject a tag. The output depends only on the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from eflowgpu.report.labels import (
    ELIGIBLE_VERDICTS,
    ERROR_LABEL,
    NO_GPU_LABEL,
    Label,
    as_mapping,
    as_mappings,
    error_count,
    ids_with_status,
    sort_criteria,
    status_label,
    verdict_counts,
    verdict_label,
)

TITLE = "EFLOW GPU compatibility report"
_DASH = "\u2014"
_TABLE_COLUMNS = ("Host", "GPU", "Model", "Passthrough", "Verdict", "Failed", "Warned")

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


def _counts(systems: list[Mapping[str, Any]], out: list[str]) -> None:
    counts = verdict_counts(systems)
    parts = [f"{count} {escape_markdown(verdict)}" for verdict, count in counts.items()]
    errors = error_count(systems)
    out.append(
        f"**Verdicts:** {', '.join(parts)}. **Systems in error:** {errors}. "
        f"{len(systems)} systems, {sum(counts.values())} GPUs."
    )
    out.append("")


def _failed_cell(criteria: list[Mapping[str, Any]]) -> str:
    failed = ids_with_status(criteria, "fail")
    failed += [f"{i} (unknown)" for i in ids_with_status(criteria, "unknown", required_only=True)]
    return _ids(failed)


def _table(systems: list[Mapping[str, Any]], out: list[str]) -> None:
    out.append(_row(_TABLE_COLUMNS))
    out.append(_row(["---"] * len(_TABLE_COLUMNS)))
    for system in systems:
        host = _text(system.get("host"), "(no host label)")
        if system.get("status") == "error":
            cells = [host, "(not evaluated, see below)", _DASH, _DASH, _badge(ERROR_LABEL), _DASH, _DASH]
            out.append(_row(cells))
            continue
        gpus = as_mappings(system.get("gpus"))
        if not gpus:
            out.append(_row([host, "no GPU found", _DASH, _DASH, _badge(NO_GPU_LABEL), _DASH, _DASH]))
        for gpu in gpus:
            criteria = as_mappings(gpu.get("criteria"))
            cells = [
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


def _blockers(systems: list[Mapping[str, Any]], out: list[str]) -> None:
    sections: list[str] = []
    for system in systems:
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
            blocking = [
                c
                for c in sort_criteria(as_mappings(gpu.get("criteria")))
                if c.get("status") == "fail" or (c.get("status") == "unknown" and c.get("required") is True)
            ]
            for criterion in blocking:
                status = status_label(criterion.get("status")).text
                kind = "required, " if criterion.get("required") is True else ""
                line = f"- {_text(criterion.get('id'))} ({kind}{escape_markdown(status)}): "
                line += _text(criterion.get("detail"), "no detail given")
                if criterion.get("remedy"):
                    line += f" Remedy: {escape_markdown(criterion['remedy'])}"
                sections.append(line)
            if not blocking:
                sections.append("- no failed criterion was reported")
            sections.append("")
    if sections:
        out.append("## Why GPUs are not eligible")
        out.append("")
        out.extend(sections)


def _vm(systems: list[Mapping[str, Any]], out: list[str]) -> None:
    with_vm = [s for s in systems if isinstance(s.get("vm"), Mapping)]
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


def render_markdown(report: Mapping[str, Any]) -> str:
    """Render a ``eflow-gpu-report/1`` report as a Markdown summary.

    Title, run note (a warning quote for the sample lab), verdict counts, one table row per
    system and GPU (systems in error and systems without a GPU get a row too), the systems in
    error with their reason, the blocking criteria of each GPU that is not eligible, and a short
    table of in-VM results when there are any. Missing fields become dashes instead of raising.
    """
    systems = as_mappings(report.get("systems"))
    out: list[str] = []
    _header(report, out)
    _counts(systems, out)
    _table(systems, out)
    _errors(systems, out)
    _blockers(systems, out)
    _vm(systems, out)
    return "\n".join(out).rstrip("\n") + "\n"
