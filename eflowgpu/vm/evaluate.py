"""Evaluating VM snapshots and joining them to host systems by the host label.

A host snapshot and a VM snapshot of the same system end up in one system entry: the VM's
``host`` field (or a VM label of the form ``<host>-EFLOW``) names the Windows host. A VM snapshot
that cannot be read becomes an error for that VM only.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eflowgpu.criteria import Criterion
from eflowgpu.errors import SnapshotError
from eflowgpu.evaluate import SystemResult
from eflowgpu.matrix import Matrix
from eflowgpu.rules.vm import VmExpectation, judge_vm
from eflowgpu.snapshot import VM_FORMAT, Snapshot, label_from_path, read_snapshot, snapshot_from_data
from eflowgpu.vm.facts import VmFacts, vm_facts
from eflowgpu.vm.observe import ObservedGpu, VmObservation, VmPassthrough, observe

log = logging.getLogger(__name__)
EFLOW_SUFFIX = "-EFLOW"


@dataclass(frozen=True)
class VmRecord:
    """A VM snapshot read and observed (not yet judged: the judgement needs the host)."""

    source: str
    label: str
    host: str | None
    error: str | None = None
    facts: VmFacts | None = None
    seen: VmObservation | None = None
    captured_at: str | None = None


@dataclass(frozen=True)
class VmJudgement:
    """A VM's observation and its ``vm.*`` criteria, as the report's ``vm`` object holds them."""

    record: VmRecord
    passthrough: VmPassthrough
    criteria: tuple[Criterion, ...]
    expected_from: str | None

    @property
    def gpus(self) -> tuple[ObservedGpu, ...]:
        """The GPUs the VM sees."""
        return self.record.seen.gpus if self.record.seen else ()


def read_vm_file(matrix: Matrix, path: Path | str) -> VmRecord:
    """Read and observe one VM snapshot file; problems become an error record."""
    try:
        snapshot = read_snapshot(path, VM_FORMAT)
    except SnapshotError as exc:
        return VmRecord(str(path), label_from_path(path), None, error=str(exc))
    return read_vm_snapshot(matrix, snapshot)


def read_vm_data(matrix: Matrix, data: Mapping[str, Any], source: str) -> VmRecord:
    """Observe a VM snapshot already in memory (the live collector's)."""
    try:
        snapshot = snapshot_from_data(dict(data), VM_FORMAT, source=source)
    except SnapshotError as exc:
        return VmRecord(source, label_from_path(source), None, error=str(exc))
    return read_vm_snapshot(matrix, snapshot)


def read_vm_snapshot(matrix: Matrix, snapshot: Snapshot) -> VmRecord:
    """Observe a validated VM snapshot; a failure inside becomes an error record."""
    try:
        facts = vm_facts(snapshot)
        seen = observe(matrix, facts)
    except Exception as exc:  # a bug must not lose the other systems
        log.exception("evaluating %s failed", snapshot.source)
        return VmRecord(
            snapshot.source,
            snapshot.host,
            None,
            error=f"the pack failed while evaluating this VM snapshot ({type(exc).__name__}: {exc})",
        )
    host = facts.host
    if host is None and facts.vm.upper().endswith(EFLOW_SUFFIX):
        host = facts.vm[: -len(EFLOW_SUFFIX)]
    return VmRecord(snapshot.source, facts.vm, host, facts=facts, seen=seen, captured_at=snapshot.captured_at)


def judge_record(matrix: Matrix, record: VmRecord, expected: VmExpectation | None) -> VmJudgement | None:
    """The VM's criteria against what is expected; None for an unreadable snapshot."""
    if record.facts is None or record.seen is None:
        return None
    criteria = tuple(judge_vm(matrix, record.facts, record.seen, expected))
    return VmJudgement(record, record.seen.passthrough, criteria, expected.source if expected else None)


def attach_vms(
    matrix: Matrix,
    systems: Sequence[SystemResult],
    records: Sequence[VmRecord],
    expect_passthrough: str | None = None,
) -> list[SystemResult]:
    """Join VM records to host systems by label; VMs without a host become systems of their own."""
    result = list(systems)
    index = {s.host.casefold(): i for i, s in enumerate(result) if s.status == "ok"}
    for record in records:
        key = (record.host or "").casefold()
        position = index.get(key) if key else None
        host_system = result[position] if position is not None else None
        if record.error is not None and host_system is None:
            result.append(
                SystemResult(
                    host=record.label,
                    source=record.source,
                    status="error",
                    error=" ".join(record.error.split()),
                )
            )
            continue
        expected = None
        if host_system is not None:
            expected = VmExpectation.from_host(host_system.host, host_system.gpus)
        if expected is None and expect_passthrough:
            expected = VmExpectation(
                frozenset({expect_passthrough}), f"--expect-passthrough {expect_passthrough}"
            )
        judgement = judge_record(matrix, record, expected)
        if host_system is not None and position is not None and host_system.vm is None:
            result[position] = dataclasses.replace(host_system, vm=judgement or record)
        else:
            label = record.host or record.label
            result.append(
                SystemResult(
                    host=label,
                    source=record.source,
                    status="ok",
                    error=None,
                    vm=judgement or record,
                    captured_at=record.captured_at,
                )
            )
    return result
