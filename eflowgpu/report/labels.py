"""Labels, colours and small summaries shared by the HTML and Markdown reports.

Both renderers read the report dict, whose strings come from untrusted snapshots. Nothing here
escapes anything: a :class:`Label`'s ``key`` is always one of this module's fixed tokens (safe as a
CSS class), but its ``text`` may echo an unexpected value from the report and must be escaped by
the renderer like any other report string.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

VERDICTS: tuple[str, ...] = (
    "eligible",
    "eligible-with-warnings",
    "incomplete",
    "not-eligible",
    "unsupported",
)
"""The contract's GPU verdicts, from best to worst (the order of the summary counts)."""

STATUSES: tuple[str, ...] = ("pass", "fail", "warn", "unknown", "skip", "waived")
"""The contract's criterion statuses."""

ELIGIBLE_VERDICTS: frozenset[str] = frozenset({"eligible", "eligible-with-warnings"})
"""Verdicts under which the GPU can be passed through."""


@dataclass(frozen=True, slots=True)
class Label:
    """How one verdict or status is shown.

    ``key`` is a fixed token (used in CSS class names), ``text`` the short label of an HTML badge,
    ``badge`` the upper-case text badge of the Markdown report, ``background``/``foreground`` the
    badge colours.
    """

    key: str
    text: str
    badge: str
    background: str
    foreground: str


_VERDICT_LABELS: Mapping[str, Label] = MappingProxyType(
    {
        "eligible": Label("eligible", "eligible", "ELIGIBLE", "#1a7f37", "#ffffff"),
        "eligible-with-warnings": Label(
            "warnings", "eligible with warnings", "ELIGIBLE (WARNINGS)", "#f0a800", "#2b1d00"
        ),
        "incomplete": Label("incomplete", "incomplete", "INCOMPLETE", "#4f6d8a", "#ffffff"),
        "not-eligible": Label("not-eligible", "not eligible", "NOT ELIGIBLE", "#c62828", "#ffffff"),
        "unsupported": Label("unsupported", "unsupported", "UNSUPPORTED", "#374151", "#ffffff"),
    }
)

_STATUS_LABELS: Mapping[str, Label] = MappingProxyType(
    {
        "pass": Label("pass", "pass", "PASS", "#1a7f37", "#ffffff"),
        "fail": Label("fail", "fail", "FAIL", "#c62828", "#ffffff"),
        "warn": Label("warn", "warn", "WARN", "#f0a800", "#2b1d00"),
        "unknown": Label("unknown", "unknown", "UNKNOWN", "#4f6d8a", "#ffffff"),
        "skip": Label("skip", "skip", "SKIP", "#d0d7de", "#24292f"),
        "waived": Label("waived", "waived", "WAIVED", "#8250df", "#ffffff"),
    }
)

MEASURED_LABEL = Label("measured", "measured, not judged", "MEASURED", "#ddf4ff", "#0a3069")
"""A benchmark figure with no reference to judge it by (``skip`` with a value): pytest passes it."""

ERROR_LABEL = Label("error", "error", "ERROR", "#6f2da8", "#ffffff")
"""A system whose snapshot could not be read or evaluated."""

NO_GPU_LABEL = Label("no-gpu", "no GPU", "NO GPU", "#d0d7de", "#24292f")
"""A system that was evaluated but has no NVIDIA GPU."""

_OTHER_COLOURS = ("#8c959f", "#ffffff")


def all_labels() -> tuple[Label, ...]:
    """Every fixed label (verdicts, statuses, error, no GPU, measured, other), for style sheets."""
    other = Label("other", "other", "OTHER", *_OTHER_COLOURS)
    return (
        *_VERDICT_LABELS.values(),
        *_STATUS_LABELS.values(),
        ERROR_LABEL,
        NO_GPU_LABEL,
        MEASURED_LABEL,
        other,
    )


def _other(value: object) -> Label:
    text = "unknown" if value is None else str(value)
    return Label("other", text, text.upper(), *_OTHER_COLOURS)


def verdict_label(verdict: object) -> Label:
    """The label of a GPU verdict; a value outside the contract gets a neutral ``other`` label."""
    if isinstance(verdict, str) and verdict in _VERDICT_LABELS:
        return _VERDICT_LABELS[verdict]
    return _other(verdict)


def status_label(status: object) -> Label:
    """The label of a criterion or benchmark status; unexpected values get a neutral label."""
    if isinstance(status, str) and status in _STATUS_LABELS:
        return _STATUS_LABELS[status]
    return _other(status)


def system_verdict_label(verdict: object) -> Label:
    """The label of a system verdict: a GPU verdict's, or :data:`ERROR_LABEL` for ``error``."""
    return ERROR_LABEL if verdict == "error" else verdict_label(verdict)


def benchmark_label(bench: Mapping[str, Any]) -> Label:
    """The label of a benchmark entry: its status's, but ``measured`` for a figure nobody judged.

    A CPU benchmark has no reference, so its entry says ``skip`` although it gave a figure and its
    pytest test passed: shown as "measured, not judged" rather than as a skip with a value.
    """
    status = bench.get("status")
    value = bench.get("value")
    if status == "skip" and isinstance(value, int | float) and not isinstance(value, bool):
        return MEASURED_LABEL
    return status_label(status)


def as_mapping(value: object) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one (the report may be damaged or partial)."""
    return value if isinstance(value, Mapping) else MappingProxyType({})


def as_mappings(value: object) -> list[Mapping[str, Any]]:
    """The mappings in ``value`` if it is a list or tuple; anything else gives an empty list."""
    if not isinstance(value, list | tuple):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def criterion_rank(criterion: Mapping[str, Any]) -> int:
    """Sort rank of a criterion: failed required first, then failures, unknown required, warnings."""
    status = criterion.get("status")
    required = criterion.get("required") is True
    if status == "fail":
        return 0 if required else 1
    if status == "unknown" and required:
        return 2
    if status == "warn":
        return 3
    if status == "unknown":
        return 4
    if status == "waived":
        return 5  # a failure a waiver covers: shown before the passes, never as one
    if status == "pass":
        return 6
    if status == "skip":
        return 7
    return 5  # a status outside the contract: show it before the passes, like a waiver


def sort_criteria(criteria: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The criteria with the ones that need attention first; otherwise in their given order."""
    return sorted(criteria, key=criterion_rank)


def ids_with_status(
    criteria: Iterable[Mapping[str, Any]], status: str, *, required_only: bool = False
) -> list[str]:
    """The ids (as strings) of the criteria with ``status``, optionally only the required ones."""
    return [
        str(c.get("id"))
        for c in criteria
        if c.get("status") == status and (not required_only or c.get("required") is True)
    ]


def verdict_counts(systems: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """GPUs per verdict over the ``ok`` systems: every contract verdict (possibly 0), then others."""
    counts = dict.fromkeys(VERDICTS, 0)
    for system in systems:
        if system.get("status") == "error":
            continue
        for gpu in as_mappings(system.get("gpus")):
            verdict = gpu.get("verdict")
            key = verdict if isinstance(verdict, str) else str(verdict)
            counts[key] = counts.get(key, 0) + 1
    return counts


def error_count(systems: Iterable[Mapping[str, Any]]) -> int:
    """How many systems are in error."""
    return sum(1 for system in systems if system.get("status") == "error")


def waiver_text(criterion: Mapping[str, Any]) -> str | None:
    """``waived by ID (approved by WHO, expires DATE): REASON`` for a waived criterion, else None.

    Unescaped: the waiver's strings come from a waivers file and must be escaped by the renderer.
    """
    waiver = as_mapping(criterion.get("waiver"))
    if criterion.get("status") != "waived" or not waiver:
        return None
    return (
        f"waived by {waiver.get('id')} (approved by {waiver.get('approved_by')}, "
        f"expires {waiver.get('expires')}): {waiver.get('reason')}"
    )


def waivers_lines(report: Mapping[str, Any]) -> list[str]:
    """The report's ``waivers`` section in a few unescaped lines (none when the run had no waivers)."""
    section = as_mapping(report.get("waivers"))
    if not section:
        return []
    applied = as_mappings(section.get("applied"))
    lines = [
        f"Waivers file {section.get('file')} (judged on {section.get('judged_on')}): "
        f"{len(applied)} failure(s) waived."
    ]
    lines += [
        f"{a.get('waiver')}: {a.get('host')} / {a.get('gpu')} / {a.get('criterion')} waived" for a in applied
    ]
    lines += [
        f"{w.get('id')}: expired on {w.get('expires')}, not applied"
        for w in as_mappings(section.get("expired"))
    ]
    lines += [
        f"{w.get('id')}: matched no failure ({w.get('criterion')})"
        for w in as_mappings(section.get("unmatched"))
    ]
    return lines
