"""Typed facts about a Windows host, parsed from a host snapshot's raw probe output.

Every group of facts is ``None`` when its probe was not captured, failed or printed something that
cannot be read; :attr:`HostFacts.missing` then says why, per probe, so that the rules can report
``unknown`` with the reason instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eflowgpu.host import psjson
from eflowgpu.nvsmi import NvidiaSmiError, SmiLog, parse_nvidia_smi
from eflowgpu.snapshot import Probe, Snapshot
from eflowgpu.versions import WindowsBuild

T = TypeVar("T")


@dataclass(frozen=True)
class OsInfo:
    """``HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion``."""

    edition_id: str | None
    build: WindowsBuild | None
    installation_type: str | None
    product_name: str | None
    display_version: str | None


@dataclass(frozen=True)
class OsCim:
    """``Win32_OperatingSystem``."""

    caption: str | None
    product_type: int | None
    free_memory_kib: int | None
    total_memory_kib: int | None


@dataclass(frozen=True)
class VideoController:
    """``Win32_VideoController``: one adapter as Windows shows it."""

    name: str | None
    caption: str | None
    pnp_device_id: str | None
    adapter_compatibility: str | None
    driver_version: str | None
    status: str | None
    config_manager_error_code: int | None


@dataclass(frozen=True)
class ComputerSystem:
    """``Win32_ComputerSystem``."""

    manufacturer: str | None
    model: str | None
    hypervisor_present: bool | None
    total_memory_bytes: int | None


@dataclass(frozen=True)
class Processor:
    """``Win32_Processor``: one socket."""

    name: str | None
    virtualization_firmware_enabled: bool | None
    slat: bool | None


@dataclass(frozen=True)
class Disk:
    """``Win32_LogicalDisk`` of the system drive."""

    device_id: str | None
    free_bytes: int | None
    size_bytes: int | None


@dataclass(frozen=True)
class VmHost:
    """``Get-VMHost``: whether the platform can assign devices."""

    iov_support: bool | None
    iov_support_reasons: tuple[str, ...]


@dataclass(frozen=True)
class SurveyDevice:
    """One display or 3D controller from the DDA survey (SurveyDDA's checks)."""

    instance_id: str
    friendly_name: str | None
    status: str | None
    config_manager_error_code: int | None
    location_path: str | None
    pci_device_type: int | None
    acs_compatible_up_hierarchy: int | None
    requires_reserved_memory_region: int | None
    interrupt_types: str | None
    mmio_bytes: int | None
    driver_provider: str | None
    driver_inf_path: str | None
    driver_service: str | None


@dataclass(frozen=True)
class AssignableDevice:
    """``Get-VMHostAssignableDevice``: a device dismounted from the host for DDA."""

    instance_id: str
    location_path: str | None


@dataclass(frozen=True)
class PartitionableGpu:
    """``Get-VMHostPartitionableGpu``: a GPU Hyper-V can paravirtualize."""

    name: str
    valid_partition_counts: tuple[int, ...]


@dataclass(frozen=True)
class HyperVPolicy:
    """``HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\HyperV``; both None when no policy is set."""

    require_secure_device_assignment: int | None
    require_supported_device_assignment: int | None


@dataclass(frozen=True)
class EflowGpuInfo:
    """``Get-EflowHostConfiguration``'s ``GpuInfo``: EFLOW's own view of the host's GPU."""

    count: int | None
    name: str | None
    supported_passthrough_types: tuple[str, ...]


@dataclass(frozen=True)
class WslInfo:
    """The ``wsl`` probe: the Store WSL's version and where WSL's GPU libraries are."""

    store_version: str | None
    store_lib: bool | None
    inbox_lib: bool | None

    @property
    def store_installed(self) -> bool:
        """The Microsoft Store WSL is installed (its ``wsl.exe`` or its library folder exists)."""
        return bool(self.store_version) or bool(self.store_lib)


@dataclass(frozen=True)
class HostFacts:
    """Everything the rules know about one host. ``None`` means unknown; see :attr:`missing`."""

    host: str
    os: OsInfo | None = None
    os_cim: OsCim | None = None
    insider_branch: str | None = None
    video_controllers: tuple[VideoController, ...] | None = None
    computer: ComputerSystem | None = None
    processors: tuple[Processor, ...] | None = None
    features: Mapping[str, int] | None = None
    disk: Disk | None = None
    vmhost: VmHost | None = None
    pci_survey: tuple[SurveyDevice, ...] | None = None
    assignable_devices: tuple[AssignableDevice, ...] | None = None
    partitionable_gpus: tuple[PartitionableGpu, ...] | None = None
    hyperv_policy: HyperVPolicy | None = None
    nvidia_smi: SmiLog | None = None
    eflow_version: str | None = None
    eflow_gpu: EflowGpuInfo | None = None
    wsl: WslInfo | None = None
    missing: Mapping[str, str] = field(default_factory=dict)

    def why_missing(self, *probes: str) -> str:
        """Why the first of ``probes`` that is unavailable could not be used (for ``unknown`` details)."""
        for name in probes:
            if name in self.missing:
                return self.missing[name]
        return f"probe {probes[0]!r} gave no usable data"


_HYPERV_MODULE = "the Hyper-V PowerShell module is missing, so Hyper-V is not enabled"
_FAILURE_MEANS = {
    "vmhost": _HYPERV_MODULE,
    "assignable_devices": _HYPERV_MODULE,
    "partitionable_gpus": _HYPERV_MODULE,
}
_OLD_GPU_CMDLET = (
    "Windows 10 and Windows Server 2019 name this cmdlet Get-VMPartitionableGpu (Get-VMHostPartitionableGpu "
    "exists from Windows 11 and Server 2022 on), and the Hyper-V module answered Get-VMHost: collect the "
    "snapshot again with the current collector, which tries both"
)


class _Reader:
    """Parses each probe once, recording why unusable probes are unusable."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.missing: dict[str, str] = {}

    def json(self, name: str, build: Callable[[Any], T]) -> T | None:
        probe = self._usable(name)
        if probe is None:
            return None
        try:
            return build(psjson.parse(probe.stdout))
        except psjson.PsJsonError as exc:
            self.missing[name] = f"probe {name!r} printed output that is {exc}"
            return None

    def failed(self, name: str) -> Probe | None:
        """The probe when it ran and exited non-zero (a finding for some probes), else None."""
        probe = self.snapshot.probe(name)
        return probe if probe is not None and not probe.ok else None

    def _usable(self, name: str) -> Probe | None:
        probe = self.snapshot.probe(name)
        if probe is None:
            self.missing[name] = f"probe {name!r} was not captured"
            return None
        if not probe.ok:
            first = next((line.strip() for line in probe.stderr.splitlines() if line.strip()), "")
            detail = f": {first[:160]}" if first else ""
            meaning = _FAILURE_MEANS.get(name)
            if name == "partitionable_gpus" and self._new_cmdlet_missing(probe):
                meaning = _OLD_GPU_CMDLET
            self.missing[name] = f"probe {name!r} failed (exit {probe.exit_code}){detail}" + (
                f"; {meaning}" if meaning else ""
            )
            return None
        return probe

    def _new_cmdlet_missing(self, probe: Probe) -> bool:
        """Get-VMHostPartitionableGpu is unknown while Get-VMHost answered: Windows 10's cmdlet name."""
        vmhost = self.snapshot.probe("vmhost")
        text = probe.stderr.casefold()
        return (
            vmhost is not None
            and vmhost.ok
            and "get-vmhostpartitionablegpu" in text
            and "is not recognized" in text
        )


def host_facts(snapshot: Snapshot) -> HostFacts:
    """Parse every probe of ``snapshot`` into :class:`HostFacts`; never raises for bad probe output."""
    r = _Reader(snapshot)
    nvidia_smi = None
    smi_probe = snapshot.probe("nvidia_smi")
    if smi_probe is not None and smi_probe.ok:
        try:
            nvidia_smi = parse_nvidia_smi(smi_probe.stdout)
        except NvidiaSmiError as exc:
            r.missing["nvidia_smi"] = f"probe 'nvidia_smi': {exc}"
    insider = None
    if r.failed("insider") is None:
        insider = r.json("insider", lambda v: psjson.to_text((psjson.one(v) or {}).get("branchname")))
    return HostFacts(
        host=snapshot.host,
        os=r.json("os", _os),
        os_cim=r.json("os_cim", _os_cim),
        insider_branch=insider,
        video_controllers=r.json("video_controllers", lambda v: tuple(_video(o) for o in psjson.objects(v))),
        computer=r.json("computer_system", _computer),
        processors=r.json("processor", lambda v: tuple(_processor(o) for o in psjson.objects(v)) or None),
        features=r.json("features", _features),
        disk=r.json("disk", _disk),
        vmhost=r.json("vmhost", _vmhost),
        pci_survey=r.json("pci_survey", lambda v: tuple(d for d in map(_survey, psjson.objects(v)) if d)),
        assignable_devices=r.json("assignable_devices", _assignable),
        partitionable_gpus=r.json("partitionable_gpus", _partitionable),
        hyperv_policy=_policy(r),
        nvidia_smi=nvidia_smi,
        eflow_version=r.json("eflow", lambda v: _version_text((psjson.one(v) or {}).get("version"))),
        eflow_gpu=_eflow_gpu(r),
        wsl=r.json("wsl", _wsl),
        missing=dict(r.missing),
    )


def _version_text(value: Any) -> str | None:
    """A module version: ConvertTo-Json prints a ``System.Version`` as an object of its parts."""
    if isinstance(value, dict):
        parts = [psjson.to_int(value.get(k)) for k in ("major", "minor", "build", "revision")]
        shown = [str(p) for p in parts if p is not None and p >= 0]
        return ".".join(shown) or None
    return psjson.to_text(value)


def _wsl(value: Any) -> WslInfo | None:
    obj = psjson.one(value)
    if obj is None:
        return None
    return WslInfo(
        store_version=psjson.to_text(obj.get("storewslversion")),
        store_lib=psjson.to_bool(obj.get("storewsllib")),
        inbox_lib=psjson.to_bool(obj.get("inboxwsllib")),
    )


def _os(value: Any) -> OsInfo | None:
    obj = psjson.one(value)
    if obj is None:
        return None
    build_number = psjson.to_int(obj.get("currentbuild")) or psjson.to_int(obj.get("currentbuildnumber"))
    ubr = psjson.to_int(obj.get("ubr"))
    build = WindowsBuild(build_number, ubr) if build_number is not None else None
    return OsInfo(
        edition_id=psjson.to_text(obj.get("editionid")),
        build=build,
        installation_type=psjson.to_text(obj.get("installationtype")),
        product_name=psjson.to_text(obj.get("productname")),
        display_version=psjson.to_text(obj.get("displayversion")) or psjson.to_text(obj.get("releaseid")),
    )


def _os_cim(value: Any) -> OsCim | None:
    obj = psjson.one(value)
    if obj is None:
        return None
    return OsCim(
        caption=psjson.to_text(obj.get("caption")),
        product_type=psjson.to_int(obj.get("producttype")),
        free_memory_kib=psjson.to_int(obj.get("freephysicalmemory")),
        total_memory_kib=psjson.to_int(obj.get("totalvisiblememorysize")),
    )


def _video(obj: psjson.PsObject) -> VideoController:
    return VideoController(
        name=psjson.to_text(obj.get("name")),
        caption=psjson.to_text(obj.get("caption")),
        pnp_device_id=psjson.to_text(obj.get("pnpdeviceid")),
        adapter_compatibility=psjson.to_text(obj.get("adaptercompatibility")),
        driver_version=psjson.to_text(obj.get("driverversion")),
        status=psjson.to_text(obj.get("status")),
        config_manager_error_code=_cm_code(obj.get("configmanagererrorcode")),
    )


def _cm_code(value: Any) -> int | None:
    """ConfigManagerErrorCode as a number; PowerShell may print the enum name (``CM_PROB_DISABLED``)."""
    number = psjson.to_int(value)
    if number is not None:
        return number
    text = psjson.to_text(value)
    return _CM_NAMES.get(text.upper()) if text else None


_CM_NAMES = {
    "CM_PROB_NONE": 0,
    "CM_PROB_NOT_CONFIGURED": 1,
    "CM_PROB_FAILED_START": 10,
    "CM_PROB_DISABLED": 22,
    "CM_PROB_FAILED_POST_START": 43,
    "CM_PROB_FAILED_INSTALL": 28,
    "CM_PROB_DRIVER_FAILED_LOAD": 31,
    "CM_PROB_HARDWARE_DISABLED": 29,
    "CM_PROB_PHANTOM": 45,
}


def _computer(value: Any) -> ComputerSystem | None:
    obj = psjson.one(value)
    if obj is None:
        return None
    return ComputerSystem(
        manufacturer=psjson.to_text(obj.get("manufacturer")),
        model=psjson.to_text(obj.get("model")),
        hypervisor_present=psjson.to_bool(obj.get("hypervisorpresent")),
        total_memory_bytes=psjson.to_int(obj.get("totalphysicalmemory")),
    )


def _processor(obj: psjson.PsObject) -> Processor:
    return Processor(
        name=psjson.to_text(obj.get("name")),
        virtualization_firmware_enabled=psjson.to_bool(obj.get("virtualizationfirmwareenabled")),
        slat=psjson.to_bool(obj.get("secondleveladdresstranslationextensions")),
    )


def _features(value: Any) -> dict[str, int]:
    found: dict[str, int] = {}
    for obj in psjson.objects(value):
        name = psjson.to_text(obj.get("name"))
        state = psjson.to_int(obj.get("installstate"))
        if state is None:
            state = {"enabled": 1, "disabled": 2, "absent": 3}.get(str(obj.get("installstate")).casefold(), 4)
        if name:
            found[name.casefold()] = state
    return found


def _disk(value: Any) -> Disk | None:
    obj = psjson.one(value)
    if obj is None:
        return None
    return Disk(
        device_id=psjson.to_text(obj.get("deviceid")),
        free_bytes=psjson.to_int(obj.get("freespace")),
        size_bytes=psjson.to_int(obj.get("size")),
    )


def _vmhost(value: Any) -> VmHost | None:
    obj = psjson.one(value)
    if obj is None:
        return None
    return VmHost(psjson.to_bool(obj.get("iovsupport")), tuple(psjson.to_texts(obj.get("iovsupportreasons"))))


def _survey(obj: psjson.PsObject) -> SurveyDevice | None:
    instance = psjson.to_text(obj.get("instanceid"))
    if instance is None:
        return None
    interrupts = psjson.to_text(obj.get("interrupttypes"))
    return SurveyDevice(
        instance_id=instance,
        friendly_name=psjson.to_text(obj.get("friendlyname")),
        status=psjson.to_text(obj.get("status")),
        config_manager_error_code=_cm_code(obj.get("configmanagererrorcode")),
        location_path=psjson.to_text(obj.get("locationpath")),
        pci_device_type=psjson.to_int(obj.get("pcidevicetype")),
        acs_compatible_up_hierarchy=psjson.to_int(obj.get("acscompatibleuphierarchy")),
        requires_reserved_memory_region=_int_or_bool(obj.get("requiresreservedmemoryregion")),
        interrupt_types=interrupts.casefold() if interrupts else None,
        mmio_bytes=psjson.to_int(obj.get("mmiobytes")),
        driver_provider=psjson.to_text(obj.get("driverprovider")),
        driver_inf_path=psjson.to_text(obj.get("driverinfpath")),
        driver_service=psjson.to_text(obj.get("driverservice")),
    )


def _int_or_bool(value: Any) -> int | None:
    number = psjson.to_int(value)
    if number is not None:
        return number
    flag = psjson.to_bool(value)
    return None if flag is None else int(flag)


def _assignable(value: Any) -> tuple[AssignableDevice, ...]:
    devices = []
    for obj in psjson.objects(value):
        instance = psjson.to_text(obj.get("instanceid"))
        if instance:
            devices.append(AssignableDevice(instance, psjson.to_text(obj.get("locationpath"))))
    return tuple(devices)


def _partitionable(value: Any) -> tuple[PartitionableGpu, ...]:
    gpus = []
    for obj in psjson.objects(value):
        name = psjson.to_text(obj.get("name"))
        if name:
            counts = obj.get("validpartitioncounts")
            items = counts if isinstance(counts, list) else [counts]
            numbers = tuple(n for n in (psjson.to_int(c) for c in items) if n is not None)
            gpus.append(PartitionableGpu(name, numbers))
    return tuple(gpus)


def _policy(r: _Reader) -> HyperVPolicy | None:
    if r.failed("hyperv_policy") is not None:
        return HyperVPolicy(None, None)
    return r.json(
        "hyperv_policy",
        lambda v: HyperVPolicy(
            psjson.to_int((psjson.one(v) or {}).get("requiresecuredeviceassignment")),
            psjson.to_int((psjson.one(v) or {}).get("requiresupporteddeviceassignment")),
        ),
    )


def _eflow_gpu(r: _Reader) -> EflowGpuInfo | None:
    if r.failed("eflow_host") is not None:
        return None

    def build(value: Any) -> EflowGpuInfo | None:
        info = (psjson.one(value) or {}).get("gpuinfo")
        obj = psjson.one(info)
        if obj is None:
            return None
        return EflowGpuInfo(
            psjson.to_int(obj.get("count")),
            psjson.to_text(obj.get("name")),
            tuple(psjson.to_texts(obj.get("supportedpassthroughtypes"))),
        )

    return r.json("eflow_host", build)
