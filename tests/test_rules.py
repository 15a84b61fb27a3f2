"""Eligibility rules over recorded output: one behaviour per test, through the same parsers as live data."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from eflowgpu.criteria import Status, Verdict
from eflowgpu.evaluate import evaluate_host_data, evaluate_host_file
from eflowgpu.identity import identify
from eflowgpu.matrix import Matrix
from eflowgpu.pci import PciIdentity
from eflowgpu.report.model import build_report
from eflowgpu.rules import GpuResult

from helpers import PROJECT, probe, ps

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


# --- corrections from shared/reference/real-world-review.md ---------------------------------------

LATE = "late-2021"
HOSTS = PROJECT / "fixtures" / "hosts"


def lab(matrix: Matrix, stem: str, profile: str = GA) -> list[GpuResult]:
    result = evaluate_host_file(matrix, matrix.profile(profile), HOSTS / f"{stem}.json")
    assert result.status == "ok", result.error
    return list(result.gpus)


def features(**states: int) -> dict[str, Any]:
    return probe(ps([{"Name": name, "InstallState": state} for name, state in states.items()]))


def test_wsl2_only_host_fails_hyperv_although_a_hypervisor_runs(matrix: Matrix, make_snapshot: Snap) -> None:
    snap = make_snapshot(
        features=features(**{"Microsoft-Hyper-V-All": 2, "Microsoft-Hyper-V": 2, "VirtualMachinePlatform": 1})
    )
    status, message = crit(judge(matrix, snap)[0], "host.hyperv")
    assert status is Status.FAIL
    assert "Microsoft-Hyper-V disabled" in message and "WSL 2" in message and "Deploy-Eflow checks" in message
    (sample,) = lab(matrix, "lab-wsl2-only-nohyperv")
    assert crit(sample, "host.hyperv")[0] is Status.FAIL


def test_hypervisor_present_decides_only_without_the_features_probe(
    matrix: Matrix, make_snapshot: Snap
) -> None:
    status, message = crit(judge(matrix, make_snapshot(drop=("features",)))[0], "host.hyperv")
    assert status is Status.PASS and "HypervisorPresent True" in message and "not captured" in message


@pytest.mark.parametrize(
    ("free_mib", "eflow", "expected"),
    [
        (3_000_000_000 // 2**20, False, Status.FAIL),  # 3 GB free: Start-EflowVm refuses a 4096 MB VM
        (3_000_000_000 // 2**20, True, Status.WARN),  # EFLOW's running VM may already hold its memory
        (800, True, Status.FAIL),  # below EFLOW's 1 GiB minimum
        (4096, False, Status.PASS),
    ],
)
def test_host_memory_is_judged_against_the_vm_size(
    matrix: Matrix, make_snapshot: Snap, free_mib: int, eflow: bool, expected: Status
) -> None:
    module = probe(
        ps({"Name": "AzureEFLOW", "Version": {"Major": 1, "Minor": 5, "Build": 6, "Revision": 8025}})
    )
    snap = make_snapshot(
        os_cim=probe(ps({"FreePhysicalMemory": free_mib * 1024})), eflow=module if eflow else probe("")
    )
    status, message = crit(judge(matrix, snap)[0], "host.memory")
    assert status is expected, message
    assert f"{free_mib} MiB" in message and ("4096 MiB" in message or "1024 MiB" in message)
    (sample,) = lab(matrix, "lab-lowmem-3gb")
    assert crit(sample, "host.memory")[0] is Status.FAIL


def _win10(wsl: dict[str, Any] | None, component: int) -> dict[str, Any]:
    extra: dict[str, Any] = {"wsl": probe(ps(wsl))} if wsl is not None else {}
    return {
        "os": os_probe("Professional", 19045, 6456),
        "features": features(**{"Microsoft-Hyper-V": 1, "Microsoft-Windows-Subsystem-Linux": component}),
        **extra,
    }


def test_store_wsl_satisfies_gpu_wsl(matrix: Matrix, make_snapshot: Snap) -> None:
    store = {"StoreWslVersion": "2.6.1.0", "StoreWslLib": True, "InboxWslLib": False}
    status, message = crit(judge(matrix, make_snapshot(**_win10(store, 2)))[0], "gpu.wsl")
    assert status is Status.PASS and "Store WSL 2.6.1.0" in message
    nothing = {"StoreWslVersion": None, "StoreWslLib": False, "InboxWslLib": False}
    status, message = crit(judge(matrix, make_snapshot(**_win10(nothing, 2)))[0], "gpu.wsl")
    assert status is Status.FAIL and "Store WSL is not installed" in message
    status, message = crit(judge(matrix, make_snapshot(**_win10(None, 2)))[0], "gpu.wsl")
    assert status is Status.FAIL and "was not looked for" in message
    assert crit(judge(matrix, make_snapshot(**_win10(None, 1)))[0], "gpu.wsl")[0] is Status.PASS


def test_one_tcc_gpu_fails_gpupv_for_the_wddm_gpu(matrix: Matrix) -> None:
    gpus = {g.pci_id: g for g in lab(matrix, "lab-tcc-beside-wddm")}
    status, message = crit(gpus["10DE:24B0"], "gpupv.driver_model")
    assert status is Status.FAIL and "NVIDIA RTX A6000 (00000000:C1:00.0)" in message and "WDDM" in message
    assert gpus["10DE:24B0"].verdict is Verdict.NOT_ELIGIBLE


def test_driver_model_without_nvidia_smi(matrix: Matrix, make_snapshot: Snap) -> None:
    # The healthy host has no nvidia_smi probe: its one NVIDIA GPU is partitionable, so not in TCC.
    status, message = crit(judge(matrix, make_snapshot())[0], "gpupv.driver_model")
    assert status is Status.PASS and "partitionable" in message
    status, _ = crit(judge(matrix, make_snapshot(partitionable_gpus=probe("")))[0], "gpupv.driver_model")
    assert status is Status.UNKNOWN


def test_windows_10_19045_geforce_verdicts_under_every_profile(matrix: Matrix) -> None:
    stem = "lab-geforce-win10-19045-storewsl"
    (gpu,) = lab(matrix, stem, PREVIEW)
    assert dict(gpu.verdicts) == {
        PREVIEW: Verdict.NOT_ELIGIBLE,
        LATE: Verdict.ELIGIBLE,
        GA: Verdict.ELIGIBLE,
    }
    status, message = crit(gpu, "os.build")
    assert status is Status.FAIL and f"accepted under profile {LATE}" in message and GA in message
    assert f"--profile {LATE}" in message
    report = build_report(
        matrix,
        matrix.profile(PREVIEW),
        [evaluate_host_file(matrix, matrix.profile(PREVIEW), HOSTS / f"{stem}.json")],
    )
    assert report["systems"][0]["gpus"][0]["verdicts"] == {
        PREVIEW: "not-eligible",
        LATE: "eligible",
        GA: "eligible",
    }


def test_known_broken_insider_build_fails_with_the_reason(matrix: Matrix) -> None:
    (gpu,) = lab(matrix, "lab-insider-21354", PREVIEW)
    status, message = crit(gpu, "os.build")
    assert status is Status.FAIL and "GPU compute support is unavailable" in message and "WSL#6773" in message
    assert "no other profile of the matrix accepts it" in message


def test_mitigation_driver_as_windows_records_it(matrix: Matrix) -> None:
    (mitigated,) = lab(matrix, "lab-t4-srv2022")
    assert crit(mitigated, "dda.mitigation_driver")[0] is Status.PASS
    (generic,) = lab(matrix, "lab-t4-srv2022-dismounted")
    status, message = crit(generic, "dda.mitigation_driver")
    assert status is Status.WARN and "Microsoft's generic driver" in message
    assert "nvidia_azure_stack_T4_base.inf" in message


def test_mmio_beyond_what_the_eflow_vm_gives_warns(matrix: Matrix, make_snapshot: Snap) -> None:
    def t4(mmio: int) -> GpuResult:
        pnp = "PCI\\VEN_10DE&DEV_1EB8&SUBSYS_12A210DE&REV_A1\\4&1&0&0010"
        survey = {"InstanceId": pnp, "LocationPath": "PCIROOT(0)#PCI(0300)", "MmioBytes": mmio}
        video = {"Name": "NVIDIA Tesla T4", "PNPDeviceID": pnp, "ConfigManagerErrorCode": 0}
        snap = make_snapshot(
            os=os_probe("ServerStandard", 20348, 4171, "Server"),
            video_controllers=probe(ps(video)),
            pci_survey=probe(ps(survey)),
        )
        return judge(matrix, snap)[0]

    assert crit(t4(16432 * 2**20), "dda.mmio")[0] is Status.PASS
    status, message = crit(t4(33 * 2**30), "dda.mmio")
    assert status is Status.WARN and "33792 MiB" in message and "HighMemoryMappedIoSpace" in message
    assert not next(c for c in t4(33 * 2**30).criteria if c.id == "dda.mmio").required


def test_eflow_known_defects(matrix: Matrix) -> None:
    (a2,) = lab(matrix, "lab-a2-win11-eflow12")
    status, message = crit(a2, "host.eflow")
    assert status is Status.WARN and "A2 GPU passthrough is broken on Windows client SKUs" in message
    assert "update EFLOW to 1.5.6.8025 or later" in message
    (dda_broken,) = lab(matrix, "lab-a2-iot-19044-1620")
    assert "GPU DDA passthrough fails" in crit(dda_broken, "host.eflow")[1]
    (current,) = lab(matrix, "lab-rtxa2000-win11")
    assert crit(current, "host.eflow")[0] is Status.PASS


def test_windows_10_names_the_partitionable_cmdlet_differently(matrix: Matrix, make_snapshot: Snap) -> None:
    # Windows 10 with Hyper-V in use, as reported in DanielChrobak/Hyper-V-GPU-Paravirtualization-Manager#3
    # (Win10 + RTX 2080 Ti, 2025-12-30), PowerShell 5.1's wrapping at 105 columns kept.
    stderr = (
        "Get-VMHostPartitionableGpu : The term 'Get-VMHostPartitionableGpu' is not recognized as the name "
        "of a cmd\r\n"
        "let, function, script file, or operable program. Check the spelling of the name, or if a path was "
        "include\r\n"
        "d, verify that the path is correct and try again.\r\n"
        "    + CategoryInfo          : ObjectNotFound: (Get-VMHostPartitionableGpu:String) [], "
        "CommandNotFoundExc\r\n"
        "   eption\r\n"
        "    + FullyQualifiedErrorId : CommandNotFoundException\r\n"
    )
    snap = make_snapshot(partitionable_gpus=probe("", 1, stderr))
    status, message = crit(judge(matrix, snap)[0], "gpupv.partitionable")
    assert (
        status is Status.UNKNOWN
        and "Get-VMPartitionableGpu" in message
        and "module is missing" not in message
    )
    no_module = make_snapshot(partitionable_gpus=probe("", 1, stderr), vmhost=probe("", 1, stderr))
    assert "module is missing" in crit(judge(matrix, no_module)[0], "gpupv.partitionable")[1]


@pytest.mark.parametrize(
    ("name", "vendor", "device", "brand"),
    [
        ("NVIDIA GeForce GTX 970", "10DE", "13C2", "nvidia_pre_pascal"),
        ("NVIDIA GeForce GTX 750 Ti", "10DE", "1380", "nvidia_pre_pascal"),
        ("NVIDIA GeForce 940MX", "10DE", "134D", "nvidia_pre_pascal"),
        ("NVIDIA Quadro K2200", "10DE", "13BA", "nvidia_pre_pascal"),
        ("NVIDIA Quadro M4000", "10DE", "13F1", "nvidia_pre_pascal"),
        ("NVIDIA GeForce GT 1030", "10DE", "1D01", "geforce"),
        ("NVIDIA GeForce GTX 1050 Ti", "10DE", "1C82", "geforce"),
        ("NVIDIA GeForce MX150", "10DE", "1D10", "geforce"),
        ("NVIDIA Quadro P620", "10DE", "1CB6", "quadro"),
        ("Intel(R) Arc(TM) A770 Graphics", "8086", "56A0", "intel_discrete"),
        ("Intel(R) Arc(TM) B580 Graphics", "8086", "E20B", "intel_discrete"),
        ("Intel(R) Arc(TM) Graphics", "8086", "7D55", "intel_igpu"),
        ("Intel(R) Arc(TM) 140V GPU (16GB)", "8086", "64A0", "intel_igpu"),
        ("Intel(R) UHD Graphics 770", "8086", "4680", "intel_igpu"),
    ],
)
def test_pascal_and_later_and_integrated_only(
    matrix: Matrix, name: str, vendor: str, device: str, brand: str
) -> None:
    found = identify(matrix, PciIdentity(vendor, device), name)
    assert found.model is None and found.brand is not None and found.brand.key == brand
    rows = [matrix.profile(p).row_for(None, brand) for p in (PREVIEW, LATE, GA)]
    assert all(r is None for r in rows) == (brand in ("nvidia_pre_pascal", "intel_discrete"))


@pytest.mark.parametrize("edition", ["ServerDatacenterACor", "ServerTurbine"])
def test_azure_edition_is_a_server_edition(matrix: Matrix, edition: str) -> None:
    group = matrix.edition_group(edition)
    assert group is not None and group.key == "server"


def test_dda_gpu_without_host_driver_warns_and_keeps_its_product_name(
    matrix: Matrix, make_snapshot: Snap
) -> None:
    pnp = "PCI\\VEN_10DE&DEV_1EB8&SUBSYS_12A210DE&REV_A1\\4&1&0&0010"
    video = {"Name": "3D Video Controller", "Caption": "3D Video Controller", "PNPDeviceID": pnp}
    video |= {"ConfigManagerErrorCode": 28, "Status": "Error"}
    survey = {"InstanceId": pnp, "LocationPath": "PCIROOT(0)#PCI(0300)", "ConfigManagerErrorCode": 28}
    survey |= {"PciDeviceType": 2, "AcsCompatibleUpHierarchy": 3, "RequiresReservedMemoryRegion": 0}
    snap = make_snapshot(
        os=os_probe("ServerStandard", 20348, 4171, "Server"),
        video_controllers=probe(ps(video)),
        pci_survey=probe(ps(survey | {"InterruptTypes": "msi"})),
        vmhost=probe(ps({"IovSupport": True})),
    )
    (gpu,) = judge(matrix, snap)
    status, message = crit(gpu, "gpu.device")
    assert status is Status.WARN and "DDA needs none" in message and "'3D Video Controller'" in message
    assert (
        gpu.name == "NVIDIA Tesla T4"
        and gpu.deploy_hint is not None
        and '"NVIDIA Tesla T4"' in gpu.deploy_hint
    )
