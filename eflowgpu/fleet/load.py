"""Reading ``compat-report.json`` files for the fleet: bounded, validated, never fatal.

A file that is too big, not JSON, or not an ``eflow-gpu-report/1`` document becomes an
:class:`~eflowgpu.fleet.model.InputError` with one line a person can act on; the merge goes on with
the others. Values of unexpected types inside a valid report are read as missing (``None``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eflowgpu.contain import contained
from eflowgpu.fleet.model import Benchmark, FleetSystem, GpuEntry, InputError, OsInfo
from eflowgpu.report.labels import as_mapping, as_mappings

REPORT_FORMAT = "eflow-gpu-report/1"
REPORT_NAME = "compat-report.json"
MAX_REPORT_BYTES = 64 * 1024 * 1024
"""Reports larger than this are refused (a lab of thousands of hosts stays well below)."""


@dataclass(frozen=True, slots=True)
class LoadedReport:
    """One readable report: when it was generated and its systems."""

    path: str
    generated_at: str
    when: datetime
    systems: tuple[FleetSystem, ...]
    profile: str | None = None
    matrix_sha256: str | None = None


class ReportError(ValueError):
    """A file that is not a readable report (the message is one line)."""


def find_reports(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """Expand ``paths``: files as given, folders searched recursively for ``compat-report.json``.

    Returns the report files (folder contents sorted) and the paths that do not exist.
    """
    found: list[Path] = []
    missing: list[str] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob(REPORT_NAME) if p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            missing.append(str(path))
    return found, missing


def read_json_limited(path: Path, max_bytes: int = MAX_REPORT_BYTES) -> Any:
    """Parse the JSON file at ``path``, refusing one over ``max_bytes``; errors are :class:`ReportError`."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ReportError(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise ReportError(f"larger than the limit of {max_bytes} bytes")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ReportError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise ReportError("not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer over Python's digit limit
        raise ReportError(f"not readable JSON ({' '.join(str(exc).split())[:120]})") from None


def is_bundle(path: Path) -> bool:
    """True for a package made by ``eflowgpu bundle`` (by its name: ``.tar.gz`` or ``.tgz``)."""
    return path.name.lower().endswith((".tar.gz", ".tgz"))


def bundled_report(path: Path) -> Any:
    """The report inside a package, once the package verifies; else :class:`ReportError`."""
    from eflowgpu.bundle.verify import verified_report  # the bundle package reads reports with this module

    return verified_report(path)


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 timestamp (``…Z`` or with an offset) as an aware UTC datetime, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.astimezone(UTC)
    except (ValueError, OverflowError):  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _os(value: object) -> OsInfo | None:
    if not isinstance(value, Mapping):
        return None
    return OsInfo(
        name=_str(value.get("name")),
        edition=_str(value.get("edition")),
        build=_int(value.get("build")),
        ubr=_int(value.get("ubr")),
        installation_type=_str(value.get("installation_type")),
    )


def _gpu(gpu: Mapping[str, Any]) -> GpuEntry:
    return GpuEntry(
        name=_str(gpu.get("name")),
        pci_id=_str(gpu.get("pci_id")),
        model=_str(gpu.get("model")),
        brand=_str(gpu.get("brand")),
        passthrough=_str(gpu.get("passthrough")),
        verdict=_str(gpu.get("verdict")),
        criteria=not_passed(gpu.get("criteria")),
    )


def not_passed(criteria: object) -> tuple[tuple[str, str], ...]:
    """``(id, status)`` of the criteria (report or fleet JSON) that did not pass or skip."""
    return tuple(
        (c["id"], c["status"])
        for c in as_mappings(criteria)
        if isinstance(c.get("id"), str)
        and isinstance(c.get("status"), str)
        and c["status"] not in ("pass", "skip")
    )


def parse_benchmark(bench: Mapping[str, Any]) -> Benchmark | None:
    """A benchmark entry (report or fleet JSON), or None without a string ``id``."""
    bench_id = _str(bench.get("id"))
    if bench_id is None:
        return None
    return Benchmark(
        id=bench_id,
        value=_num(bench.get("value")),
        unit=_str(bench.get("unit")),
        reference=_num(bench.get("reference")),
        threshold=_num(bench.get("threshold")),
        ratio=_num(bench.get("ratio")),
        status=_str(bench.get("status")),
    )


def _system(
    system: Mapping[str, Any], path: str, generated_at: str, profile: str | None, sha: str | None
) -> FleetSystem:
    vm = as_mapping(system.get("vm"))
    benchmarks = tuple(b for b in map(parse_benchmark, as_mappings(vm.get("benchmarks"))) if b is not None)
    return FleetSystem(
        host=system["host"],
        report=path,
        generated_at=generated_at,
        profile=profile,
        source=_str(system.get("source")),
        status=_str(system.get("status")) or "ok",
        error=_str(system.get("error")),
        os=_os(system.get("os")),
        gpus=tuple(_gpu(g) for g in as_mappings(system.get("gpus"))),
        benchmarks=benchmarks,
        matrix_sha256=sha,
    )


def load_report(
    path: Path, max_bytes: int = MAX_REPORT_BYTES
) -> tuple[LoadedReport | None, list[InputError]]:
    """Read one report: the report (or None) and the input errors (the whole file, or bad systems).

    Never raises: whatever goes wrong with one file (an internal error included, said as such) is
    an input error of that file, and the fleet goes on with the others.
    """
    return contained(
        "reading this report",
        lambda: _load_report(path, max_bytes),
        lambda reason: (None, [InputError(str(path), reason)]),
        source=str(path),
        evidence="the report file",
    )


def _load_report(path: Path, max_bytes: int) -> tuple[LoadedReport | None, list[InputError]]:
    where = str(path)
    try:
        document = read_json_limited(path, max_bytes) if not is_bundle(path) else bundled_report(path)
    except ReportError as exc:
        return None, [InputError(where, str(exc))]
    if not isinstance(document, Mapping):
        return None, [InputError(where, "not an eflow-gpu-report/1 document (not a JSON object)")]
    found = document.get("format")
    if found != REPORT_FORMAT:
        shown = json.dumps(found)[:80] if found is not None else "none"
        return None, [InputError(where, f"not an {REPORT_FORMAT} document (format {shown})")]
    generated_at = document.get("generated_at")
    when = parse_timestamp(generated_at)
    if when is None or not isinstance(generated_at, str):
        return None, [InputError(where, "no valid generated_at timestamp")]
    systems = document.get("systems")
    if not isinstance(systems, list):
        return None, [InputError(where, "no systems list")]
    profile = _str(as_mapping(document.get("matrix")).get("profile"))
    sha = _str(as_mapping(document.get("matrix")).get("sha256")) or None
    errors: list[InputError] = []
    parsed: list[FleetSystem] = []
    for index, system in enumerate(systems):
        if not isinstance(system, Mapping) or not isinstance(system.get("host"), str):
            errors.append(InputError(where, f"systems[{index}] has no host label, skipped"))
            continue
        parsed.append(_system(system, where, generated_at, profile, sha))
    return LoadedReport(where, generated_at, when, tuple(parsed), profile, sha), errors
