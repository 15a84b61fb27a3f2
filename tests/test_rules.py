"""Eligibility rules over recorded output: one behaviour per test, through the same parsers as live data."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from eflowgpu.criteria import Status, Verdict
from eflowgpu.evaluate import evaluate_host_data
from eflowgpu.matrix import Matrix
from eflowgpu.rules import GpuResult

from helpers import probe, ps

Snap = Callable[..., dict[str, Any]]
GA, PREVIEW = "ga-2022-06", "preview-2021-06"


def judge(matrix: Matrix, snapshot: dict[str, Any], profile: str = GA) -> list[GpuResult]:
    result = evaluate_host_data(matrix, matrix.profile(profile), snapshot, "test.json")
    assert result.status == "ok", result.error
    return list(result.gpus)


def crit(gpu: GpuResult, cid: str) -> tuple[Status, str]:
    found = next(c for c in gpu.criteria if c.id == cid)
    return found.status, found.message()


def os_probe(edition: str, build: int, ubr: int | str | None, installation: str = "Client") -> dict[str, Any]:
    value: dict[str, Any] = {
        "EditionID": edition,
        "CurrentBuild": str(build),
        "InstallationType": installation,
    }
    if ubr is not None:
        value["UBR"] = ubr
    return probe(ps(value))


def test_healthy_geforce_on_windows_11(matrix: Matrix, make_snapshot: Snap) -> None:
    for profile in (GA, PREVIEW):
        (gpu,) = judge(matrix, make_snapshot(), profile)
        assert gpu.model == "rtx3060" and gpu.passthrough == "GPU-PV"
        assert gpu.verdict is Verdict.ELIGIBLE, [
            c for c in gpu.criteria if c.status not in (Status.PASS, Status.SKIP)
        ]
        assert gpu.deploy_hint == (
            "Deploy-Eflow -gpuPassthroughType ParaVirtualization "
            '-gpuName "NVIDIA GeForce RTX 3060" -gpuCount 1'
        )
        assert [c.id for c in gpu.criteria][:3] == ["gpu.supported", "os.edition", "os.build"]
        assert crit(gpu, "dda.iov")[0] is Status.SKIP  # IovSupport False does not matter for GPU-PV


@pytest.mark.parametrize(
    ("build", "ubr", "ga", "preview"),
    [
        (19044, 1619, Status.FAIL, Status.FAIL),
        (19044, 1620, Status.PASS, Status.FAIL),
        (19044, None, Status.UNKNOWN, Status.FAIL),
        (19045, 0, Status.PASS, Status.FAIL),
        (20145, 1000, Status.FAIL, Status.PASS),  # the Insider build meets the preview's minimum only
        (22000, 1, Status.PASS, Status.PASS),
    ],
)
def test_build_boundaries_gpupv(
    matrix: Matrix, make_snapshot: Snap, build: int, ubr: int | None, ga: Status, preview: Status
) -> None:
    snap = make_snapshot(os=os_probe("Enterprise", build, ubr))
    assert crit(judge(matrix, snap, GA)[0], "os.build")[0] is ga
    assert crit(judge(matrix, snap, PREVIEW)[0], "os.build")[0] is preview


def test_windows_10_gpupv_needs_wsl_in_ga(matrix: Matrix, make_snapshot: Snap) -> None:
    snap = make_snapshot(os=os_probe("Professional", 19045, 4894))
    (gpu,) = judge(matrix, snap, GA)
    status, message = crit(gpu, "gpu.wsl")
    assert status is Status.FAIL and "wsl --install" in message
    assert gpu.verdict is Verdict.NOT_ELIGIBLE
    (win11,) = judge(matrix, make_snapshot(), GA)
    assert crit(win11, "gpu.wsl")[0] is Status.SKIP


def test_home_edition_has_no_hyperv(matrix: Matrix, make_snapshot: Snap) -> None:
    snap = make_snapshot(
        os=os_probe("Core", 22631, 4890),
        features=probe(ps([{"Name": "Microsoft-Hyper-V-All", "InstallState": 3}])),
        computer_system=probe(ps({"Manufacturer": "HP", "Model": "OMEN", "HypervisorPresent": False})),
        vmhost=probe("", 1, "Get-VMHost : The term 'Get-VMHost' is not recognized"),
    )
    (gpu,) = judge(matrix, snap, GA)
    assert crit(gpu, "os.edition")[0] is Status.FAIL
    assert "has no Hyper-V" in crit(gpu, "os.edition")[1]
    assert crit(gpu, "os.build")[0] is Status.PASS  # judged against the client rows
    status, message = crit(gpu, "host.hyperv")
    assert status is Status.FAIL and "Windows Home has no Hyper-V" in message


def test_t4_row_and_server_builds(matrix: Matrix, make_snapshot: Snap) -> None:
    t4_video = probe(
        ps(
            {
                "Name": "NVIDIA Tesla T4",
                "Caption": "NVIDIA Tesla T4",
                "PNPDeviceID": "PCI\\VEN_10DE&DEV_1EB8&SUBSYS_12A210DE&REV_A1\\4&1&0&0010",
                "AdapterCompatibility": "NVIDIA",
                "DriverVersion": "31.0.15.3623",
                "ConfigManagerErrorCode": 0,
                "Status": "OK",
            }
        )
    )
    survey = probe(
        ps(
            {
                "InstanceId": "PCI\\VEN_10DE&DEV_1EB8&SUBSYS_12A210DE&REV_A1\\4&1&0&0010",
                "LocationPath": "PCIROOT(36)#PCI(0000)#PCI(0000)",
                "PciDeviceType": 2,
                "AcsCompatibleUpHierarchy": 3,
                "RequiresReservedMemoryRegion": False,
                "InterruptTypes": "msi",
                "DriverService": "nvlddmkm",
                "DriverProvider": "NVIDIA",
            }
        )
    )
    vmhost = probe(ps({"IovSupport": True, "IovSupportReasons": None}))
    server2025 = make_snapshot(
        os=os_probe("ServerDatacenter", 26100, 2033, "Server"),
        video_controllers=t4_video,
        pci_survey=survey,
        vmhost=vmhost,
        partitionable_gpus=probe(""),
    )
    (ga,) = judge(matrix, server2025, GA)
    assert ga.passthrough == "DDA" and crit(ga, "os.build")[0] is Status.FAIL
    assert "17763 (Windows Server 2019), 20348 (Windows Server 2022)" in crit(ga, "os.build")[1]
    (preview,) = judge(matrix, server2025, PREVIEW)
    assert crit(preview, "os.build")[0] is Status.PASS
    assert crit(preview, "dda.mitigation_driver")[0] is Status.WARN
    assert preview.verdict is Verdict.ELIGIBLE_WITH_WARNINGS
    assert "EFLOW selects the passthrough method itself" in (preview.passthrough_reason or "")
    server2019 = make_snapshot(
        os=os_probe("ServerStandard", 17763, 5458, "Server"),
        video_controllers=t4_video,
        pci_survey=survey,
        vmhost=vmhost,
    )
    (old,) = judge(matrix, server2019, GA)
    assert crit(old, "os.build")[0] is Status.PASS and "cumulative updates" in crit(old, "os.build")[1]
    win10 = make_snapshot(
        os=os_probe("Professional", 19045, 3000), video_controllers=t4_video, pci_survey=survey, vmhost=vmhost
    )
    assert crit(judge(matrix, win10, PREVIEW)[0], "os.build")[0] is Status.FAIL  # below 21318
    assert crit(judge(matrix, win10, GA)[0], "os.build")[0] is Status.PASS
    assert crit(judge(matrix, win10, GA)[0], "gpu.wsl")[0] is Status.SKIP


def test_dismounted_t4_is_the_hosts_gpu(matrix: Matrix, make_snapshot: Snap) -> None:
    snap = make_snapshot(
        os=os_probe("ServerDatacenter", 20348, 2700, "Server"),
        video_controllers=probe(
            ps(
                {
                    "Name": "Microsoft Remote Display Adapter",
                    "Caption": "Microsoft Remote Display Adapter",
                    "PNPDeviceID": "SWD\\REMOTEDISPLAYENUM\\RDPIDD_INDIRECTDISPLAY",
                    "ConfigManagerErrorCode": 0,
                }
            )
        ),
        pci_survey=probe(""),
        assignable_devices=probe(
            ps(
                [
                    {
                        "InstanceID": "PCIP\\VEN_10DE&DEV_1EB8&SUBSYS_12A210DE&REV_A1\\6&2B5D6F8&0&00000010",
                        "LocationPath": "PCIROOT(36)#PCI(0000)#PCI(0000)",
                    }
                ]
            )
        ),
        vmhost=probe(ps({"IovSupport": True})),
    )
    (gpu,) = judge(matrix, snap, GA)
    assert gpu.model == "t4" and gpu.name == "NVIDIA Tesla T4"
    for cid in ("gpu.device", "dda.endpoint", "dda.acs", "dda.rmrr", "dda.interrupts", "dda.location"):
        assert crit(gpu, cid)[0] is Status.PASS, cid
    assert "PCIROOT(36)" in crit(gpu, "dda.location")[1]
    assert (
        gpu.verdict is Verdict.ELIGIBLE
    )  # the mitigation driver of a dismounted GPU is unknown, not required


def test_bmc_is_an_unsupported_gpu_and_software_adapters_are_not_gpus(
    matrix: Matrix, make_snapshot: Snap
) -> None:
    video = [
        {
            "Name": "Microsoft Basic Display Adapter",
            "Caption": "Microsoft Basic Display Adapter",
            "PNPDeviceID": "PCI\\VEN_102B&DEV_0536&SUBSYS_0A6B1028&REV_04\\4&2BBE3C5&0&00E1",
            "ConfigManagerErrorCode": 0,
        },
        {"Name": "Microsoft Basic Render Driver", "PNPDeviceID": "ROOT\\BasicRender\\0000"},
        {
            "Name": "Microsoft Hyper-V Video",
            "PNPDeviceID": "VMBUS\\{DA0A7802-E377-4AAC-8E77-0558EB1073F8}\\1",
        },
    ]
    (gpu,) = judge(matrix, make_snapshot(video_controllers=probe(ps(video)), pci_survey=probe("")), GA)
    assert gpu.pci_id == "102B:0536" and gpu.brand == "bmc" and gpu.model is None
    assert gpu.verdict is Verdict.UNSUPPORTED and gpu.passthrough is None and gpu.deploy_hint is None
    assert "BMC" in crit(gpu, "gpu.supported")[1]


def test_new_geforce_is_judged_as_a_geforce(matrix: Matrix, make_snapshot: Snap) -> None:
    video = probe(
        ps(
            {
                "Name": "NVIDIA GeForce RTX 5070",
                "Caption": "NVIDIA GeForce RTX 5070",
                "PNPDeviceID": "PCI\\VEN_10DE&DEV_2F04&SUBSYS_205710DE&REV_A1\\4&1&0&0008",
                "AdapterCompatibility": "NVIDIA",
                "DriverVersion": "32.0.15.7688",
                "ConfigManagerErrorCode": 0,
            }
        )
    )
    parts = probe(ps({"Name": "\\\\?\\PCI#VEN_10DE&DEV_2F04&SUBSYS_205710DE#4&1&0&0008#{x}\\GPUPARAV"}))
    (gpu,) = judge(
        matrix, make_snapshot(video_controllers=video, partitionable_gpus=parts, pci_survey=probe(""))
    )
    assert gpu.model is None and gpu.brand == "geforce" and gpu.passthrough == "GPU-PV"
    assert gpu.verdict is Verdict.ELIGIBLE


@pytest.mark.parametrize(
    ("driver", "preview", "ga"),
    [
        ("27.21.14.5241", Status.FAIL, Status.FAIL),
        ("30.0.14.7005", Status.WARN, Status.FAIL),
        ("31.0.15.3623", Status.PASS, Status.PASS),
    ],
)
def test_driver_minimums(
    matrix: Matrix, make_snapshot: Snap, driver: str, preview: Status, ga: Status
) -> None:
    snap = make_snapshot()
    video = json.loads(snap["probes"]["video_controllers"]["stdout"])
    video["DriverVersion"] = driver
    snap["probes"]["video_controllers"] = probe(ps(video))
    assert crit(judge(matrix, snap, PREVIEW)[0], "gpu.driver")[0] is preview
    status, message = crit(judge(matrix, snap, GA)[0], "gpu.driver")
    assert status is ga
    if ga is Status.FAIL:
        assert "495.00" in message and "install the NVIDIA CUDA-enabled driver for WSL" in message


def test_no_nvidia_driver(matrix: Matrix, make_snapshot: Snap) -> None:
    video = probe(
        ps(
            {
                "Name": "Microsoft Basic Display Adapter",
                "Caption": "Microsoft Basic Display Adapter",
                "PNPDeviceID": "PCI\\VEN_10DE&DEV_2503&SUBSYS_397D1462&REV_A1\\4&2283F625&0&0019",
                "AdapterCompatibility": "(Standard display types)",
                "DriverVersion": "10.0.22621.1",
                "ConfigManagerErrorCode": 0,
            }
        )
    )
    (gpu,) = judge(matrix, make_snapshot(video_controllers=video), GA)
    assert gpu.model == "rtx3060"
    status, message = crit(gpu, "gpu.driver")
    assert status is Status.FAIL and "Microsoft Basic Display Adapter" in message


def test_missing_probes_are_unknown_not_fail(matrix: Matrix, make_snapshot: Snap) -> None:
    (gpu,) = judge(matrix, make_snapshot(drop=("disk", "partitionable_gpus", "os_cim")), GA)
    for cid in ("host.disk", "gpupv.partitionable", "host.memory"):
        status, message = crit(gpu, cid)
        assert status is Status.UNKNOWN and "was not captured" in message, cid
    assert gpu.verdict is Verdict.INCOMPLETE


def test_failed_probe_reason_is_kept(matrix: Matrix, make_snapshot: Snap) -> None:
    snap = make_snapshot(partitionable_gpus=probe("", 1, "Get-VMHostPartitionableGpu : not recognized"))
    status, message = crit(judge(matrix, snap)[0], "gpupv.partitionable")
    assert (
        status is Status.UNKNOWN and "failed (exit 1)" in message and "Hyper-V PowerShell module" in message
    )


def test_unparsable_probe_output_is_unknown(matrix: Matrix, make_snapshot: Snap) -> None:
    (gpu,) = judge(matrix, make_snapshot(disk=probe("<html>not json</html>")))
    status, message = crit(gpu, "host.disk")
    assert status is Status.UNKNOWN and "not JSON" in message


def test_nested_vm_host(matrix: Matrix, make_snapshot: Snap) -> None:
    snap = make_snapshot(
        computer_system=probe(
            ps(
                {
                    "Manufacturer": "Microsoft Corporation",
                    "Model": "Virtual Machine",
                    "HypervisorPresent": True,
                }
            )
        )
    )
    status, message = crit(judge(matrix, snap)[0], "host.physical")
    assert status is Status.FAIL and "does not nest" in message


def test_resources(matrix: Matrix, make_snapshot: Snap) -> None:
    snap = make_snapshot(
        os_cim=probe(ps({"FreePhysicalMemory": "524288"})),
        disk=probe(ps([{"DeviceID": "C:", "FreeSpace": 9_999_999_999}])),
    )
    (gpu,) = judge(matrix, snap)
    assert crit(gpu, "host.memory")[0] is Status.FAIL and crit(gpu, "host.disk")[0] is Status.FAIL


def test_partitionable_and_policy(matrix: Matrix, make_snapshot: Snap) -> None:
    snap = make_snapshot(
        partitionable_gpus=probe(""),
        hyperv_policy=probe(ps({"RequireSecureDeviceAssignment": 1, "RequireSupportedDeviceAssignment": 0})),
    )
    (gpu,) = judge(matrix, snap)
    assert crit(gpu, "gpupv.partitionable")[0] is Status.FAIL
    status, message = crit(gpu, "gpupv.policy")
    assert status is Status.WARN and "RequireSecureDeviceAssignment=1" in message


@pytest.mark.parametrize(
    ("field", "value", "cid"),
    [
        ("AcsCompatibleUpHierarchy", 0, "dda.acs"),
        ("InterruptTypes", "line", "dda.interrupts"),
        ("RequiresReservedMemoryRegion", True, "dda.rmrr"),
        ("PciDeviceType", 5, "dda.endpoint"),
        ("LocationPath", None, "dda.location"),
    ],
)
def test_dda_survey_failures(matrix: Matrix, make_snapshot: Snap, field: str, value: Any, cid: str) -> None:
    device = {
        "InstanceId": "PCI\\VEN_10DE&DEV_1EB8&SUBSYS_12A210DE&REV_A1\\4&1&0&0010",
        "LocationPath": "PCIROOT(36)#PCI(0000)#PCI(0000)",
        "PciDeviceType": 2,
        "AcsCompatibleUpHierarchy": 3,
        "RequiresReservedMemoryRegion": 0,
        "InterruptTypes": "msi",
        "ConfigManagerErrorCode": 0,
    }
    device[field] = value
    snap = make_snapshot(
        os=os_probe("ServerDatacenter", 20348, 2700, "Server"),
        video_controllers=probe(""),
        pci_survey=probe(ps(device)),
        vmhost=probe(ps({"IovSupport": True})),
    )
    (gpu,) = judge(matrix, snap)
    assert gpu.model == "t4"
    assert crit(gpu, cid)[0] is Status.FAIL
    assert gpu.verdict is Verdict.NOT_ELIGIBLE


def test_iov_unsupported(matrix: Matrix, make_snapshot: Snap) -> None:
    device = {
        "InstanceId": "PCI\\VEN_10DE&DEV_25B6&SUBSYS_157E10DE&REV_A1\\4&1&0&0010",
        "FriendlyName": "NVIDIA A2",
        "LocationPath": "PCIROOT(0)#PCI(0100)#PCI(0000)",
        "PciDeviceType": 2,
        "AcsCompatibleUpHierarchy": 3,
        "RequiresReservedMemoryRegion": 0,
        "InterruptTypes": "msi",
    }
    snap = make_snapshot(video_controllers=probe(""), pci_survey=probe(ps(device)))
    (gpu,) = judge(matrix, snap)
    assert gpu.model == "a2" and gpu.name == "NVIDIA A2"
    status, message = crit(gpu, "dda.iov")
    assert status is Status.FAIL and "Missing IOMMU" in message
    (preview,) = judge(matrix, snap, PREVIEW)
    assert preview.verdict is Verdict.UNSUPPORTED


def test_deploy_hint_quotes_hostile_names(matrix: Matrix, make_snapshot: Snap) -> None:
    snap = make_snapshot()
    video = json.loads(snap["probes"]["video_controllers"]["stdout"])
    video["Caption"] = 'NVIDIA GeForce RTX 3060 $(Remove-Item C:\\ -Recurse) "x"'
    snap["probes"]["video_controllers"] = probe(ps(video))
    (gpu,) = judge(matrix, snap)
    assert gpu.deploy_hint is not None
    assert gpu.deploy_hint.endswith(
        """-gpuName 'NVIDIA GeForce RTX 3060 $(Remove-Item C:\\ -Recurse) "x"' -gpuCount 1"""
    )
