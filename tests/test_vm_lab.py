"""The sample VMs (fixtures/vms), alone and joined to the sample lab's hosts, give the expected results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eflowgpu.criteria import Status
from eflowgpu.evaluate import SystemResult, evaluate_host_files
from eflowgpu.matrix import Matrix
from eflowgpu.report.model import build_report, vm_dict
from eflowgpu.vm.evaluate import VmJudgement, VmRecord, attach_vms, read_vm_file

from helpers import PROJECT
from vm_expectations import EXPECTED

VMS = PROJECT / "fixtures" / "vms"
HOSTS = PROJECT / "fixtures" / "hosts"


def vm_files() -> list[Path]:
    return sorted(VMS.glob("*.json"))


def test_every_vm_file_has_expectations() -> None:
    assert sorted(p.stem for p in vm_files()) == sorted(EXPECTED)


@pytest.fixture(scope="module")
def joined(matrix: Matrix) -> list[SystemResult]:
    """The sample lab's hosts (GA profile) with the sample VMs joined to them."""
    hosts = evaluate_host_files(matrix, matrix.profile("ga-2022-06"), sorted(HOSTS.glob("*.json")))
    return attach_vms(matrix, hosts, [read_vm_file(matrix, p) for p in vm_files()])


def system_of(systems: list[SystemResult], source: Path) -> SystemResult:
    found = [s for s in systems if s.vm is not None and _record(s.vm).source == str(source)]
    if not found:
        found = [s for s in systems if s.source == str(source)]
    assert len(found) == 1, source
    return found[0]


def _record(vm: VmJudgement | VmRecord) -> VmRecord:
    return vm.record if isinstance(vm, VmJudgement) else vm


@pytest.mark.parametrize("path", vm_files(), ids=lambda p: p.stem)
def test_vm_snapshot(matrix: Matrix, joined: list[SystemResult], path: Path) -> None:
    want = EXPECTED[path.stem]
    system = system_of(joined, path)
    if want["status"] == "error":
        assert system.status == "error" and system.error and "\n" not in system.error
        assert system.host == path.stem and system.vm is None
        return
    assert system.vm is not None
    if want["host"] is not None:
        assert system.host == want["host"] and system.status == "ok" and system.gpus  # one entry: host and VM
    got = vm_dict(system.vm)
    assert got["passthrough"] == want["passthrough"]
    gpus = [
        {k: g[k] for k in ("pci_id", "model", "driver_version", "cuda_version", "memory_total_mib")}
        | {"pcie": g["pcie"] if any(v is not None for v in g["pcie"].values()) else None}
        for g in got["gpus"]
    ]
    assert gpus == [
        {k: w[k] for k in ("pci_id", "model", "driver_version", "cuda_version", "memory_total_mib", "pcie")}
        for w in want["gpus"]
    ]
    visible = {c["id"]: c for c in got["criteria"]}["vm.gpu_visible"]
    assert visible["status"] == want["gpu_visible"], visible["detail"]


def criteria_of(system: SystemResult) -> dict[str, Any]:
    assert isinstance(system.vm, VmJudgement)
    return {c.id: c for c in system.vm.criteria}


def test_healthy_dda_vm_agrees_with_its_host(joined: list[SystemResult]) -> None:
    crit = criteria_of(system_of(joined, VMS / "vm-t4-srv2022-dda.json"))
    assert (
        crit["vm.passthrough"].status is Status.PASS
        and "host LAB-T4-SRV2022" in crit["vm.passthrough"].detail
    )
    assert crit["vm.identity"].status is Status.PASS and "10DE:1EB8" in crit["vm.identity"].detail
    assert crit["vm.driver"].status is Status.PASS and "CUDA 12.2 >= 12.0" in crit["vm.driver"].detail
    assert crit["vm.pcie_link"].status is Status.PASS and crit["vm.health"].status is Status.PASS
    assert crit["vm.memory"].status is Status.PASS


def test_gpupv_vm_agrees_and_skips_what_the_platform_does_not_report(joined: list[SystemResult]) -> None:
    crit = criteria_of(system_of(joined, VMS / "vm-rtx4070-w11ent-gpupv.json"))
    assert crit["vm.passthrough"].status is Status.PASS
    assert crit["vm.identity"].status is Status.PASS
    assert crit["vm.pcie_link"].status is Status.SKIP and "GPU-PV" in crit["vm.pcie_link"].detail
    assert crit["vm.driver"].status is Status.PASS and "Windows host's driver" in crit["vm.driver"].detail


def test_broken_dda_driver_fails_visibly_with_the_reason(joined: list[SystemResult]) -> None:
    crit = criteria_of(system_of(joined, VMS / "vm-t4-dismounted-nodriver.json"))
    visible = crit["vm.gpu_visible"]
    assert visible.status is Status.FAIL
    assert (
        "couldn't communicate with the NVIDIA driver" in visible.detail
        and "DDA that is broken" in visible.detail
    )
    assert crit["vm.passthrough"].status is Status.PASS  # the GPU did arrive by DDA
    assert crit["vm.driver"].status is Status.UNKNOWN and "see vm.gpu_visible" in crit["vm.driver"].detail


def test_default_eflow_memory_warns(joined: list[SystemResult]) -> None:
    memory = criteria_of(system_of(joined, VMS / "vm-t4-srv2025-lowmem.json"))["vm.memory"]
    assert memory.status is Status.WARN and "Set-EflowVM -memoryInMB 4096" in memory.message()


def test_hostile_and_truncated_xml_cost_only_that_vm(joined: list[SystemResult]) -> None:
    for name in ("vm-t4-partial-truncated-xml.json", "vm-t4-win10pro-hostile-xml.json"):
        crit = criteria_of(system_of(joined, VMS / name))
        assert crit["vm.gpu_visible"].status is Status.FAIL
        assert "nvidia-smi output is unusable" in crit["vm.gpu_visible"].detail
    assert (
        criteria_of(system_of(joined, VMS / "vm-t4-srv2022-dda.json"))["vm.gpu_visible"].status is Status.PASS
    )


def test_vm_without_host_says_what_it_saw(joined: list[SystemResult]) -> None:
    system = system_of(joined, VMS / "vm-plain-linux-nogpu.json")
    crit = criteria_of(system)
    assert system.gpus == () and system.os is None
    assert crit["vm.passthrough"].status is Status.SKIP and "none seen" in crit["vm.passthrough"].detail
    assert all(c.status is Status.SKIP for k, c in crit.items() if k not in ("vm.memory",))


def test_expect_passthrough_without_host(matrix: Matrix) -> None:
    records = [read_vm_file(matrix, VMS / "vm-plain-linux-nogpu.json")]
    (system,) = attach_vms(matrix, [], records, expect_passthrough="DDA")
    crit = criteria_of(system)
    assert (
        crit["vm.passthrough"].status is Status.FAIL
        and "--expect-passthrough DDA" in crit["vm.passthrough"].detail
    )
    assert crit["vm.gpu_visible"].status is Status.FAIL


def test_disagreement_with_the_host_fails_and_is_highlighted(matrix: Matrix) -> None:
    hosts = evaluate_host_files(matrix, matrix.profile("ga-2022-06"), [HOSTS / "lab-rtx4070-win11ent.json"])
    record = read_vm_file(matrix, VMS / "vm-t4-srv2022-dda.json")
    moved = VmRecord(record.source, record.label, "LAB-4070-W11ENT", facts=record.facts, seen=record.seen)
    (system,) = attach_vms(matrix, hosts, [moved])
    crit = criteria_of(system)
    assert crit["vm.passthrough"].status is Status.FAIL  # the host predicts GPU-PV for its RTX 4070
    assert crit["vm.identity"].status is Status.FAIL and "but the host has" in crit["vm.identity"].detail
    from eflowgpu.report.html import render_html

    page = render_html(build_report(matrix, matrix.profile("ga-2022-06"), [system]))
    assert "the VM disagrees with the host" in page
