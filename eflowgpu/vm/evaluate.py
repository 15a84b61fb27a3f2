"""Evaluating VM snapshots and joining them to host systems by the host label.

A host snapshot and a VM snapshot of the same system end up in one system entry: the VM's
``host`` field (or a VM label of the form ``<host>-EFLOW``) names the Windows host. A VM snapshot
that cannot be read becomes an error for that VM only. Reading, observing, judging and rendering a
VM run inside the same containment as a host's (:func:`eflowgpu.contain.contained`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eflowgpu.contain import MAX_GPUS, MAX_PCI_FUNCTIONS, check_count, contained, one_line
from eflowgpu.criteria import Criterion
from eflowgpu.evaluate import SystemResult
from eflowgpu.matrix import Matrix
from eflowgpu.rules.vm import VmExpectation, judge_vm
from eflowgpu.snapshot import VM_FORMAT, Snapshot, label_from_path, read_snapshot, snapshot_from_data
from eflowgpu.vm.facts import VmFacts, vm_facts
from eflowgpu.vm.observe import ObservedGpu, VmObservation, VmPassthrough, observe

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
    source = str(path)
    read: Snapshot | VmRecord = contained(
        "reading this VM snapshot",
        lambda: read_snapshot(path, VM_FORMAT),
        lambda reason: VmRecord(source, label_from_path(path), None, error=reason),
        source=source,
    )
    return read if isinstance(read, VmRecord) else read_vm_snapshot(matrix, read)


def read_vm_data(matrix: Matrix, data: Mapping[str, Any], source: str) -> VmRecord:
    """Observe a VM snapshot already in memory (the live collector's)."""
    read: Snapshot | VmRecord = contained(
        "reading this VM snapshot",
        lambda: snapshot_from_data(dict(data), VM_FORMAT, source=source),
        lambda reason: VmRecord(source, label_from_path(source), None, error=reason),
        source=source,
    )
    return read if isinstance(read, VmRecord) else read_vm_snapshot(matrix, read)


def read_vm_snapshot(matrix: Matrix, snapshot: Snapshot) -> VmRecord:
    """Observe a validated VM snapshot; a failure inside becomes an error record."""
    return contained(
        "reading this VM snapshot",
        lambda: observe_snapshot(matrix, snapshot),
        lambda reason: VmRecord(snapshot.source, snapshot.host, None, error=reason),
        source=snapshot.source,
    )


def observe_snapshot(matrix: Matrix, snapshot: Snapshot) -> VmRecord:
    """Facts, limits and observation of one VM snapshot (raises; call it contained)."""
    facts = vm_facts(snapshot)
    check_count("PCI functions", len(facts.pci_functions or ()), MAX_PCI_FUNCTIONS)
    check_count("GPUs", len(facts.gpus or ()), MAX_GPUS)
    check_count("NVIDIA GPU functions", len(facts.nvidia_functions), MAX_GPUS)
    seen = observe(matrix, facts)
    host = facts.host
    if host is None and facts.vm.upper().endswith(EFLOW_SUFFIX):
        host = facts.vm[: -len(EFLOW_SUFFIX)]
    return VmRecord(snapshot.source, facts.vm, host, facts=facts, seen=seen, captured_at=snapshot.captured_at)


def judge_record(matrix: Matrix, record: VmRecord, expected: VmExpectation | None) -> VmJudgement | VmRecord:
    """The VM's criteria against what is expected, judged and rendered inside the containment.

    An unreadable snapshot's record comes back as it is; a failure while judging or rendering makes
    the record an error record with its one-line reason.
    """
    if record.facts is None or record.seen is None:
        return record
    facts, seen = record.facts, record.seen

    def judge() -> VmJudgement | VmRecord:
        criteria = tuple(judge_vm(matrix, facts, seen, expected))
        judgement = VmJudgement(record, seen.passthrough, criteria, expected.source if expected else None)
        check_vm_renders(judgement)
        return judgement

    return contained(
        "judging this VM snapshot",
        judge,
        lambda reason: dataclasses.replace(record, error=reason, facts=None, seen=None),
        source=record.source,
    )


def check_vm_renders(judgement: VmJudgement) -> None:
    """Render the VM's part of the report as strict JSON, so that a failure is this VM's."""
    from eflowgpu.report.model import vm_dict
    from eflowgpu.report.write import dumps_strict

    dumps_strict(vm_dict(judgement))


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
        expected = None
        if host_system is not None:
            expected = VmExpectation.from_host(host_system.host, host_system.gpus)
        if expected is None and expect_passthrough:
            expected = VmExpectation(
                frozenset({expect_passthrough}), f"--expect-passthrough {expect_passthrough}"
            )
        judged = judge_record(matrix, record, expected)
        if host_system is not None and position is not None and host_system.vm is None:
            result[position] = dataclasses.replace(host_system, vm=judged)
        elif isinstance(judged, VmRecord) and judged.error is not None:
            result.append(
                SystemResult(
                    host=judged.label, source=judged.source, status="error", error=one_line(judged.error)
                )
            )
        else:
            result.append(
                SystemResult(
                    host=record.host or record.label,
                    source=record.source,
                    status="ok",
                    error=None,
                    vm=judged,
                    captured_at=record.captured_at,
                )
            )
    return result
