"""Test cases of the in-VM suite: one per VM x criterion, with readable, stable ids."""

from __future__ import annotations

from dataclasses import dataclass

from eflowgpu.criteria import Criterion
from eflowgpu.evaluate import SystemResult
from eflowgpu.pytest_plugin.cases import SnapshotUnusable, check_criterion, slug
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

    def check(self) -> None:
        """Pass, fail, warn or skip exactly as the library judged the criterion."""
        if self.criterion is None:
            raise SnapshotUnusable(neutral(f"{self.record.source}: {self.record.error}"))
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


def vm_cases(systems: list[SystemResult]) -> list[tuple[str, VmCase]]:
    """Every case of the in-VM suite with its id: each system's VM criteria, or its snapshot error."""
    cases: list[tuple[str, VmCase]] = []
    seen_ids: set[str] = set()
    for index, system in enumerate(systems):
        vm = system.vm
        if vm is None:
            continue
        record = vm.record if isinstance(vm, VmJudgement) else vm
        base = slug(record.label)
        if base in seen_ids:
            base = f"{base}~{index}"
        seen_ids.add(base)
        if not isinstance(vm, VmJudgement):
            cases.append((f"{base}-snapshot", VmCase(f"{index}", system, record, None)))
            continue
        for crit in vm.criteria:
            cases.append((f"{base}-{crit.id}", VmCase(f"{index}/{crit.id}", system, record, crit)))
    return cases
