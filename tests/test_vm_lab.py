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
    # The pack's PyTorch 2.13.0 is a CUDA 13.0 build: the VM's 535 driver (CUDA 12.2) cannot run it.
    driver = crit["vm.driver"]
    assert (
        driver.status is Status.FAIL and "CUDA 12.2 < 13.0, which PyTorch 2.13.0 (CUDA 13.0)" in driver.detail
    )
    assert "update EFLOW to a release whose NVIDIA driver is 580.65.06 or newer" in driver.message()
    assert crit["vm.cuda_arch"].status is Status.WARN and "cannot run" in crit["vm.cuda_arch"].detail
    assert "compute capability 7.5" in crit["vm.cuda_arch"].detail  # the T4 itself has kernels
    assert crit["vm.pcie_link"].status is Status.PASS and crit["vm.health"].status is Status.PASS
    assert crit["vm.memory"].status is Status.PASS
    assert crit["vm.toolkit"].status is Status.PASS and "1.17.8" in crit["vm.toolkit"].detail


def test_gpupv_vm_agrees_and_skips_what_the_platform_does_not_report(joined: list[SystemResult]) -> None:
    crit = criteria_of(system_of(joined, VMS / "vm-rtx4070-w11ent-gpupv.json"))
    assert crit["vm.passthrough"].status is Status.PASS
    assert crit["vm.identity"].status is Status.PASS
    assert crit["vm.pcie_link"].status is Status.SKIP and "GPU-PV" in crit["vm.pcie_link"].detail
    driver = crit["vm.driver"]
    assert driver.status is Status.FAIL and "Windows host's driver (GPU-PV) 565.90" in driver.detail
    assert "update the Windows host's NVIDIA driver to 580.00 or newer" in driver.message()
    # Toolkit 1.17.3 predates the CVE-2025-23266 fix.
    assert crit["vm.toolkit"].status is Status.WARN and "CVE-2025-23266" in crit["vm.toolkit"].detail


def test_gpupv_inside_the_packs_container_is_gpupv(joined: list[SystemResult]) -> None:
    """Done-when: /dev/dxg, no /usr/lib/wsl/lib, libcuda.so.1 through the linker, no NVIDIA function."""
    system = system_of(joined, VMS / "vm-rtxa2000-w11-gpupv-container.json")
    crit = criteria_of(system)
    assert isinstance(system.vm, VmJudgement) and system.vm.passthrough == "GPU-PV"
    assert "the dynamic linker finds libcuda.so.1 at /usr/lib/x86_64-linux-gnu" in system.vm.record.seen.why
    assert crit["vm.passthrough"].status is Status.PASS and crit["vm.gpu_visible"].status is Status.PASS
    assert crit["vm.identity"].status is Status.PASS
    # The VM's own facts come from the vm_* probes, the image's Ubuntu is kept apart.
    got = vm_dict(system.vm)
    assert got["os"] == "CBL-Mariner/Linux" and got["container_toolkit"] == "1.17.8"
    assert got["nvidia_runtime"] is True
    assert crit["vm.toolkit"].status is Status.PASS and "vm_container_toolkit" in crit["vm.toolkit"].detail
    # The host's 561.09 (CUDA 12.6) is older than the pack's CUDA 13.0 build needs.
    assert (
        crit["vm.driver"].status is Status.FAIL
        and "561.09 supports CUDA 12.6 < 13.0" in crit["vm.driver"].detail
    )
    assert crit["vm.cuda_arch"].status is Status.WARN


def test_dda_inside_the_packs_container_passes_everything(joined: list[SystemResult]) -> None:
    system = system_of(joined, VMS / "vm-a2-iot-dda-container.json")
    crit = criteria_of(system)
    assert isinstance(system.vm, VmJudgement) and system.vm.passthrough == "DDA"
    assert (
        crit["vm.driver"].status is Status.PASS and "580.95.05 supports CUDA 13.0" in crit["vm.driver"].detail
    )
    assert (
        crit["vm.cuda_arch"].status is Status.PASS and "compute capability 8.6" in crit["vm.cuda_arch"].detail
    )
    assert crit["vm.toolkit"].status is Status.PASS
    assert vm_dict(system.vm)["os"] == "Microsoft Azure Linux 3.0"
    assert vm_dict(system.vm)["scope"] == "container"


def test_pascal_cannot_run_the_benchmarks(joined: list[SystemResult]) -> None:
    crit = criteria_of(system_of(joined, VMS / "vm-quadro-p2000-w10ent-gpupv.json"))
    arch = crit["vm.cuda_arch"]
    assert arch.status is Status.WARN and not arch.required
    assert "Quadro P2000 (compute capability 6.1) cannot run the pack's benchmarks" in arch.detail
    assert "PyTorch CUDA 12 build" in (arch.remedy or "")
    # WSL-mode defect of the VM's toolkit is judged only under GPU-PV; 1.14.3 is before the CVE fix.
    assert crit["vm.toolkit"].status is Status.WARN and "1.14.3" in crit["vm.toolkit"].detail


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
    assert memory.status is Status.WARN
    # Set-EflowVM resets what it is not given: the remedy names the CPU count and the GPU (D14).
    assert (
        "Set-EflowVM -cpuCount <the VM's CPU count> -memoryInMB 4096 -gpuPassthroughType "
        'DirectDeviceAssignment -gpuName "<the GPU\'s name>" -gpuCount 1, with the VM running'
        in memory.message()
    )


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


def _toolkit_with(matrix: Matrix, stem: str, **changes: Any) -> Any:
    import dataclasses

    from eflowgpu.rules.vm import VmContext, vm_toolkit

    record = read_vm_file(matrix, VMS / f"{stem}.json")
    assert record.facts is not None and record.seen is not None
    return vm_toolkit(VmContext(matrix, dataclasses.replace(record.facts, **changes), record.seen, None))


@pytest.mark.parametrize(
    ("stem", "version", "words", "absent"),
    [
        ("vm-rtxa2000-w11-gpupv-container", "1.13.0", "GPU access blocked", None),
        ("vm-rtxa2000-w11-gpupv-container", "1.12.1", "docker freezes", None),
        ("vm-a2-iot-dda-container", "1.13.0", "CVE-2025-23266", "GPU access blocked"),  # WSL mode only
    ],
)
def test_toolkit_releases_with_known_defects_warn(
    matrix: Matrix, stem: str, version: str, words: str, absent: str | None
) -> None:
    crit = _toolkit_with(matrix, stem, toolkit_version=version)
    assert crit.status is Status.WARN and words in crit.detail and not crit.required
    assert absent is None or absent not in crit.detail


def test_toolkit_missing_or_not_captured(matrix: Matrix) -> None:
    stem = "vm-a2-iot-dda-container"
    missing = _toolkit_with(matrix, stem, toolkit_version=None, toolkit_installed=False)
    assert missing.status is Status.WARN and "not installed" in missing.detail
    unknown = _toolkit_with(matrix, stem, toolkit_version=None, toolkit_installed=None)
    assert unknown.status is Status.UNKNOWN and "--vm-transport eflow" in (unknown.remedy or "")


def test_container_snapshot_without_the_vms_own_probes_does_not_take_the_image_for_the_vm(
    matrix: Matrix, tmp_path: Path
) -> None:
    import json

    data = json.loads((VMS / "vm-a2-iot-dda-container.json").read_text(encoding="utf-8"))
    for name in ("vm_os_release", "vm_container_runtime", "vm_container_toolkit"):
        del data["probes"][name]
    path = tmp_path / "a2.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    record = read_vm_file(matrix, path)
    assert record.facts is not None and record.seen is not None
    assert record.seen.passthrough == "DDA"
    assert record.facts.os_name is None and record.facts.image_os == "Ubuntu 24.04.3 LTS"
    assert record.facts.toolkit_version is None and record.facts.nvidia_runtime is None
    assert "ran in the pack's container" in record.facts.missing["container_toolkit"]


def test_vm_rules_yield_the_vocabularys_ids_in_order(joined: list[SystemResult]) -> None:
    from eflowgpu.criteria import VM_CRITERIA

    system = system_of(joined, VMS / "vm-a2-iot-dda-container.json")
    assert isinstance(system.vm, VmJudgement)
    assert [c.id for c in system.vm.criteria] == [cid for cid, _ in VM_CRITERIA]
