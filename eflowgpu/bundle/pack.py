"""Making a bundle: one ``.tar.gz`` with a run's raw evidence, its reports and a manifest.

The report folder's ``compat-report.json`` says what to package: every snapshot its systems name
(``systems[].source`` and ``vm.source``; a live run's ``*-snapshot.json`` are among them), the
matrix it was judged by (checked against the SHA-256 the report names), and beside it the human
reports, JUnit XML and pytest-benchmark JSON of the run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eflowgpu.bundle.archive import write_archive
from eflowgpu.bundle.manifest import (
    MANIFEST_NAME,
    REPORT_MEMBER,
    SIGNATURE_NAME,
    AbsentEntry,
    Manifest,
    SnapshotEntry,
    SnapshotKind,
    file_entry,
)
from eflowgpu.bundle.signing import load_private_key, sign
from eflowgpu.errors import EflowGpuError, SnapshotError
from eflowgpu.fleet.load import REPORT_FORMAT, REPORT_NAME, ReportError, parse_timestamp, read_json_limited
from eflowgpu.report.allure_meta import base_environment
from eflowgpu.report.labels import as_mapping, as_mappings
from eflowgpu.snapshot import HOST_FORMAT, MAX_FILE_BYTES, VM_FORMAT, parse_snapshot

HUMAN_REPORTS = ("report.html", "report.md")


class BundleError(EflowGpuError):
    """The bundle cannot be made (one line naming what is missing or wrong)."""


@dataclass(frozen=True)
class BundleSummary:
    """What :func:`make_bundle` packaged."""

    path: Path
    files: int
    snapshots: int
    signed: bool
    sha256: str


def make_bundle(
    report_dir: Path,
    out: Path,
    *,
    submitter: str | None = None,
    sign_key: Path | None = None,
    matrix: Path | None = None,
    base: Path | None = None,
) -> BundleSummary:
    """Package the run in ``report_dir`` into ``out``.

    Relative snapshot sources are looked up from ``base`` (default: the working folder), then from
    the folder of the matrix the report names (the project), the report folder's parent and the
    report folder. ``matrix`` replaces the matrix path the
    report names (its SHA-256 must still match).

    Raises:
        BundleError: the report, a snapshot or the matrix is missing or not the one named.
    """
    key = load_private_key(sign_key) if sign_key is not None else None
    report_path = report_dir / REPORT_NAME
    report_raw = _read(report_path, "the report")
    try:
        report = read_json_limited(report_path)
    except ReportError as exc:
        raise BundleError(f"{report_path}: {exc}") from None
    if not isinstance(report, Mapping) or report.get("format") != REPORT_FORMAT:
        raise BundleError(f"{report_path} is not an {REPORT_FORMAT} report")
    matrix_info = as_mapping(report.get("matrix"))
    named_matrix = Path(str(matrix_info.get("path") or "matrix.yaml"))
    roots = [base or Path.cwd(), named_matrix.parent, report_dir.parent, report_dir]
    files: dict[str, bytes] = {REPORT_MEMBER: report_raw}
    absent: list[AbsentEntry] = []
    snapshots = _snapshots(report, roots, files, absent)
    matrix_file = matrix or named_matrix
    matrix_raw = _read(_locate(str(matrix_file), roots) or matrix_file, "the matrix")
    matrix_sha = hashlib.sha256(matrix_raw).hexdigest()
    if matrix_sha != matrix_info.get("sha256"):
        raise BundleError(
            f"the matrix {matrix_file} (sha256 {matrix_sha[:12]}…) is not the one the report was judged by "
            f"(sha256 {str(matrix_info.get('sha256'))[:12]}…): give the right one with --matrix"
        )
    matrix_member = f"matrix/{_member_name(Path(str(matrix_file)).name)}"
    files[matrix_member] = matrix_raw
    benchmarks = _beside(report_dir, files)
    environment = base_environment()
    waivers = as_mapping(report.get("waivers"))
    manifest = Manifest(
        pack_version=environment["pack.version"],
        report_generated_at=str(report.get("generated_at") or ""),
        python=environment["python"],
        platform=environment["platform"],
        submitter=submitter,
        profile=str(matrix_info.get("profile") or ""),
        matrix_file=matrix_member,
        matrix_path=str(matrix_info.get("path") or matrix_file),
        matrix_sha256=matrix_sha,
        files={name: file_entry(data) for name, data in files.items()},
        snapshots=tuple(snapshots),
        benchmarks=tuple(benchmarks),
        waivers=_waivers_record(waivers) if waivers else None,
        absent=tuple(absent),
    )
    packaged = dict(files)
    packaged[MANIFEST_NAME] = manifest.to_bytes()
    if key is not None:
        packaged[SIGNATURE_NAME] = sign(key, packaged[MANIFEST_NAME])
    when = parse_timestamp(report.get("generated_at"))
    write_archive(out, packaged, mtime=int(when.timestamp()) if when else 0)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    return BundleSummary(out, len(packaged), len(snapshots), key is not None, digest)


def _read(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise BundleError(f"{what} {path} is over the {MAX_FILE_BYTES} byte limit")
        return path.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _locate(source: str, roots: Sequence[Path]) -> Path | None:
    path = Path(source)
    candidates = [path] if path.is_absolute() else [root / path for root in roots]
    if not path.is_absolute():
        candidates.append(roots[-1] / path.name)
    return next((c for c in candidates if c.is_file()), None)


def _member_name(name: str) -> str:
    cleaned = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_" for ch in name)
    return cleaned.lstrip(".")[:120] or "snapshot.json"


def _snapshots(
    report: Mapping[str, Any], roots: Sequence[Path], files: dict[str, bytes], absent: list[AbsentEntry]
) -> list[SnapshotEntry]:
    """Package every snapshot the report's systems name; host or VM, as the report judged it.

    A system in error whose source is no file (a collector or transport that failed) goes to
    ``absent`` instead.
    """
    entries: list[SnapshotEntry] = []
    seen: set[str] = set()
    for system in as_mappings(report.get("systems")):
        vm = as_mapping(system.get("vm"))
        wanted: list[tuple[object, SnapshotKind | None]] = [(system.get("source"), None)]
        if vm:
            wanted.append((vm.get("source"), "vm"))
        for source, kind in wanted:
            if not isinstance(source, str) or source in seen:
                continue
            seen.add(source)
            path = _locate(source, roots)
            if path is None and system.get("status") == "error" and kind is None:
                absent.append(AbsentEntry(str(system.get("host")), source, str(system.get("error"))))
                continue
            if path is None:
                raise BundleError(
                    f"snapshot {source} (system {system.get('host')}) not found: run bundle from the "
                    "folder the pack ran in"
                )
            raw = _read(path, "the snapshot")
            kind = kind or _kind_of(system, source, raw)
            member = f"snapshots/{kind}/{_member_name(path.name)}"
            stem, dot, ext = member.rpartition(".")
            number = 2
            while member in files:
                member = f"{stem}-{number}{dot}{ext}"
                number += 1
            files[member] = raw
            entries.append(SnapshotEntry(member, source, kind))
    return entries


def _kind_of(system: Mapping[str, Any], source: str, raw: bytes) -> SnapshotKind:
    """Host or VM for a system's own source: a VM-only system's source is its VM's; an unreadable
    snapshot is the kind whose reader gives the error the report shows."""
    if as_mapping(system.get("vm")).get("source") == source:
        return "vm"
    if system.get("status") != "error":
        return "host"
    errors = []
    for expected in (HOST_FORMAT, VM_FORMAT):
        try:
            parse_snapshot(raw, expected, source=source)
        except SnapshotError as exc:
            errors.append(" ".join(str(exc).split()))
        else:
            errors.append("")
    if errors[0] != errors[1]:
        return "host" if errors[0] == system.get("error") else "vm"
    # Both readers say the same (corrupt JSON): the format named in the bytes tells which it was.
    return "vm" if VM_FORMAT.encode() in raw and HOST_FORMAT.encode() not in raw else "host"


def _beside(report_dir: Path, files: dict[str, bytes]) -> list[str]:
    """The human reports, JUnit XML and pytest-benchmark JSON in the report folder; the benchmark names."""
    benchmarks = []
    for path in sorted(report_dir.iterdir()):
        if not path.is_file() or path.name == REPORT_NAME:
            continue
        member = f"report/{_member_name(path.name)}"
        if path.name in HUMAN_REPORTS or path.suffix == ".xml":
            files[member] = _read(path, "the report file")
        elif path.suffix == ".json" and _is_pytest_benchmark(path):
            files[member] = _read(path, "the benchmark file")
            benchmarks.append(member)
    return benchmarks


def _is_pytest_benchmark(path: Path) -> bool:
    try:
        data = read_json_limited(path)
    except ReportError:
        return False
    return isinstance(data, dict) and isinstance(data.get("benchmarks"), list) and "machine_info" in data


def _waivers_record(section: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's record of the waivers the run applied (the report holds their full text)."""
    return {
        "file": section.get("file"),
        "sha256": section.get("sha256"),
        "judged_on": section.get("judged_on"),
        "applied": sorted({str(a.get("waiver")) for a in as_mappings(section.get("applied"))}),
    }
