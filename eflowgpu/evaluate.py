"""Evaluating systems end to end: a snapshot in, a :class:`SystemResult` out, errors contained.

One unreadable or malformed snapshot becomes a system with status ``error`` and a one-line reason;
it never stops the evaluation of the others.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eflowgpu.errors import SnapshotError
from eflowgpu.host.facts import HostFacts, host_facts
from eflowgpu.matrix import Matrix, Profile
from eflowgpu.matrix.model import kind_of_installation
from eflowgpu.rules import GpuResult, judge_host
from eflowgpu.snapshot import HOST_FORMAT, Snapshot, label_from_path, read_snapshot, snapshot_from_data

if TYPE_CHECKING:
    from eflowgpu.vm.evaluate import VmJudgement, VmRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OsSummary:
    """The Windows release of a system, as the report shows it."""

    edition: str | None
    build: int | None
    ubr: int | None
    installation_type: str | None
    name: str | None


@dataclass(frozen=True)
class SystemResult:
    """The judgement of one system (host), or why it could not be judged."""

    host: str
    source: str
    status: str
    error: str | None
    os: OsSummary | None = None
    gpus: tuple[GpuResult, ...] = ()
    collector: str | None = None
    captured_at: str | None = None
    vm: VmJudgement | VmRecord | None = field(default=None)
    """The system's VM: judged, or a record whose snapshot was unreadable, or None."""
    facts: HostFacts | None = field(default=None, repr=False, compare=False)
    """The host's facts the GPUs were judged on (for site checks), or None."""


def evaluate_host_file(matrix: Matrix, profile: Profile, path: Path | str) -> SystemResult:
    """Read the host snapshot at ``path`` and judge it; any problem becomes an ``error`` system."""
    source = str(path)
    try:
        snapshot = read_snapshot(path, HOST_FORMAT)
    except SnapshotError as exc:
        return error_result(label_from_path(path), source, str(exc))
    return evaluate_host_snapshot(matrix, profile, snapshot)


def evaluate_host_data(
    matrix: Matrix, profile: Profile, data: Mapping[str, Any], source: str
) -> SystemResult:
    """Judge a host snapshot already in memory (the live collector's output)."""
    try:
        snapshot = snapshot_from_data(dict(data), HOST_FORMAT, source=source)
    except SnapshotError as exc:
        return error_result(label_from_path(source), source, str(exc))
    return evaluate_host_snapshot(matrix, profile, snapshot)


def evaluate_host_snapshot(matrix: Matrix, profile: Profile, snapshot: Snapshot) -> SystemResult:
    """Judge a validated snapshot; a failure inside the rules becomes an ``error`` system too."""
    try:
        facts = host_facts(snapshot)
        gpus = tuple(judge_host(matrix, profile, facts))
    except Exception as exc:  # a bug must not lose the other systems; it is reported, not hidden
        log.exception("evaluating %s failed", snapshot.source)
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        return error_result(
            snapshot.host,
            snapshot.source,
            f"the pack failed while evaluating this snapshot ({type(exc).__name__}: {first}); "
            "please report it with the snapshot",
        )
    return SystemResult(
        host=snapshot.host,
        source=snapshot.source,
        status="ok",
        error=None,
        os=os_summary(matrix, facts),
        gpus=gpus,
        collector=snapshot.collector,
        captured_at=snapshot.captured_at,
        facts=facts,
    )


def evaluate_host_files(matrix: Matrix, profile: Profile, paths: Iterable[Path | str]) -> list[SystemResult]:
    """Judge many host snapshot files, in order."""
    return [evaluate_host_file(matrix, profile, path) for path in paths]


def error_result(host: str, source: str, reason: str) -> SystemResult:
    """A system that could not be evaluated, with its one-line reason."""
    return SystemResult(host=host, source=source, status="error", error=" ".join(reason.split()))


def os_summary(matrix: Matrix, facts: HostFacts) -> OsSummary | None:
    """The report's ``os`` object from the facts, or None when the os probe gave nothing."""
    info = facts.os
    if info is None:
        return None
    build = info.build.build if info.build else None
    group = matrix.edition_group(info.edition_id)
    kind = group.kind if group else kind_of_installation(info.installation_type or "")
    name = matrix.release_name(build, kind) if build is not None else None
    return OsSummary(
        info.edition_id, build, info.build.ubr if info.build else None, info.installation_type, name
    )
