"""In-VM criteria (``vm.*``): the GPU as the EFLOW VM sees it, compared with the host's verdict.

``vm.passthrough`` and ``vm.identity`` compare with the host when the report has it (joined by the
host label), else with ``--expect-passthrough``; with neither they say what they saw and skip the
comparison. GPU criteria skip with the reason when no GPU reaches the VM.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eflowgpu.criteria import Criterion, Status
from eflowgpu.matrix import Matrix
from eflowgpu.rules.judge import EFLOW_TYPE, GpuResult
from eflowgpu.versions import DriverVersion
from eflowgpu.vm.facts import VmFacts
from eflowgpu.vm.model import MemoryHealth
from eflowgpu.vm.observe import ObservedGpu, VmObservation

_BAD_CLOCK_EVENTS = ("hw_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown", "sw_thermal_slowdown")
_ORDER = {Status.FAIL: 0, Status.UNKNOWN: 1, Status.WARN: 2, Status.PASS: 3, Status.SKIP: 4}


@dataclass(frozen=True)
class VmExpectation:
    """What the VM should see: from the joined host's GPUs, or from ``--expect-passthrough``."""

    passthrough: frozenset[str]
    source: str
    host_gpus: tuple[GpuResult, ...] = ()

    @classmethod
    def from_host(cls, host: str, gpus: Sequence[GpuResult]) -> VmExpectation | None:
        """The host's predicted passthrough types for its GPUs that a profile row covers."""
        covered = tuple(g for g in gpus if g.passthrough is not None)
        if not covered:
            return None
        types = frozenset(g.passthrough for g in covered if g.passthrough)
        shown = ", ".join(f"{g.name}: {g.passthrough}, {g.verdict.value}" for g in covered)
        return cls(types, f"host {host} ({shown})", covered)


@dataclass(frozen=True)
class VmContext:
    """Inputs of the VM rules."""

    matrix: Matrix
    facts: VmFacts
    seen: VmObservation
    expected: VmExpectation | None


def judge_vm(
    matrix: Matrix, facts: VmFacts, seen: VmObservation, expected: VmExpectation | None
) -> list[Criterion]:
    """All ``vm.*`` criteria in the contract's order."""
    ctx = VmContext(matrix, facts, seen, expected)
    return [rule(ctx) for rule in VM_RULES]


def set_eflow_vm(
    memory_mib: int,
    *,
    cpu_count: int | None = None,
    passthrough: str | None = None,
    gpu_count: int | None = None,
) -> str:
    """The ``Set-EflowVM`` remedy that resizes the VM's memory and keeps its other settings.

    Set-EflowVM resets every argument it is not given (the CPU count back to 1, the GPU removed), so
    the remedy names them all; ``-gpuCount`` is valid with DirectDeviceAssignment only. A stopped VM
    cannot be resized (Azure/iotedge-eflow#273): the remedy says to start it first.
    """
    cpus = str(cpu_count) if cpu_count else "<the VM's CPU count>"
    command = f"Set-EflowVM -cpuCount {cpus} -memoryInMB {memory_mib}"
    if passthrough in EFLOW_TYPE:
        command += f' -gpuPassthroughType {EFLOW_TYPE[passthrough]} -gpuName "<the GPU\'s name>"'
        if passthrough == "DDA":
            command += f" -gpuCount {gpu_count or 1}"
    return (
        f"{command}, with the VM running (Start-EflowVm first: Set-EflowVM cannot resize a stopped VM, "
        "and it resets every setting it is not given)"
    )


def vm_passthrough(ctx: VmContext) -> Criterion:
    """``vm.passthrough``: the GPU arrives by the passthrough type the host predicts."""
    seen = ctx.seen
    detail = f"{seen.passthrough} seen inside the VM: {seen.why}"
    if ctx.expected is None:
        return Criterion(
            "vm.passthrough",
            Status.SKIP,
            True,
            f"{detail}; no host data or --expect-passthrough to compare with",
        )
    wanted = " or ".join(sorted(ctx.expected.passthrough))
    if seen.passthrough in ctx.expected.passthrough:
        return Criterion("vm.passthrough", Status.PASS, True, f"{detail}, as {ctx.expected.source} predicts")
    hint = _deploy_hint(ctx)
    return Criterion(
        "vm.passthrough",
        Status.FAIL,
        True,
        f"{detail}; {ctx.expected.source} predicts {wanted}",
        hint or f"deploy the VM with -gpuPassthroughType {_eflow_types(ctx.expected.passthrough)}",
    )


def _eflow_types(types: frozenset[str]) -> str:
    return " or ".join(EFLOW_TYPE[t] for t in sorted(types) if t in EFLOW_TYPE)


def _deploy_hint(ctx: VmContext) -> str | None:
    hints = [g.deploy_hint for g in ctx.expected.host_gpus if g.deploy_hint] if ctx.expected else []
    return f"redeploy the VM with the GPU: {hints[0]}" if hints else None


def vm_gpu_visible(ctx: VmContext) -> Criterion:
    """``vm.gpu_visible``: the VM sees the GPU and its driver answers."""
    seen = ctx.seen
    if seen.passthrough == "none":
        if ctx.expected is None:
            return Criterion(
                "vm.gpu_visible", Status.SKIP, True, f"no GPU was passed to this machine ({seen.why})"
            )
        return Criterion(
            "vm.gpu_visible",
            Status.FAIL,
            True,
            f"no GPU reaches the VM ({seen.why})",
            _deploy_hint(ctx) or "assign the GPU to the EFLOW VM (Deploy-Eflow or Set-EflowVM)",
        )
    names = ", ".join(g.label for g in seen.gpus) or "the GPU"
    if seen.answers:
        driver = ctx.facts.driver_version or ctx.facts.kernel_driver or "unknown"
        source = ctx.facts.gpu_source or "the driver"
        return Criterion(
            "vm.gpu_visible",
            Status.PASS,
            True,
            f"{seen.passthrough}: {names} answers through {source}, driver {driver}",
        )
    problems = "; ".join(seen.problems)
    if seen.passthrough == "DDA":
        remedy = (
            "the EFLOW VM must carry a working NVIDIA kernel driver for DDA: update EFLOW, and check "
            "'Invoke-EflowVmCommand \"sudo dmesg | grep -i nvrm\"' for driver errors"
        )
    else:
        remedy = (
            "install the NVIDIA driver with WSL support on the Windows host (on Windows 10 also WSL), "
            "then restart the EFLOW VM"
        )
    return Criterion(
        "vm.gpu_visible",
        Status.FAIL,
        True,
        f"{seen.passthrough} that is broken: {names} is in the VM but its driver does not answer "
        f"({problems})",
        remedy,
    )


def vm_driver(ctx: VmContext) -> Criterion:
    """``vm.driver``: the driver supports the CUDA version the pack needs."""
    if (skipped := _needs_gpu(ctx, "vm.driver")) is not None:
        return skipped
    need = ctx.matrix.vm.required_cuda
    need_text = f"{need[0]}.{need[1]}"
    driver_text = ctx.facts.driver_version or ctx.facts.kernel_driver
    cuda = _cuda(ctx.facts.cuda_version)
    where = "the Windows host's driver (GPU-PV)" if ctx.seen.passthrough == "GPU-PV" else "the VM's driver"
    entry = ctx.matrix.vm.driver_for(need)
    minimum = entry.minimum(ctx.seen.passthrough) if entry else None  # type: ignore[arg-type]
    remedy = (
        f"update the Windows host's NVIDIA driver to {minimum or 'a newer one'} or newer"
        if ctx.seen.passthrough == "GPU-PV"
        else f"update EFLOW to a release whose NVIDIA driver is {minimum or 'newer'} or newer"
    )
    if cuda is not None:
        shown = f"{where} {driver_text or '(version not shown)'} supports CUDA {cuda[0]}.{cuda[1]}"
        if cuda >= need:
            return Criterion(
                "vm.driver", Status.PASS, True, f"{shown} >= {need_text}, which {_build(ctx)} needs"
            )
        return Criterion(
            "vm.driver", Status.FAIL, True, f"{shown} < {need_text}, which {_build(ctx)} needs", remedy
        )
    try:
        version = DriverVersion.parse(driver_text or "")
    except ValueError:
        return Criterion(
            "vm.driver",
            Status.UNKNOWN,
            True,
            "neither the CUDA version nor a driver version could be read "
            f"({ctx.facts.smi_problem or 'nvidia-smi gave none'})",
            "collect the VM snapshot again with the GPU's driver loaded",
        )
    if minimum is None:
        return Criterion(
            "vm.driver",
            Status.UNKNOWN,
            True,
            f"the matrix has no driver minimum for CUDA {need_text}",
            "add the CUDA version to vm.cuda_drivers in matrix.yaml",
        )
    shown = f"{where} {version}"
    if version >= minimum:
        return Criterion(
            "vm.driver", Status.PASS, True, f"{shown} >= {minimum}, the minimum for CUDA {need_text}"
        )
    return Criterion(
        "vm.driver", Status.FAIL, True, f"{shown} < {minimum}, the minimum for CUDA {need_text}", remedy
    )


_DIGITS = re.compile("[0-9]{1,6}")


def _cuda(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    major, _, minor = text.strip().partition(".")
    return (
        (int(major), int(minor or 0))
        if _DIGITS.fullmatch(major) and _DIGITS.fullmatch(minor or "0")
        else None
    )


def _build(ctx: VmContext) -> str:
    """The pack's CUDA build as details name it: ``PyTorch 2.13.0 (CUDA 13.0)``."""
    need = ctx.matrix.vm.required_cuda
    torch = ctx.matrix.vm.torch
    return f"{'PyTorch ' + torch if torch else 'the pack CUDA build'} (CUDA {need[0]}.{need[1]})"


def vm_cuda_arch(ctx: VmContext) -> Criterion:
    """``vm.cuda_arch``: the pack's CUDA build has kernels for the GPU and accepts its driver, so the
    benchmarks can run (not required: a GPU that cannot run them may still be eligible)."""
    if (skipped := _needs_gpu(ctx, "vm.cuda_arch", required=False)) is not None:
        return skipped
    floor = ctx.matrix.vm.min_compute_capability
    if floor is None:
        return Criterion(
            "vm.cuda_arch", Status.SKIP, False, "matrix.yaml states no vm.min_compute_capability"
        )
    parts = [_arch_of(ctx, g, floor) for g in ctx.seen.gpus]
    need = ctx.matrix.vm.required_cuda
    cuda = _cuda(ctx.facts.cuda_version)
    if cuda is not None and cuda < need:
        parts.append(
            (
                Status.WARN,
                f"the driver supports CUDA {cuda[0]}.{cuda[1]}, older than {_build(ctx)}: the CUDA "
                "benchmarks cannot run",
                "update the driver as vm.driver says",
            )
        )
    return _worst("vm.cuda_arch", False, parts)


def _arch_of(ctx: VmContext, seen: ObservedGpu, floor: tuple[int, int]) -> tuple[Status, str, str | None]:
    model = seen.identity.model
    cc = _cuda(model.specs.cc) if model is not None and model.specs.cc else None
    build = _build(ctx)
    if cc is None:
        brand = seen.identity.brand.label if seen.identity.brand else "an unknown brand"
        return (
            Status.UNKNOWN,
            f"{seen.label} ({brand}) is not in the catalog: its compute capability is not known, so "
            f"whether {build} has kernels for it is not judged; the benchmarks measure it",
            "add the GPU with its compute capability (specs.cc) to the catalog in matrix.yaml",
        )
    shown = f"{seen.label} (compute capability {cc[0]}.{cc[1]})"
    if cc < floor:
        return (
            Status.WARN,
            f"{shown} cannot run the pack's benchmarks: {build} has kernels for compute capability "
            f"{floor[0]}.{floor[1]} and newer",
            f"use a GPU of compute capability {floor[0]}.{floor[1]} or newer, or build the image with a "
            "PyTorch CUDA 12 build (it still has kernels for this GPU) and set vm.torch, "
            "vm.required_cuda and vm.min_compute_capability in matrix.yaml to match",
        )
    return Status.PASS, f"{build} has kernels for {shown}", None


def _toolkit_version(text: str) -> tuple[int, int, int] | None:
    parts = text.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def vm_toolkit(ctx: VmContext) -> Criterion:
    """``vm.toolkit``: the VM's NVIDIA container toolkit has no known WSL-mode defect (under GPU-PV)
    and no known CVE (not required)."""
    facts, rules = ctx.facts, ctx.matrix.vm.toolkit
    where = "the VM's own (vm_container_toolkit)" if facts.scope == "container" else "the VM's"
    update = "update EFLOW: its VM carries the NVIDIA container toolkit"
    version = _toolkit_version(facts.toolkit_version or "")
    if version is None:
        if ctx.seen.passthrough == "none":
            return Criterion("vm.toolkit", Status.SKIP, False, "no GPU reaches this VM")
        if facts.toolkit_installed is False:
            return Criterion(
                "vm.toolkit",
                Status.WARN,
                False,
                f"{where} NVIDIA container toolkit is not installed: docker --gpus and IoT Edge "
                "DeviceRequests cannot give the GPU to a container",
                update,
            )
        missing = facts.missing.get("container_toolkit") or facts.missing.get(
            "vm_container_toolkit", "nvidia-container-cli --version gave no version"
        )
        return Criterion(
            "vm.toolkit",
            Status.UNKNOWN,
            False,
            f"the VM's NVIDIA container toolkit version is not known ({missing})",
            "run the pack through the EFLOW transport (--vm-transport eflow), which records the VM's "
            "own toolkit",
        )
    shown = f"{where} NVIDIA container toolkit {facts.toolkit_version}"
    problems = [
        d.defect
        for d in rules.defects
        if d.version == version and (not d.wsl_only or ctx.seen.passthrough == "GPU-PV")
    ]
    if rules.min_version is not None and version < rules.min_version:
        low = ".".join(str(p) for p in rules.min_version)
        problems.append(f"older than {low}" + (f": {rules.min_reason}" if rules.min_reason else ""))
    if problems:
        return Criterion("vm.toolkit", Status.WARN, False, f"{shown}: " + "; ".join(problems), update)
    return Criterion("vm.toolkit", Status.PASS, False, f"{shown}: no known defect or CVE")


def vm_identity(ctx: VmContext) -> Criterion:
    """``vm.identity``: the GPU the VM sees is the one the host has (PCI id, memory)."""
    if (skipped := _needs_gpu(ctx, "vm.identity")) is not None:
        return skipped
    return _worst("vm.identity", True, [_identity_of(ctx, g) for g in ctx.seen.gpus])


def _identity_of(ctx: VmContext, seen: ObservedGpu) -> tuple[Status, str, str | None]:
    gpu, model = seen.gpu, seen.identity.model
    what = f"{seen.label} ({gpu.pci_id or 'no PCI id'}, {model.key if model else 'not in the catalog'})"
    memory = ""
    if model is not None and model.specs.mem_gib and gpu.memory_total_mib is not None:
        expected_mib = model.specs.mem_gib * 1024
        ratio = gpu.memory_total_mib / expected_mib
        memory = f", {gpu.memory_total_mib} MiB of the product's {model.specs.mem_gib:g} GiB"
        if ratio < ctx.matrix.vm.memory_tolerance:
            return (
                Status.FAIL,
                f"{what}{memory}: less memory than the product has",
                "check which GPU and which board variant is assigned to the VM",
            )
    elif gpu.memory_total_mib is not None:
        memory = f", {gpu.memory_total_mib} MiB"
    if ctx.expected is None or not ctx.expected.host_gpus:
        return Status.SKIP, f"the VM sees {what}{memory}; no host data to compare with", None
    host_ids = {g.pci_id for g in ctx.expected.host_gpus}
    host_models = {g.model for g in ctx.expected.host_gpus if g.model}
    if (gpu.pci_id and gpu.pci_id in host_ids) or (model is not None and model.key in host_models):
        return Status.PASS, f"the VM sees {what}{memory}, the host's GPU", None
    shown = ", ".join(f"{g.name} ({g.pci_id})" for g in ctx.expected.host_gpus)
    return (
        Status.FAIL,
        f"the VM sees {what}{memory}, but the host has {shown}",
        "check that the VM was deployed with the GPU the host was judged for (-gpuName)",
    )


def vm_memory(ctx: VmContext) -> Criterion:
    """``vm.memory``: the VM has enough memory for GPU work (a warning, not required)."""
    total = ctx.facts.mem_total_kib
    need = ctx.matrix.vm.min_memory_mib
    if total is None:
        return Criterion(
            "vm.memory",
            Status.UNKNOWN,
            False,
            ctx.facts.missing.get("meminfo", "meminfo gave no MemTotal"),
            "collect the VM snapshot again",
        )
    mib = total // 1024
    if mib >= need * 0.95:  # the kernel keeps a few percent of what the VM was given
        return Criterion(
            "vm.memory",
            Status.PASS,
            False,
            f"the VM has {mib} MiB (MemTotal), at least 95 % of the {need} MiB recommended "
            "(the kernel keeps a few percent of what the VM is given)",
        )
    return Criterion(
        "vm.memory",
        Status.WARN,
        False,
        f"the VM has {mib} MiB (MemTotal) < {need} MiB recommended for GPU work; EFLOW's default "
        "of 1024 MB starves GPU workloads",
        set_eflow_vm(need, passthrough=ctx.seen.passthrough),
    )


def vm_pcie_link(ctx: VmContext) -> Criterion:
    """``vm.pcie_link``: the link trains at the product's generation and width (not required)."""
    if (skipped := _needs_gpu(ctx, "vm.pcie_link", required=False)) is not None:
        return skipped
    if ctx.seen.passthrough != "DDA":
        return Criterion("vm.pcie_link", Status.SKIP, False, "GPU-PV: the VM has no PCIe link of its own")
    return _worst("vm.pcie_link", False, [_link_of(g) for g in ctx.seen.gpus])


def _link_of(seen: ObservedGpu) -> tuple[Status, str, str | None]:
    link, model = seen.gpu.pcie, seen.identity.model
    if "pcie" in seen.gpu.not_supported or link.gen_max is None or link.width_max is None:
        return Status.SKIP, f"{seen.label}: the driver does not report the PCIe link", None
    now = f"Gen{link.gen_current} x{link.width_current}"
    shown = f"{seen.label}: max Gen{link.gen_max} x{link.width_max}, now {now}"
    if model is not None and model.specs.pcie_gen and model.specs.pcie_lanes:
        want_gen, want_width = model.specs.pcie_gen, model.specs.pcie_lanes
        if link.gen_max < want_gen or link.width_max < want_width:
            return (
                Status.WARN,
                f"{shown}; the product is Gen{want_gen} x{want_width}",
                "use a slot of the product's generation and width; check the firmware's PCIe settings",
            )
    if link.width_current is not None and link.width_current < link.width_max:
        return (
            Status.WARN,
            f"{shown}: the link trained narrower than it can",
            "reseat the card or use another slot; check the riser",
        )
    note = (
        ""
        if link.gen_current == link.gen_max
        else " (an idle link lowers its generation; the benchmarks load it)"
    )
    return Status.PASS, f"{shown}{note}", None


# DCGM's limits (common/DcgmGPUHardwareLimits.h; shared/reference/gpu-validation-methods.md 1.3):
# a GPU with this many retired pages in total, or more DBE-retired pages than the soft limit, fails.
DCGM_MAX_RETIRED_PAGES = 63
DCGM_MAX_RETIRED_PAGES_DBE = 15


def vm_health(ctx: VmContext) -> Criterion:
    """``vm.health``: no retired-page, row-remap, ECC or clock-event trouble, by DCGM's rules.

    Volatile and lifetime (aggregate) uncorrected ECC errors fail, as do retired pages at DCGM's
    limits, pending retirement or remapping and a failed remap. MIG mode on warns (CUDA work sees a
    MIG slice, not the whole GPU), as does an ``attached_gpus`` count that differs from the GPUs the
    driver listed (DCGM's device count mismatch).
    """
    if (skipped := _needs_gpu(ctx, "vm.health")) is not None:
        return skipped
    parts = [_health_of(g) for g in ctx.seen.gpus]
    listed = len(ctx.facts.gpus or ())
    attached = ctx.facts.attached_gpus
    if attached is not None and attached != listed:
        parts.append(
            (
                Status.WARN,
                f"nvidia-smi counts {attached} attached GPU(s) but lists {listed}: a GPU the driver "
                "counts cannot be read (DCGM: device count mismatch)",
                "check 'nvidia-smi -L' and the kernel log for a GPU that fell off the bus; reset it or "
                "restart the VM",
            )
        )
    return _worst("vm.health", True, parts)


def _health_of(seen: ObservedGpu) -> tuple[Status, str, str | None]:
    gpu = seen.gpu
    problems, checked = [], []
    if gpu.ecc.volatile_uncorrected is not None or gpu.ecc.aggregate_uncorrected is not None:
        checked.append("ECC")
        if gpu.ecc.volatile_uncorrected:
            problems.append(f"{gpu.ecc.volatile_uncorrected} uncorrected ECC errors since the driver loaded")
        if gpu.ecc.aggregate_uncorrected:
            problems.append(
                f"{gpu.ecc.aggregate_uncorrected} uncorrected (double-bit) ECC errors in the GPU's lifetime"
            )
    problems += _retired_page_problems(gpu.memory_health, checked)
    health = gpu.memory_health
    if health.remapped_rows_failure is not None or health.remapped_rows_pending is not None:
        checked.append("row remapping")
        if health.remapped_rows_failure:
            problems.append("row remapping failed")
        if health.remapped_rows_pending:
            problems.append("row remapping is pending (reset the GPU)")
    if gpu.clocks_event_reasons is not None:
        checked.append("clock events")
        bad = [r for r in gpu.clocks_event_reasons if r in _BAD_CLOCK_EVENTS]
        if bad:
            problems.append("clocks slowed by " + ", ".join(bad))
    if problems:
        return (
            Status.FAIL,
            f"{seen.label}: " + "; ".join(problems),
            "reset the GPU (restart the VM); lifetime uncorrected errors and retired pages at DCGM's limits "
            "mean failing memory: return the board; otherwise cool or reseat the card",
        )
    if gpu.mig_mode:
        slices = ", ".join(f"{m} MiB" for m in gpu.mig_memory_mib) or "none created"
        whole = f"{gpu.memory_total_mib} MiB" if gpu.memory_total_mib is not None else "its memory"
        return (
            Status.WARN,
            f"{seen.label}: MIG mode is on, so CUDA work sees MIG devices ({slices}), not the whole "
            f"GPU's {whole}: the pack's memory check and benchmarks see only a MIG device",
            "disable MIG for qualification (nvidia-smi -i <index> -mig 0, then reset the GPU)",
        )
    if not checked:
        unsupported = sorted(gpu.not_supported & {"ecc", "memory_health", "clocks_event_reasons"})
        if unsupported:
            return (
                Status.SKIP,
                f"{seen.label}: the driver answers NotSupported for {', '.join(unsupported)}",
                None,
            )
        return Status.UNKNOWN, f"{seen.label}: no health data was reported", "collect the VM snapshot again"
    return Status.PASS, f"{seen.label}: no trouble in {', '.join(checked)}", None


def _retired_page_problems(health: MemoryHealth, checked: list[str]) -> list[str]:
    """Page retirement (up to Turing) by DCGM's rules: pending, total and DBE limits."""
    sbe, dbe = health.retired_pages_sbe, health.retired_pages_dbe
    if health.retired_pages_pending is None and sbe is None and dbe is None:
        return []
    checked.append("retired pages")
    problems = []
    if health.retired_pages_pending:
        problems.append("page retirement is pending (reset the GPU)")
    total = (sbe or 0) + (dbe or 0)
    if total >= DCGM_MAX_RETIRED_PAGES:
        problems.append(f"{total} retired pages >= {DCGM_MAX_RETIRED_PAGES}, DCGM's limit")
    if dbe is not None and dbe > DCGM_MAX_RETIRED_PAGES_DBE:
        problems.append(
            f"{dbe} pages retired for double-bit errors > {DCGM_MAX_RETIRED_PAGES_DBE}, DCGM's limit"
        )
    return problems


def _needs_gpu(ctx: VmContext, criterion_id: str, *, required: bool = True) -> Criterion | None:
    if ctx.seen.passthrough == "none":
        return Criterion(criterion_id, Status.SKIP, required, "no GPU reaches this VM")
    if not ctx.seen.answers:
        return Criterion(
            criterion_id,
            Status.UNKNOWN,
            required,
            f"the GPU's driver does not answer; see vm.gpu_visible ({'; '.join(ctx.seen.problems)})",
            "fix vm.gpu_visible first",
        )
    return None


def _worst(criterion_id: str, required: bool, parts: list[tuple[Status, str, str | None]]) -> Criterion:
    if not parts:
        return Criterion(
            criterion_id, Status.UNKNOWN, required, "no GPU data", "collect the VM snapshot again"
        )
    status = min((p[0] for p in parts), key=_ORDER.__getitem__)
    remedies = [p[2] for p in parts if p[0] is status and p[2]]
    return Criterion(
        criterion_id, status, required, "; ".join(p[1] for p in parts), remedies[0] if remedies else None
    )


VM_RULES: tuple[Callable[[VmContext], Criterion], ...] = (
    vm_passthrough,
    vm_gpu_visible,
    vm_driver,
    vm_identity,
    vm_memory,
    vm_pcie_link,
    vm_health,
    vm_toolkit,
    vm_cuda_arch,
)
"""The VM rules in the contract's criterion order."""
