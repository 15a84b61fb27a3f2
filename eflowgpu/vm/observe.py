"""What reaches the VM: the passthrough type seen from inside, and which products the GPUs are.

Rules of ``contracts/vm-snapshot.md``: DDA when an NVIDIA display/3D PCI function is in sysfs (it
works when the kernel driver is loaded, ``/dev/nvidia0`` exists and nvidia-smi/NVML answers; a
function without a driver is DDA that is broken, not "no GPU"); GPU-PV when ``/dev/dxg`` exists and
``libcuda.so.1`` is found, in ``/usr/lib/wsl/lib`` (the VM's namespace) or through the dynamic linker
(``ldconfig -p``: inside the pack's container, where NVIDIA's container hook mounts the WSL driver
libraries into the image's library folder and ``/usr/lib/wsl/lib`` does not exist), with no NVIDIA
PCI function (Microsoft's paravirtual render device ``1414:008e`` corroborates); none otherwise. A GPU's ids
come from nvidia-smi/NVML unless they are missing or redacted: then from the sysfs function with
the same bus id; with neither, the product is identified by name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from eflowgpu.identity import GpuIdentity, identify
from eflowgpu.matrix import Matrix
from eflowgpu.pci import PciIdentity
from eflowgpu.vm.facts import PciFunction, VmFacts, pci_address
from eflowgpu.vm.model import VmGpu

VmPassthrough = Literal["DDA", "GPU-PV", "none"]


@dataclass(frozen=True)
class ObservedGpu:
    """A GPU the VM sees, with its ids completed from sysfs and its catalog identity."""

    gpu: VmGpu
    identity: GpuIdentity
    function: PciFunction | None

    @property
    def label(self) -> str:
        """How details name the GPU."""
        model = self.identity.model
        name = self.gpu.name if self.gpu.name and self.gpu.name != "Graphics Device" else None
        return name or (model.name if model else None) or f"GPU {self.gpu.pci_id or self.gpu.index}"


@dataclass(frozen=True)
class VmObservation:
    """The passthrough type seen from inside, why, and whether the GPU's driver answers."""

    passthrough: VmPassthrough
    why: str
    gpus: tuple[ObservedGpu, ...]
    answers: bool
    problems: tuple[str, ...]


def observe(matrix: Matrix, facts: VmFacts) -> VmObservation:
    """Classify the VM's passthrough and identify its GPUs."""
    functions = facts.nvidia_functions
    nodes = facts.dev_nodes or frozenset()
    libs = facts.wsl_libs or frozenset()
    if functions:
        problems = []
        if "/dev/nvidia0" not in nodes:
            problems.append("/dev/nvidia0 is missing")
        if facts.kernel_driver is None:
            problems.append("no NVIDIA kernel module is loaded (/proc/driver/nvidia/version is missing)")
        if not facts.gpus:
            problems.append(facts.smi_problem or "nvidia-smi and NVML report no GPU")
        shown = ", ".join(f"{f.address} ({f.vendor}:{f.device})" for f in functions)
        gpus = _identify(matrix, facts, functions)
        return VmObservation(
            "DDA", f"NVIDIA PCI function {shown} is in the VM", gpus, not problems, tuple(problems)
        )
    cuda_lib = _gpupv_cuda_library(facts, libs)
    if "/dev/dxg" in nodes and cuda_lib is not None:
        problems = [] if facts.gpus else [facts.smi_problem or "nvidia-smi and NVML report no GPU"]
        gpus = _identify(matrix, facts, ())
        render = facts.render_device
        corroborated = f"; the paravirtual render device 1414:008E is at {render.address}" if render else ""
        return VmObservation(
            "GPU-PV",
            f"/dev/dxg exists and {cuda_lib}, no NVIDIA PCI function{corroborated}",
            gpus,
            not problems,
            tuple(problems),
        )
    seen = []
    if "/dev/dxg" in nodes:
        seen.append(
            "/dev/dxg exists but libcuda.so.1 is neither in /usr/lib/wsl/lib nor known to the dynamic linker"
        )
    why = "; ".join(seen) or "no NVIDIA PCI function, no /dev/dxg"
    return VmObservation("none", why, _identify(matrix, facts, ()), False, tuple(seen))


def _gpupv_cuda_library(facts: VmFacts, wsl_libs: frozenset[str]) -> str | None:
    """Where GPU-PV's ``libcuda.so.1`` is, said as a reason; None when it is nowhere."""
    if "libcuda.so.1" in wsl_libs:
        return "/usr/lib/wsl/lib holds libcuda.so.1"
    path = facts.loader_path("libcuda.so.1")
    return f"the dynamic linker finds libcuda.so.1 at {path}" if path else None


def _identify(matrix: Matrix, facts: VmFacts, functions: tuple[PciFunction, ...]) -> tuple[ObservedGpu, ...]:
    gpus = list(facts.gpus or ())
    observed = []
    paired: set[str] = set()
    by_address: dict[tuple[int, ...], PciFunction] = {}
    for candidate in functions:  # one pass: pairing by bus id stays linear in the input
        key = pci_address(candidate.address)
        if key is not None:
            by_address.setdefault(key, candidate)
    for gpu in gpus:
        bus = pci_address(gpu.bus_id) if gpu.bus_id else None
        function = by_address.get(bus) if bus is not None else None
        if function is None and len(functions) == 1 and len(gpus) == 1:
            function = functions[0]
        if function is not None:
            paired.add(function.address)
            if gpu.pci_device is None or gpu.pci_vendor is None:
                gpu = dataclasses.replace(gpu, pci_vendor=function.vendor, pci_device=function.device)
            if gpu.subsys_device is None or gpu.subsys_vendor is None:
                gpu = dataclasses.replace(
                    gpu, subsys_vendor=function.subsys_vendor, subsys_device=function.subsys_device
                )
        observed.append(ObservedGpu(gpu, _identity(matrix, gpu), function))
    for function in functions:  # a DDA function nobody answers for is still the VM's GPU
        if function.address not in paired:
            gpu = VmGpu(
                index=len(observed),
                bus_id=function.address,
                pci_vendor=function.vendor,
                pci_device=function.device,
                subsys_vendor=function.subsys_vendor,
                subsys_device=function.subsys_device,
            )
            observed.append(ObservedGpu(gpu, _identity(matrix, gpu), function))
    return tuple(observed)


def _identity(matrix: Matrix, gpu: VmGpu) -> GpuIdentity:
    pci = None
    if gpu.pci_vendor and gpu.pci_device:
        pci = PciIdentity(gpu.pci_vendor, gpu.pci_device, gpu.subsys_vendor, gpu.subsys_device)
    name = gpu.name if gpu.name and gpu.name != "Graphics Device" else None
    return identify(matrix, pci, name)
