"""Evaluating systems end to end: a snapshot in, a :class:`SystemResult` out, errors contained.

One unreadable or malformed snapshot becomes a system with status ``error`` and a one-line reason;
it never stops the evaluation of the others. Everything done for one host (read, parse, facts,
limits, judgement, rendering its part of the report) runs inside :func:`eflowgpu.contain.contained`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eflowgpu.contain import MAX_DEVICES, MAX_GPUS, check_count, contained, one_line
from eflowgpu.host.facts import HostFacts, host_facts
from eflowgpu.host.gpus import discover_gpus
from eflowgpu.matrix import Matrix, Profile
from eflowgpu.matrix.model import kind_of_installation
from eflowgpu.rules import GpuResult, judge_host
from eflowgpu.snapshot import HOST_FORMAT, Snapshot, label_from_path, read_snapshot, snapshot_from_data

if TYPE_CHECKING:
    from eflowgpu.vm.evaluate import VmJudgement, VmRecord


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
    """Read the host snapshot at ``path`` and judge it; any problem becomes an ``error`` system.

    An unreadable file's system is labelled by its file name; a readable one by its ``host``.
    """
    source = str(path)
    read: Snapshot | SystemResult = contained(
        "reading this host snapshot",
        lambda: read_snapshot(path, HOST_FORMAT),
        lambda reason: error_result(label_from_path(path), source, reason),
        source=source,
    )
    return read if isinstance(read, SystemResult) else evaluate_host_snapshot(matrix, profile, read)


def evaluate_host_data(
    matrix: Matrix, profile: Profile, data: Mapping[str, Any], source: str
) -> SystemResult:
    """Judge a host snapshot already in memory (the live collector's output)."""
    read: Snapshot | SystemResult = contained(
        "reading this host snapshot",
        lambda: snapshot_from_data(dict(data), HOST_FORMAT, source=source),
        lambda reason: error_result(label_from_path(source), source, reason),
        source=source,
    )
    return read if isinstance(read, SystemResult) else evaluate_host_snapshot(matrix, profile, read)


def evaluate_host_snapshot(matrix: Matrix, profile: Profile, snapshot: Snapshot) -> SystemResult:
    """Judge a validated snapshot; a failure inside the rules becomes an ``error`` system too."""
    return contained(
        "evaluating this host snapshot",
        lambda: judge_snapshot(matrix, profile, snapshot),
        lambda reason: error_result(snapshot.host, snapshot.source, reason),
        source=snapshot.source,
    )


def judge_snapshot(matrix: Matrix, profile: Profile, snapshot: Snapshot) -> SystemResult:
    """Facts, limits, judgement and the report's rendering of one host (raises; call it contained)."""
    facts = host_facts(snapshot)
    check_host_limits(facts)
    gpus = tuple(judge_host(matrix, profile, facts))
    result = SystemResult(
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
    check_renders(result)
    return result


def check_host_limits(facts: HostFacts) -> None:
    """Raise InputLimitError for a host over the pack's limits on device lists and GPUs."""
    for what, items in (
        ("video controllers", facts.video_controllers),
        ("devices in the DDA survey", facts.pci_survey),
        ("assignable devices", facts.assignable_devices),
        ("partitionable GPUs", facts.partitionable_gpus),
    ):
        check_count(what, len(items or ()), MAX_DEVICES)
    check_count("GPUs", len(discover_gpus(facts)), MAX_GPUS)


def check_renders(result: SystemResult) -> None:
    """Render the system's part of the report as strict JSON, so that a failure is this system's."""
    from eflowgpu.report.model import system_dict
    from eflowgpu.textsafe import strict_json

    json.dumps(strict_json(system_dict(result)), ensure_ascii=False, allow_nan=False)  # compact: C encoder


def evaluate_host_files(matrix: Matrix, profile: Profile, paths: Iterable[Path | str]) -> list[SystemResult]:
    """Judge many host snapshot files, in order."""
    return [evaluate_host_file(matrix, profile, path) for path in paths]


def error_result(host: str, source: str, reason: str) -> SystemResult:
    """A system that could not be evaluated, with its one-line reason."""
    return SystemResult(host=host, source=source, status="error", error=one_line(reason))


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
