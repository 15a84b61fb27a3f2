"""Checking benchmark figures that cannot be re-measured against the packaged pytest-benchmark samples.

A snapshot holds no benchmark: the figures in ``vm.benchmarks`` were measured once, on the
vendor's machine. What the certifier can check is that they are consistent with the run's
pytest-benchmark JSON (``--benchmark-json``): the same figure in its ``extra_info``, as many rounds
as samples, the same median sample duration, and, where the raw samples were saved
(``--benchmark-save-data``), their median.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eflowgpu.report.labels import as_mapping, as_mappings

REL_TOLERANCE = 1e-6


@dataclass
class BenchCheck:
    """The outcome: problems (inconsistencies) and notes (what was and could not be checked)."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: int = 0


def _close(a: object, b: object) -> bool:
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=REL_TOLERANCE, abs_tol=1e-12)


def measured_figures(report: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The report's measured benchmark entries (with a value), by id."""
    figures: dict[str, Mapping[str, Any]] = {}
    for system in as_mappings(report.get("systems")):
        for entry in as_mappings(as_mapping(system.get("vm")).get("benchmarks")):
            if isinstance(entry.get("id"), str) and entry.get("value") is not None:
                figures.setdefault(str(entry["id"]), entry)
    return figures


def check_benchmarks(report: Mapping[str, Any], files: Mapping[str, bytes]) -> BenchCheck:
    """Compare the report's figures with the pytest-benchmark records in ``files`` (name to bytes)."""
    result = BenchCheck()
    figures = measured_figures(report)
    if not figures:
        result.notes.append("the report has no measured benchmark figures")
        return result
    result.notes.append(
        f"benchmark figures cannot be re-measured from snapshots: {len(figures)} figure(s) are checked "
        "for consistency with the packaged pytest-benchmark samples instead"
    )
    records: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for name, raw in sorted(files.items()):
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            result.problems.append(f"{name}: not valid pytest-benchmark JSON")
            continue
        for record in as_mappings(as_mapping(data).get("benchmarks")):
            bench_id = as_mapping(record.get("extra_info")).get("id")
            if isinstance(bench_id, str):
                records.setdefault(bench_id, (name, record))
    if not files:
        result.notes.append("the package has no pytest-benchmark JSON: the figures are not checked")
        return result
    for bench_id, entry in figures.items():
        if bench_id not in records:
            result.problems.append(f"benchmark {bench_id}: in the report, but in no pytest-benchmark record")
            continue
        name, record = records[bench_id]
        result.problems.extend(f"benchmark {bench_id} ({name}): {p}" for p in _inconsistencies(entry, record))
        result.checked += 1
    return result


def _inconsistencies(entry: Mapping[str, Any], record: Mapping[str, Any]) -> list[str]:
    extra, stats = as_mapping(record.get("extra_info")), as_mapping(record.get("stats"))
    out = []
    if not _close(entry.get("value"), extra.get("value")):
        out.append(f"the report says {entry.get('value')}, the pytest-benchmark record {extra.get('value')}")
    if entry.get("samples") != stats.get("rounds"):
        out.append(f"{entry.get('samples')} samples in the report, {stats.get('rounds')} rounds recorded")
    if entry.get("median_s") is not None and not _close(entry.get("median_s"), stats.get("median")):
        out.append(f"median sample {entry.get('median_s')} s in the report, {stats.get('median')} s recorded")
    data = stats.get("data")
    if isinstance(data, list) and data and all(isinstance(x, int | float) for x in data):
        median = statistics.median(data)
        if not _close(median, stats.get("median")):
            out.append(f"the recorded samples' median is {median} s, not the {stats.get('median')} s stated")
    return out
