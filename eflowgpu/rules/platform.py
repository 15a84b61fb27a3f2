"""Rules about the host as a whole: Windows edition and build, Hyper-V, virtualization, resources."""

from __future__ import annotations

import re
from dataclasses import replace

from eflowgpu.criteria import Criterion, Status
from eflowgpu.matrix import Profile
from eflowgpu.rules.context import RuleContext, build_in_range

HYPERV_FEATURES = ("microsoft-hyper-v-all", "microsoft-hyper-v", "microsoft-hyper-v-hypervisor")
_STATE_WORDS = {1: "enabled", 2: "disabled", 3: "absent", 4: "unknown"}

# Win32_ComputerSystem Model/Manufacturer values that mean the host is itself a virtual machine.
_VM_MODEL = re.compile(
    r"^(virtual machine|vmware.*|kvm|standard pc.*|hvm domu|virtualbox|bochs|qemu.*|"
    r"google compute engine|parallels.*|amazon ec2|.*\bvirtual platform\b.*)$",
    re.IGNORECASE,
)
_VM_MAKER = re.compile(r"^(qemu|xen|innotek gmbh|parallels.*|red hat)$", re.IGNORECASE)


def os_edition(ctx: RuleContext) -> Criterion:
    """``os.edition``: the Windows edition is one the GPU's row allows."""
    if ctx.row is None:
        return ctx.skip("os.edition", "no row in this profile for this GPU")
    os_info = ctx.facts.os
    if os_info is None or os_info.edition_id is None:
        return ctx.unknown("os.edition", True, "os")
    allowed = list(dict.fromkeys(g for w in ctx.row.windows for g in w.editions))
    labels = ", ".join(ctx.matrix.edition_groups[g].label for g in allowed)
    group = ctx.edition_group
    if group is not None and group.key in allowed:
        return Criterion(
            "os.edition",
            Status.PASS,
            True,
            f"EditionID {os_info.edition_id} ({group.label}) is allowed for {ctx.row.passthrough}: {labels}",
        )
    shown = (
        f"{os_info.edition_id} ({group.label})" if group else f"{os_info.edition_id} (in no edition group)"
    )
    remedy = f"use one of: {labels}"
    if group is not None and not group.hyperv:
        remedy = f"{group.label} has no Hyper-V: upgrade the edition to one of: {labels}"
    return Criterion(
        "os.edition",
        Status.FAIL,
        True,
        f"EditionID {shown} is not allowed for {ctx.row.passthrough} of {ctx.gpu_label}; "
        f"the row allows {labels}",
        remedy,
    )


def os_build(ctx: RuleContext) -> Criterion:
    """``os.build``: the build (and revision where the row names one) reaches the row's minimum."""
    if ctx.row is None:
        return ctx.skip("os.build", "no row in this profile for this GPU")
    build = ctx.facts.os.build if ctx.facts.os else None
    if build is None:
        return ctx.unknown("os.build", True, "os")
    candidates = ctx.windows_candidates
    if not candidates:
        return ctx.skip(
            "os.build", f"the row lists no {ctx.edition_kind or 'matching'} Windows edition; see os.edition"
        )
    shown = ctx.build_label(build)
    ranges = "; ".join(f"{r.describe()}" + (f" ({r.note})" if r.note else "") for r in candidates)
    results = [(rule, build_in_range(rule, build)) for rule in candidates]
    for rule, inside in results:
        if inside:
            extra = ""
            if build.build in rule.current_updates:
                extra = (
                    "; the document asks for all current cumulative updates on this build: "
                    "check Windows Update"
                )
            return Criterion("os.build", Status.PASS, True, f"{shown} is in {rule.describe()}{extra}")
    if any(inside is None for _, inside in results):
        return Criterion(
            "os.build",
            Status.UNKNOWN,
            True,
            f"{shown}: the update revision (UBR) was not captured and the row needs one: {ranges}",
            "collect the snapshot again: the os probe must include UBR",
        )
    broken = [reason for rule in candidates if (reason := rule.exclusion(build.build))]
    why = f"; {broken[0]}" if broken else ""
    others = profiles_accepting(ctx)
    named = ", ".join(f"{p.key} ({p.title})" for p in others)
    later = f"; accepted under profile {named}" if others else "; no other profile of the matrix accepts it"
    remedy = _build_remedy(ctx, build.build)
    if others:
        remedy += f", or judge by the table that applies to you: --profile {others[0].key}"
    return Criterion(
        "os.build",
        Status.FAIL,
        True,
        f"{shown} is not in the builds the row allows: {ranges}{why}{later}",
        remedy,
    )


def _edition_allowed(ctx: RuleContext) -> bool:
    group = ctx.edition_group
    return ctx.row is not None and group is not None and any(group.key in w.editions for w in ctx.row.windows)


def profiles_accepting(ctx: RuleContext) -> list[Profile]:
    """The matrix's other profiles whose row for this GPU allows the host's edition and build."""
    build = ctx.facts.os.build if ctx.facts.os else None
    if build is None:
        return []
    model = ctx.identity.model.key if ctx.identity.model else None
    brand = ctx.identity.brand.key if ctx.identity.brand else None
    found = []
    for profile in ctx.matrix.profiles.values():
        row = profile.row_for(model, brand)
        if profile.key == ctx.profile.key or row is None:
            continue
        other = replace(ctx, profile=profile, row=row)
        if _edition_allowed(other) and any(build_in_range(r, build) for r in other.windows_candidates):
            found.append(profile)
    return found


def _build_remedy(ctx: RuleContext, build: int) -> str:
    for rule in ctx.windows_candidates:
        if rule.min_build is not None and rule.min_build.build == build and rule.min_build.ubr is not None:
            return f"install the latest cumulative update (build {rule.min_build} or later)"
    listed = [b for rule in ctx.windows_candidates for b in rule.builds]
    if listed:
        names = ", ".join(ctx.build_name(b) for b in listed)
        return f"this profile lists only builds {names}: install one of them"
    lows = [rule.min_build for rule in ctx.windows_candidates if rule.min_build is not None]
    return f"upgrade Windows to build {min(lows)} or later" if lows else "use a Windows build the row lists"


def host_hyperv(ctx: RuleContext) -> Criterion:
    """``host.hyperv``: the Hyper-V feature is enabled (what Deploy-Eflow checks).

    A running hypervisor alone is not Hyper-V: WSL 2 (VirtualMachinePlatform) and virtualization-based
    security start one without it. ``HypervisorPresent`` decides only when the features probe is missing.
    """
    features = ctx.facts.features
    present = ctx.facts.computer.hypervisor_present if ctx.facts.computer else None
    enabled = [n for n in HYPERV_FEATURES if features is not None and features.get(n) == 1]
    if enabled:
        running = "; a hypervisor is running" if present else ""
        return Criterion(
            "host.hyperv", Status.PASS, True, f"feature {_feature_name(enabled[0])} is enabled{running}"
        )
    if features is None:
        if present:
            return Criterion(
                "host.hyperv",
                Status.PASS,
                True,
                f"a hypervisor is present (HypervisorPresent True); the feature list was not read "
                f"({ctx.facts.why_missing('features')})",
            )
        return ctx.unknown("host.hyperv", True, "features", "computer_system")
    states = (
        ", ".join(
            f"{_feature_name(n)} {_STATE_WORDS.get(features[n], features[n])}"
            for n in HYPERV_FEATURES
            if n in features
        )
        or "no Hyper-V feature is listed"
    )
    group = ctx.edition_group
    if group is not None and not group.hyperv:
        remedy = f"{group.label} has no Hyper-V: upgrade to Windows Pro, Enterprise or IoT Enterprise"
    elif ctx.edition_kind == "server":
        remedy = "Install-WindowsFeature -Name Hyper-V -IncludeManagementTools -Restart"
    else:
        remedy = "Enable-WindowsOptionalFeature -Online -FeatureName Microsoft-Hyper-V -All, then restart"
    running = (
        "; a hypervisor runs without it (WSL 2's Virtual Machine Platform or virtualization-based security), "
        "which EFLOW cannot use: Deploy-Eflow checks the Microsoft-Hyper-V feature"
        if present
        else " and no hypervisor is running"
    )
    return Criterion(
        "host.hyperv", Status.FAIL, True, f"the Hyper-V feature is not enabled ({states}){running}", remedy
    )


def _feature_name(folded: str) -> str:
    return {
        "microsoft-hyper-v-all": "Microsoft-Hyper-V-All",
        "microsoft-hyper-v": "Microsoft-Hyper-V",
        "microsoft-hyper-v-hypervisor": "Microsoft-Hyper-V-Hypervisor",
    }.get(folded, folded)


def host_virtualization(ctx: RuleContext) -> Criterion:
    """``host.virtualization``: hardware virtualization and SLAT are on (a running hypervisor proves it)."""
    if ctx.facts.computer is not None and ctx.facts.computer.hypervisor_present:
        return Criterion(
            "host.virtualization",
            Status.PASS,
            True,
            "a hypervisor is running, so hardware virtualization and SLAT are on",
        )
    processors = ctx.facts.processors
    if processors is None:
        return ctx.unknown("host.virtualization", True, "processor", "computer_system")
    if any(p.virtualization_firmware_enabled is False for p in processors):
        return Criterion(
            "host.virtualization",
            Status.FAIL,
            True,
            "VirtualizationFirmwareEnabled is False: virtualization is off in the firmware",
            "enable Intel VT-x or AMD-V (SVM) in the UEFI/BIOS settings, then restart",
        )
    if any(p.slat is False for p in processors):
        return Criterion(
            "host.virtualization",
            Status.FAIL,
            True,
            "SecondLevelAddressTranslationExtensions is False: the processor has no SLAT",
            "Hyper-V needs a processor with SLAT (Intel EPT or AMD RVI)",
        )
    if all(p.virtualization_firmware_enabled and p.slat for p in processors):
        return Criterion(
            "host.virtualization",
            Status.PASS,
            True,
            "VirtualizationFirmwareEnabled and SLAT are True on every processor",
        )
    return Criterion(
        "host.virtualization",
        Status.UNKNOWN,
        True,
        "the processor fields are blank and no hypervisor is running",
        "check the virtualization settings in the firmware, or enable Hyper-V and collect again",
    )


def host_physical(ctx: RuleContext) -> Criterion:
    """``host.physical``: the host is not itself a virtual machine (passthrough does not nest)."""
    computer = ctx.facts.computer
    if computer is None:
        return ctx.unknown("host.physical", True, "computer_system")
    model, maker = computer.model or "", computer.manufacturer or ""
    shown = f"Model {model!r} ({maker or 'unknown manufacturer'})"
    if _VM_MODEL.match(model.strip()) or _VM_MAKER.match(maker.strip()):
        return Criterion(
            "host.physical",
            Status.FAIL,
            True,
            f"{shown}: this host is itself a virtual machine; GPU passthrough does not nest",
            "run EFLOW and the pack on the physical Windows host",
        )
    if not model and not maker:
        return Criterion(
            "host.physical",
            Status.UNKNOWN,
            True,
            "Win32_ComputerSystem has no Model or Manufacturer",
            "check the host in its firmware or vendor tools",
        )
    return Criterion("host.physical", Status.PASS, True, f"{shown} is a physical machine")


def host_memory(ctx: RuleContext) -> Criterion:
    """``host.memory``: the EFLOW VM's memory (the matrix's VM size for GPU work) is free.

    Start-EflowVm refuses a VM larger than the free memory ("Not enough memory in the system to start
    the virtual machine ... with ram size 4096 megabytes"). Below EFLOW's own floor (1 GiB) it fails;
    between the floor and the VM size it fails too, unless EFLOW is installed, whose running VM may
    already hold that memory (a warning then).
    """
    free = ctx.facts.os_cim.free_memory_kib if ctx.facts.os_cim else None
    if free is None:
        return ctx.unknown("host.memory", True, "os_cim")
    floor = ctx.matrix.host.min_free_memory_mib
    vm_size = max(ctx.matrix.vm.min_memory_mib, floor)
    shown = f"{free / 1024:.0f} MiB ({free / 1024 / 1024:.1f} GiB) free"
    remedy = (
        f"free memory (close applications) or add RAM until {vm_size} MiB are free, then deploy with "
        f"Deploy-Eflow -memoryInMB {vm_size}"
    )
    if free >= vm_size * 1024:
        return Criterion(
            "host.memory", Status.PASS, True, f"{shown} >= {vm_size} MiB, the EFLOW VM size for GPU work"
        )
    if free < floor * 1024:
        return Criterion(
            "host.memory",
            Status.FAIL,
            True,
            f"{shown} < {floor} MiB, EFLOW's minimum free memory (the VM for GPU work needs {vm_size} MiB)",
            remedy,
        )
    if ctx.facts.eflow_version:
        return Criterion(
            "host.memory",
            Status.WARN,
            True,
            f"{shown} < {vm_size} MiB, the EFLOW VM size for GPU work; EFLOW {ctx.facts.eflow_version} is "
            "installed, so its VM may already hold its memory",
            f"check Get-EflowVm: if the VM does not run with {vm_size} MiB, {remedy}",
        )
    return Criterion(
        "host.memory",
        Status.FAIL,
        True,
        f"{shown} < {vm_size} MiB, the EFLOW VM size for GPU work: Start-EflowVm refuses to start a VM "
        "larger than the free memory",
        remedy,
    )


def host_disk(ctx: RuleContext) -> Criterion:
    """``host.disk``: enough free space on the system drive."""
    disk = ctx.facts.disk
    if disk is None or disk.free_bytes is None:
        return ctx.unknown("host.disk", True, "disk")
    need = ctx.matrix.host.min_free_disk_gb
    drive = disk.device_id or "the system drive"
    shown = f"{disk.free_bytes / 1e9:.1f} GB free on {drive}"
    if disk.free_bytes >= need * 1e9:
        return Criterion("host.disk", Status.PASS, True, f"{shown} >= {need:g} GB")
    return Criterion(
        "host.disk", Status.FAIL, True, f"{shown} < {need:g} GB", f"free at least {need:g} GB on {drive}"
    )
