"""Typed facts about a Linux VM, parsed from a VM snapshot (recorded or captured live).

The probes are the contract's (``contracts/vm-snapshot.md``). ``dev_nodes`` and ``wsl_libs`` are
``ls`` outputs: names that exist are on stdout even when others are missing and the exit code is
non-zero. GPUs come from the ``nvml`` probe when the live collector recorded one (NVML answers,
serialized), else from ``nvidia_smi`` XML; both give the same :class:`VmGpu` facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from eflowgpu.nvsmi import NvidiaSmiError
from eflowgpu.snapshot import Snapshot
from eflowgpu.vm.model import VmGpu
from eflowgpu.vm.serialize import NVML_PROBE, gpus_from_nvml_probe
from eflowgpu.vm.smi import gpus_from_smi

_PCI_LINE = re.compile(
    r"^(?P<addr>[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\s+0x(?P<ven>[0-9a-fA-F]{4})\s+"
    r"0x(?P<dev>[0-9a-fA-F]{4})\s+0x(?P<sven>[0-9a-fA-F]{4})\s+0x(?P<sdev>[0-9a-fA-F]{4})\s+0x(?P<cls>[0-9a-fA-F]{6})\s*$"
)
_NVRM = re.compile(r"Kernel Module(?:\s+for\s+\S+)?\s+(\d+\.\d+(?:\.\d+)?)")
_OS_FIELD = re.compile(r'^(?P<key>[A-Z_]+)=(?P<value>"[^"]*"|\S*)\s*$')
_MEM_FIELD = re.compile(r"^(?P<key>\w+):\s+(?P<value>\d+)\s*kB\s*$")
_TOOLKIT = re.compile(r"version[: ]+(\d+\.\d+\.\d+)", re.IGNORECASE)
NVIDIA = "10DE"


@dataclass(frozen=True)
class PciFunction:
    """One PCI function from sysfs: address, ids (upper-case hex) and class (``030200``)."""

    address: str
    vendor: str
    device: str
    subsys_vendor: str
    subsys_device: str
    class_code: str

    @property
    def is_nvidia_display(self) -> bool:
        """An NVIDIA display or 3D controller (vendor 10DE, class 03xxxx)."""
        return self.vendor == NVIDIA and self.class_code.startswith("03")


@dataclass(frozen=True)
class VmFacts:
    """Everything the VM rules know. ``None`` means not captured; see :attr:`missing`."""

    vm: str
    host: str | None
    os_name: str | None = None
    kernel: str | None = None
    pci_functions: tuple[PciFunction, ...] | None = None
    dev_nodes: frozenset[str] | None = None
    wsl_libs: frozenset[str] | None = None
    kernel_driver: str | None = None
    driver_version: str | None = None
    cuda_version: str | None = None
    gpus: tuple[VmGpu, ...] | None = None
    gpu_source: str | None = None
    smi_problem: str | None = None
    mem_total_kib: int | None = None
    nvidia_runtime: bool | None = None
    toolkit_version: str | None = None
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def nvidia_functions(self) -> tuple[PciFunction, ...]:
        """NVIDIA display/3D functions the VM sees (DDA puts the GPU here)."""
        return tuple(f for f in self.pci_functions or () if f.is_nvidia_display)


def vm_facts(snapshot: Snapshot) -> VmFacts:
    """Parse a VM snapshot into :class:`VmFacts`; bad probe output never raises."""
    missing: dict[str, str] = {}

    def text(name: str, *, any_exit: bool = False) -> str | None:
        probe = snapshot.probe(name)
        if probe is None:
            missing[name] = f"probe {name!r} was not captured"
            return None
        if probe.exit_code != 0 and not any_exit:
            first = next((ln.strip() for ln in probe.stderr.splitlines() if ln.strip()), "")
            missing[name] = f"probe {name!r} failed (exit {probe.exit_code})" + (
                f": {first[:200]}" if first else ""
            )
            return None
        return probe.stdout.lstrip("\ufeff")

    gpus, driver, cuda, source, problem = _gpus(snapshot, missing)
    os_release = text("os_release")
    kernel = text("kernel")
    pci = text("pci_devices")
    nodes = text("dev_nodes", any_exit=True)
    libs = text("wsl_libs", any_exit=True)
    nvrm = text("nvidia_driver")
    meminfo = text("meminfo")
    runtime = text("container_runtime")
    toolkit = text("container_toolkit")
    host = snapshot.host if snapshot.host_given else None
    return VmFacts(
        vm=snapshot.extra.get("vm") or (f"{host}-EFLOW" if host else snapshot.host),
        host=host,
        os_name=_os_name(os_release) if os_release is not None else None,
        kernel=kernel.strip() or None if kernel is not None else None,
        pci_functions=_pci(pci) if pci is not None else None,
        dev_nodes=_names(nodes) if nodes is not None else None,
        wsl_libs=_names(libs) if libs is not None else None,
        kernel_driver=_kernel_driver(nvrm) if nvrm is not None else None,
        driver_version=driver,
        cuda_version=cuda,
        gpus=gpus,
        gpu_source=source,
        smi_problem=problem,
        mem_total_kib=_meminfo(meminfo).get("MemTotal") if meminfo is not None else None,
        nvidia_runtime=("nvidia" in runtime) if runtime is not None else None,
        toolkit_version=_toolkit(toolkit) if toolkit is not None else None,
        missing=missing,
    )


def _gpus(
    snapshot: Snapshot, missing: dict[str, str]
) -> tuple[tuple[VmGpu, ...] | None, str | None, str | None, str | None, str | None]:
    """GPUs, driver and CUDA versions, where they came from, and why they are missing."""
    nvml = snapshot.probe(NVML_PROBE)
    if nvml is not None and nvml.ok:
        try:
            driver, cuda, gpus = gpus_from_nvml_probe(nvml.stdout)
        except ValueError as exc:
            missing[NVML_PROBE] = f"probe {NVML_PROBE!r} is unreadable: {exc}"
        else:
            return tuple(gpus), driver, cuda, "NVML", None
    probe = snapshot.probe("nvidia_smi")
    if probe is None:
        missing["nvidia_smi"] = "probe 'nvidia_smi' was not captured"
        return None, None, None, None, missing["nvidia_smi"]
    if not probe.ok:
        said = " ".join(
            line.strip() for line in (probe.stdout + "\n" + probe.stderr).splitlines() if line.strip()
        )
        problem = f"nvidia-smi failed (exit {probe.exit_code})" + (f": {said[:300]}" if said else "")
        missing["nvidia_smi"] = problem
        return None, None, None, None, problem
    try:
        driver, cuda, gpus = gpus_from_smi(probe.stdout)
    except NvidiaSmiError as exc:
        problem = f"nvidia-smi output is unusable: {exc}"
        missing["nvidia_smi"] = problem
        return None, None, None, None, problem
    return tuple(gpus), driver, cuda, "nvidia-smi", None


def _os_name(text: str) -> str | None:
    fields = {}
    for line in text.splitlines():
        match = _OS_FIELD.match(line.strip())
        if match:
            fields[match["key"]] = match["value"].strip('"')
    return (
        fields.get("PRETTY_NAME")
        or " ".join(filter(None, (fields.get("NAME"), fields.get("VERSION_ID"))))
        or None
    )


def _pci(text: str) -> tuple[PciFunction, ...]:
    found = []
    for line in text.splitlines():
        match = _PCI_LINE.match(line.strip())
        if match:
            found.append(
                PciFunction(
                    match["addr"].lower(),
                    match["ven"].upper(),
                    match["dev"].upper(),
                    match["sven"].upper(),
                    match["sdev"].upper(),
                    match["cls"].upper(),
                )
            )
    return tuple(found)


def _names(text: str) -> frozenset[str]:
    """Entry names of an ``ls -1`` listing: ``/dev/nvidia0`` and ``libcuda.so.1`` as printed."""
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.endswith(":"))


def _kernel_driver(text: str) -> str | None:
    match = _NVRM.search(text)
    return match.group(1) if match else None


def _meminfo(text: str) -> dict[str, int]:
    values = {}
    for line in text.splitlines():
        match = _MEM_FIELD.match(line.strip())
        if match:
            values[match["key"]] = int(match["value"])
    return values


def _toolkit(text: str) -> str | None:
    match = _TOOLKIT.search(text)
    return match.group(1) if match else None


def pci_address(text: str) -> tuple[int, ...] | None:
    """A bus id as numbers (domain, bus, device, function), or None when it is not one."""
    match = _PCI_ADDRESS.match(text.strip())
    return tuple(int(g, 16) for g in match.groups()) if match else None


_PCI_ADDRESS = re.compile(r"^([0-9a-fA-F]{1,8}):([0-9a-fA-F]{1,4}):([0-9a-fA-F]{1,4})\.([0-7])$")


def same_pci_address(a: str, b: str) -> bool:
    """Whether two bus ids name one function: ``00007870:00:00.0`` and ``7870:00:00.0`` do."""
    left, right = pci_address(a), pci_address(b)
    return left is not None and left == right
