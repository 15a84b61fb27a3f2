"""Building the ``compat-report.json`` document (``eflow-gpu-report/1``) from results.

The JSON follows ``contracts/report.md`` to the letter; fields this pack adds (``run``,
``remedy``, ``passthrough_reason``, ``os.name``, …) are additions only. Strings from snapshots are
kept verbatim here; only the HTML and Markdown renderers escape them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from eflowgpu.criteria import Verdict
from eflowgpu.evaluate import SystemResult
from eflowgpu.matrix import Matrix, Profile
from eflowgpu.report.verdicts import system_verdict
from eflowgpu.rules import GpuResult
from eflowgpu.vm.evaluate import VmJudgement, VmRecord
from eflowgpu.vm.observe import ObservedGpu

REPORT_FORMAT = "eflow-gpu-report/1"


def gpu_dict(gpu: GpuResult) -> dict[str, Any]:
    """The contract's ``gpus[]`` object."""
    return {
        "name": gpu.name,
        "pci_id": gpu.pci_id,
        "subsys_id": gpu.subsys_id,
        "model": gpu.model,
        "passthrough": gpu.passthrough,
        "verdict": gpu.verdict.value,
        "verdicts": {key: verdict.value for key, verdict in gpu.verdicts},
        "criteria": [c.to_dict() for c in gpu.criteria],
        "deploy_hint": gpu.deploy_hint,
        "passthrough_reason": gpu.passthrough_reason,
        "brand": gpu.brand,
        "instance_id": gpu.instance_id,
    }


def vm_dict(vm: VmJudgement | VmRecord) -> dict[str, Any]:
    """The contract's ``vm`` object (fields beyond the contract's are additions)."""
    record = vm.record if isinstance(vm, VmJudgement) else vm
    facts, seen = record.facts, record.seen
    criteria = vm.criteria if isinstance(vm, VmJudgement) else ()
    return {
        "source": record.source,
        "vm": record.label,
        "status": "error" if record.error else "ok",
        "error": record.error,
        "passthrough": seen.passthrough if seen else "none",
        "passthrough_reason": seen.why if seen else None,
        "expected_from": vm.expected_from if isinstance(vm, VmJudgement) else None,
        "gpus": [_vm_gpu(g) for g in seen.gpus] if seen else [],
        "criteria": [c.to_dict() for c in criteria],
        "benchmarks": [],
        "os": facts.os_name if facts else None,
        "kernel": facts.kernel if facts else None,
        "memory_total_mib": facts.mem_total_kib // 1024 if facts and facts.mem_total_kib else None,
        "nvidia_runtime": facts.nvidia_runtime if facts else None,
        "container_toolkit": facts.toolkit_version if facts else None,
        "gpu_source": facts.gpu_source if facts else None,
        "scope": facts.scope if facts else None,
        "captured_at": record.captured_at,
    }


def _vm_gpu(seen: ObservedGpu) -> dict[str, Any]:
    gpu = seen.gpu
    return {
        "name": seen.label,
        "pci_id": gpu.pci_id,
        "subsys_id": gpu.subsys_id,
        "model": seen.identity.model.key if seen.identity.model else None,
        "driver_version": gpu.driver_version,
        "cuda_version": gpu.cuda_version,
        "memory_total_mib": gpu.memory_total_mib,
        "pcie": dataclasses.asdict(gpu.pcie),
        "bus_id": gpu.bus_id,
        "driver_model": gpu.driver_model,
        "not_supported": sorted(gpu.not_supported),
    }


PASSING_SYSTEM_VERDICTS = frozenset({Verdict.ELIGIBLE.value, Verdict.ELIGIBLE_WITH_WARNINGS.value})
"""The system verdicts a ``--strict`` run accepts."""


def failing_systems(systems: Iterable[SystemResult]) -> list[tuple[str, str]]:
    """(host, verdict) of each system a ``--strict`` run rejects."""
    verdicts = ((s.host, str(system_dict(s)["verdict"])) for s in systems)
    return [(host, verdict) for host, verdict in verdicts if verdict not in PASSING_SYSTEM_VERDICTS]


def system_dict(system: SystemResult) -> dict[str, Any]:
    """The contract's ``systems[]`` object."""
    os_info = system.os
    entry: dict[str, Any] = {
        "host": system.host,
        "source": system.source,
        "status": system.status,
        "error": system.error,
        "verdict": None,  # from the entry itself, by the one rule the renderers also apply
        "os": None
        if os_info is None
        else {
            "edition": os_info.edition,
            "build": os_info.build,
            "ubr": os_info.ubr,
            "installation_type": os_info.installation_type,
            "name": os_info.name,
        },
        "gpus": [gpu_dict(g) for g in system.gpus],
        "vm": vm_dict(system.vm) if system.vm is not None else None,
        "collector": system.collector,
        "captured_at": system.captured_at,
    }
    entry["verdict"] = system_verdict(entry)
    return entry


def build_report(
    matrix: Matrix,
    profile: Profile,
    systems: Iterable[SystemResult],
    *,
    run: Mapping[str, Any] | None = None,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The whole ``compat-report.json`` document, systems in the order given."""
    when = (generated_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "generated_at": when.isoformat().replace("+00:00", "Z"),
        "matrix": {
            "path": matrix.path,
            "profile": profile.key,
            "sha256": matrix.sha256,
            "profile_title": profile.title,
            "profile_source": str(profile.source),
        },
        "systems": [system_dict(s) for s in systems],
    }
    if run is not None:
        report["run"] = dict(run)
    return report
