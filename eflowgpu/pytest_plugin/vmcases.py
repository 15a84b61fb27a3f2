"""Test cases of the in-VM suite: one per VM x criterion, with readable, stable ids."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from eflowgpu.criteria import Criterion
from eflowgpu.evaluate import SystemResult
from eflowgpu.pytest_plugin.cases import SnapshotUnusable, check_criterion, passthrough_markers, slug
from eflowgpu.textsafe import neutral
from eflowgpu.vm.evaluate import VmJudgement, VmRecord


@dataclass(frozen=True)
class VmCase:
    """A ``vm.*`` criterion of one system's VM, or the VM snapshot's error."""

    key: str
    system: SystemResult
    record: VmRecord
    criterion: Criterion | None

    def __repr__(self) -> str:
        """How pytest and Allure show the case: system / VM / criterion."""
        what = self.criterion.id if self.criterion else "snapshot"
        return neutral(f"{self.system.host} / {self.record.label} / {what}")

    def ready(self) -> None:
        """Set-up: an unreadable VM snapshot raises :class:`SnapshotUnusable` (JUnit error, Allure broken)."""
        if self.record.error is not None:
            raise SnapshotUnusable(neutral(f"{self.record.source}: {self.record.error}"))

    def marker_names(self) -> tuple[str, ...]:
        """The selection markers of the test: passthrough seen in the VM, required or recommended."""
        if self.criterion is None:
            return ()
        seen = self.record.seen
        kind = "required" if self.criterion.required else "recommended"
        return (*passthrough_markers(seen.passthrough if seen else None), kind)

    def check(self) -> None:
        """Pass, fail, warn or skip exactly as the library judged the criterion."""
        self.ready()
        if self.criterion is None:
            return  # the VM snapshot was read
        check_criterion(f"{self.record.label} / {self.criterion.id}", self.criterion)

    def properties(self) -> list[tuple[str, str]]:
        """JUnit properties of the test."""
        props = [("system", self.system.host), ("vm", self.record.label), ("source", self.record.source)]
        if self.criterion is not None:
            props += [("criterion", self.criterion.id), ("status", self.criterion.status.value)]
        return [(name, neutral(value)) for name, value in props]

    def parameters(self) -> list[tuple[str, str]]:
        """Allure parameters: system, VM, passthrough, criterion."""
        seen = self.record.seen
        params = [
            ("system", self.system.host),
            ("vm", self.record.label),
            ("passthrough", seen.passthrough if seen else "unknown"),
        ]
        return [*params, ("criterion", self.criterion.id)] if self.criterion else params

    def allure_labels(self) -> list[tuple[str, str]]:
        """Allure labels: the tree system > VM > criterion."""
        labels = [
            ("feature", "in-VM checks"),
            ("parentSuite", self.system.host),
            ("suite", f"VM {self.record.label}"),
        ]
        if self.criterion is None:
            return labels
        severity = "critical" if self.criterion.required else "minor"
        return [
            *labels,
            ("subSuite", self.criterion.id),
            ("story", self.criterion.id),
            ("severity", severity),
        ]


def vm_cases(
    systems: Sequence[SystemResult], vm_sources: Collection[str] = ()
) -> tuple[list[tuple[str, VmCase]], list[tuple[str, VmCase]]]:
    """The in-VM suite's cases with their ids: one per VM snapshot that could not be read (an error),
    and one per ``vm.*`` criterion of each VM that could be judged. ``vm_sources``: the run's VM
    snapshot files (an unreadable one without a host is a system of its own, with no ``vm``)."""
    snapshots: list[tuple[str, VmCase]] = []
    criteria: list[tuple[str, VmCase]] = []
    seen_ids: set[str] = set()
    for index, system in enumerate(systems):
        vm: VmJudgement | VmRecord | None = system.vm
        if vm is None and system.status == "error" and system.source in vm_sources:
            vm = VmRecord(system.source, system.host, None, error=system.error)
        if vm is None:
            continue
        record = vm.record if isinstance(vm, VmJudgement) else vm
        base = slug(record.label)
        if base in seen_ids:
            base = f"{base}~{index}"
        seen_ids.add(base)
        if record.error is not None:
            snapshots.append((base, VmCase(record.source, system, record, None)))
        if isinstance(vm, VmJudgement):
            for crit in vm.criteria:
                key = f"{record.source}#{crit.id}"
                criteria.append((f"{base}-{crit.id}", VmCase(key, system, record, crit)))
    return snapshots, criteria
