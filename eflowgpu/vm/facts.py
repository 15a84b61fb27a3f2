"""Typed facts about a Linux VM, parsed from a VM snapshot (recorded or captured live).

The probes are the contract's (``contracts/vm-snapshot.md``). ``dev_nodes`` and ``wsl_libs`` are
``ls`` outputs: names that exist are on stdout even when others are missing and the exit code is
non-zero. GPUs come from the ``nvml`` probe when the live collector recorded one (NVML answers,
serialized), else from ``nvidia_smi`` XML; both give the same :class:`VmGpu` facts.

Revision 2 of the contract: a snapshot whose ``scope`` is ``container`` was taken inside the pack's
container, so ``os_release``, ``container_runtime`` and ``container_toolkit`` describe the image, not
the VM. The VM's own answers are the ``vm_*`` probes; without them those facts are not known
(``None`` with the reason in :attr:`VmFacts.missing`), never the image's taken for the VM's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from eflowgpu.nvsmi import NvidiaSmiError
from eflowgpu.snapshot import Snapshot
from eflowgpu.vm.commands import SCOPES, VM_NAMESPACE_PREFIX
from eflowgpu.vm.model import VmGpu
from eflowgpu.vm.serialize import NVML_PROBE, gpus_from_nvml_probe
from eflowgpu.vm.smi import gpus_from_smi, read_smi

_PCI_LINE = re.compile(
    r"^(?P<addr>[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\s+0x(?P<ven>[0-9a-fA-F]{4})\s+"
    r"0x(?P<dev>[0-9a-fA-F]{4})\s+0x(?P<sven>[0-9a-fA-F]{4})\s+0x(?P<sdev>[0-9a-fA-F]{4})\s+0x(?P<cls>[0-9a-fA-F]{6})\s*$"
)
_NVRM = re.compile(r"Kernel Module(?:\s+for\s+\S+)?\s+(\d+\.\d+(?:\.\d+)?)")
_OS_FIELD = re.compile(r'^(?P<key>[A-Z_]+)=(?P<value>"[^"]*"|\S*)\s*$')
_MEM_FIELD = re.compile(r"^(?P<key>\w+):\s+(?P<value>\d+)\s*kB\s*$")
_TOOLKIT = re.compile(r"version[: ]+(\d+\.\d+\.\d+)", re.IGNORECASE)
_LDCONFIG = re.compile(
    r"^\s*(?P<name>\S+)\s+\((?P<flags>[^)]*)\)(?:\s+OS ABI:[^=]*)?\s+=>\s+(?P<path>\S+)\s*$"
)
NVIDIA = "10DE"
NOT_FOUND_EXIT = 127
"""The shell's exit status for a program that is not installed."""


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
    attached_gpus: int | None = None
    scope: str = "vm"
    loader_libs: tuple[tuple[str, str], ...] | None = None
    image_os: str | None = None
    toolkit_installed: bool | None = None

    @property
    def nvidia_functions(self) -> tuple[PciFunction, ...]:
        """NVIDIA display/3D functions the VM sees (DDA puts the GPU here)."""
        return tuple(f for f in self.pci_functions or () if f.is_nvidia_display)

    def loader_path(self, name: str) -> str | None:
        """Where the dynamic linker finds library ``name`` (``ldconfig -p``), or None."""
        return next((path for lib, path in self.loader_libs or () if lib == name), None)

    @property
    def render_device(self) -> PciFunction | None:
        """Microsoft's paravirtual render device (``1414:008e``, class ``0302xx``) that GPU-PV shows."""
        return next(
            (
                f
                for f in self.pci_functions or ()
                if f.vendor == "1414" and f.device == "008E" and f.class_code.startswith("0302")
            ),
            None,
        )


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

    def vm_text(name: str) -> str | None:
        """A container-describing probe as the VM answers it: ``vm_<name>`` when recorded, else
        ``<name>`` when the probes ran in the VM's own namespace."""
        if snapshot.probe(VM_NAMESPACE_PREFIX + name) is not None:
            return text(VM_NAMESPACE_PREFIX + name)
        if scope == "container":
            missing[name] = (
                f"probe {name!r} ran in the pack's container, not in the VM, and the VM's own answer "
                f"({VM_NAMESPACE_PREFIX}{name}) was not recorded"
            )
            return None
        return text(name)

    scope = snapshot.extra.get("scope", "vm")
    if scope not in SCOPES:
        missing["scope"] = f"unknown scope {scope[:40]!r} (expected one of {', '.join(SCOPES)}): read as 'vm'"
        scope = "vm"
    gpus, driver, cuda, source, problem = _gpus(snapshot, missing)
    attached = _attached_gpus(snapshot) if source == "nvidia-smi" else None
    os_release = vm_text("os_release")
    image_release = text("os_release") if scope == "container" else None
    kernel = text("kernel")
    pci = text("pci_devices")
    nodes = text("dev_nodes", any_exit=True)
    libs = text("wsl_libs", any_exit=True)
    loader = text("loader_libs")
    nvrm = text("nvidia_driver")
    meminfo = text("meminfo")
    runtime = vm_text("container_runtime")
    toolkit = vm_text("container_toolkit")
    toolkit_probe = snapshot.probe(VM_NAMESPACE_PREFIX + "container_toolkit") or (
        snapshot.probe("container_toolkit") if scope != "container" else None
    )
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
        attached_gpus=attached,
        scope=scope,
        loader_libs=_ldconfig(loader) if loader is not None else None,
        image_os=_os_name(image_release) if image_release is not None else None,
        toolkit_installed=(
            None
            if toolkit_probe is None
            else toolkit_probe.exit_code == 0
            if toolkit_probe.exit_code in (0, NOT_FOUND_EXIT)
            else None
        ),
    )


def _attached_gpus(snapshot: Snapshot) -> int | None:
    """nvidia-smi's ``attached_gpus`` (the XML parsed again: kept apart from the GPU facts)."""
    probe = snapshot.probe("nvidia_smi")
    try:
        return read_smi(probe.stdout).attached_gpus if probe is not None else None
    except NvidiaSmiError:
        return None


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


def _ldconfig(text: str) -> tuple[tuple[str, str], ...]:
    """``ldconfig -p`` lines as (library name, path), in the linker's order of preference."""
    found = []
    for line in text.splitlines():
        match = _LDCONFIG.match(line)
        if match:
            found.append((match["name"], match["path"]))
    return tuple(found)


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
