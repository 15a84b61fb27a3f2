"""Rules about the GPU itself: presence, host driver, WSL, the DDA survey and GPU-PV."""

from __future__ import annotations

from fnmatch import fnmatch

from eflowgpu.criteria import Criterion, Status
from eflowgpu.host.facts import SurveyDevice
from eflowgpu.host.gpus import discover_gpus
from eflowgpu.matrix.model import MitigationDrivers, parse_module_version
from eflowgpu.nvsmi import SmiGpu
from eflowgpu.pci import ven_dev_in
from eflowgpu.rules.context import RuleContext
from eflowgpu.versions import nvidia_version_from_windows

WSL_FEATURE = "microsoft-windows-subsystem-linux"
NVIDIA = "10DE"
_CM_MEANING = {
    10: "the device cannot start",
    22: "disabled",
    28: "no driver installed",
    31: "the driver failed to load",
    43: "Windows stopped it after it reported a problem",
    45: "not connected",
}
_ADMIN = "collect the snapshot again as an administrator"
_DISMOUNTED = "Hyper-V lists it as assignable (dismounted), so it passed the DDA device checks"


def gpu_supported(ctx: RuleContext) -> Criterion:
    """``gpu.supported``: the profile has a row for this GPU."""
    what = (
        ctx.identity.model.name
        if ctx.identity.model
        else (ctx.identity.brand.label if ctx.identity.brand else "an unknown device")
    )
    if ctx.row is not None:
        return Criterion(
            "gpu.supported",
            Status.PASS,
            True,
            f"{ctx.gpu_label} ({what}) matches row {ctx.row.id}: {ctx.row.passthrough}",
        )
    listed = "; ".join(f"{_row_gpus(ctx, i)} by {row.passthrough}" for i, row in enumerate(ctx.profile.rows))
    brand = ctx.identity.brand
    if brand is not None and brand.key == "bmc":
        return Criterion(
            "gpu.supported",
            Status.FAIL,
            True,
            f"{ctx.gpu_label} ({ctx.gpu.pci.pci_id}) is the server's {brand.label}, "
            "not a GPU EFLOW can pass through",
            "nothing to do for this device; judge the server's other GPUs",
        )
    return Criterion(
        "gpu.supported",
        Status.FAIL,
        True,
        f"{ctx.gpu_label} ({what}, {ctx.identity.how}) has no row in profile {ctx.profile.key}, "
        f"which lists {listed}",
        "use a GPU the profile lists, or judge with another profile (--profile)",
    )


def _row_gpus(ctx: RuleContext, index: int) -> str:
    row = ctx.profile.rows[index]
    names = [ctx.matrix.gpus[m].name for m in row.models] + [ctx.matrix.brands[b].label for b in row.brands]
    return ", ".join(names)


def gpu_device(ctx: RuleContext) -> Criterion:
    """``gpu.device``: the GPU is present and working, or already dismounted for assignment."""
    dda = ctx.row is None or ctx.row.passthrough == "DDA"
    gpu = ctx.gpu
    if gpu.dismounted:
        where = f" at {gpu.location_path}" if gpu.location_path else ""
        detail = f"dismounted from the host for DDA ({gpu.instance_id}){where}"
        if dda:
            return Criterion("gpu.device", Status.PASS, True, detail)
        return Criterion(
            "gpu.device",
            Status.FAIL,
            True,
            f"{detail}; GPU-PV needs the GPU on the host",
            f"Mount-VMHostAssignableDevice -LocationPath '{gpu.location_path or '<location path>'}', "
            "then enable the device",
        )
    code = gpu.video.config_manager_error_code if gpu.video else None
    status = gpu.video.status if gpu.video else None
    if code is None and gpu.survey is not None:
        code, status = gpu.survey.config_manager_error_code, gpu.survey.status
    if code is None:
        if status and status.casefold() == "ok":
            return Criterion("gpu.device", Status.PASS, True, "present and working (Status OK)")
        return ctx.unknown("gpu.device", True, "video_controllers", "pci_survey")
    shown = f"ConfigManagerErrorCode {code}" + (f", Status {status}" if status else "")
    if code == 0:
        return Criterion("gpu.device", Status.PASS, True, f"present and working ({shown})")
    meaning = _CM_MEANING.get(code, "Windows reports a device problem")
    if code == 22 and dda:
        return Criterion(
            "gpu.device",
            Status.PASS,
            True,
            f"present and disabled ({shown}), as before dismounting it for DDA",
        )
    if code == 28 and dda and ctx.row is not None:
        return Criterion(
            "gpu.device",
            Status.WARN,
            True,
            f"present without a host driver ({shown}): DDA needs none (the VM runs its own), but Windows "
            f"then names the device generically ({gpu.name or 'no name'!r}) and Deploy-Eflow -gpuName "
            "looks the GPU up by that name",
            f"install the vendor's driver on the host so that Windows names it {ctx.gpu_label!r}, the "
            "name the deploy command passes to -gpuName",
        )
    remedy = (
        "enable the device (Enable-PnpDevice or Device Manager)"
        if code == 22
        else "reinstall the GPU driver; if the problem stays, reseat the card and check its power"
    )
    return Criterion("gpu.device", Status.FAIL, True, f"{meaning} ({shown})", remedy)


def gpu_driver(ctx: RuleContext) -> Criterion:
    """``gpu.driver``: for GPU-PV, a host driver with CUDA-on-WSL (GPU-PV) support at the minimum."""
    row = ctx.row
    if row is None:
        return ctx.skip("gpu.driver", "no row in this profile for this GPU")
    if row.passthrough == "DDA" or row.driver is None:
        return ctx.skip("gpu.driver", "DDA: the VM runs its own driver; the host needs none")
    rule = row.driver
    need = f"{rule.name}, {rule.min_version} or newer" if rule.min_version else rule.name
    if ctx.gpu.dismounted:
        return Criterion(
            "gpu.driver",
            Status.FAIL,
            True,
            "the GPU is dismounted, so no host driver serves it",
            f"mount it back and install {need}",
        )
    video = ctx.gpu.video
    if video is None:
        return ctx.unknown("gpu.driver", True, "video_controllers")
    vendor_word = {"10DE": "nvidia", "8086": "intel"}.get(rule.vendor, "")
    provider = (video.adapter_compatibility or "").casefold()
    if vendor_word and vendor_word not in provider:
        return Criterion(
            "gpu.driver",
            Status.FAIL,
            True,
            f"the GPU runs {video.name or 'an unknown driver'!r} "
            f"({video.adapter_compatibility or 'no provider'}), not {rule.name}",
            f"install {need}",
        )
    if rule.vendor != "10DE":
        return Criterion(
            "gpu.driver",
            Status.PASS,
            True,
            f"{video.adapter_compatibility} driver {video.driver_version or '(version not shown)'} "
            f"is installed; {rule.note or ''}".rstrip("; "),
        )
    smi = _smi_gpu(ctx)
    if smi is not None and smi.driver_model and smi.driver_model.upper() == "TCC":
        return Criterion(
            "gpu.driver",
            Status.FAIL,
            True,
            "nvidia-smi shows the GPU in TCC mode; GPU-PV needs the WDDM driver model",
            "switch it to WDDM (nvidia-smi -dm 0) and restart",
        )
    version = nvidia_version_from_windows(video.driver_version or "")
    shown = f"NVIDIA driver {version} (Windows {video.driver_version})" if version else ""
    if version is None:
        return Criterion(
            "gpu.driver",
            Status.UNKNOWN,
            True,
            f"DriverVersion {video.driver_version!r} is not a Windows driver version",
            "check the driver in Device Manager and collect again",
        )
    if rule.min_version is not None and version < rule.min_version:
        return Criterion(
            "gpu.driver",
            Status.FAIL,
            True,
            f"{shown} is older than {rule.min_version}, the minimum for {rule.name}",
            f"install {need}",
        )
    if rule.recommended_version is not None and version < rule.recommended_version:
        return Criterion(
            "gpu.driver",
            Status.WARN,
            True,
            f"{shown} >= {rule.min_version} but below {rule.recommended_version}: {rule.note}",
            f"install {rule.name}, {rule.recommended_version} or newer",
        )
    return Criterion("gpu.driver", Status.PASS, True, f"{shown} >= {rule.min_version}")


def _smi_gpu(ctx: RuleContext) -> SmiGpu | None:
    smi = ctx.facts.nvidia_smi
    if smi is None:
        return None
    for gpu in smi.gpus:
        if gpu.pci_device == ctx.gpu.pci.device:
            return gpu
    return None


def gpu_wsl(ctx: RuleContext) -> Criterion:
    """``gpu.wsl``: WSL is installed where the row needs it (GPU-PV on Windows 10).

    Either WSL counts: the optional component ``Microsoft-Windows-Subsystem-Linux`` or the Microsoft
    Store WSL that ``wsl --install`` installs today (probe ``wsl``), which does not enable the
    component and keeps the shared GPU libraries in ``C:\\Program Files\\WSL\\lib``. Which of the two
    EFLOW needs is not documented (inferred: both carry the libraries).
    """
    rule = ctx.windows_rule
    if ctx.row is None or rule is None or not rule.requires_wsl:
        return ctx.skip("gpu.wsl", "this GPU and Windows release do not need WSL")
    features, wsl = ctx.facts.features, ctx.facts.wsl
    state = features.get(WSL_FEATURE) if features is not None else None
    if state == 1:
        return Criterion("gpu.wsl", Status.PASS, True, "Microsoft-Windows-Subsystem-Linux is enabled")
    if wsl is not None and wsl.store_installed:
        version = f" {wsl.store_version}" if wsl.store_version else ""
        libs = "with" if wsl.store_lib else "without"
        return Criterion(
            "gpu.wsl",
            Status.PASS,
            True,
            f"the Microsoft Store WSL{version} is installed "
            f"({libs} libdxcore.so in C:\\Program Files\\WSL\\lib); EFLOW's documents do not say which WSL "
            "it needs, and the Store WSL carries the shared libraries (inferred)",
        )
    if features is None and wsl is None:
        return ctx.unknown("gpu.wsl", True, "features", "wsl")
    shown = {2: "disabled", 3: "absent", None: "not listed"}.get(state, f"InstallState {state}")
    store = (
        "the Microsoft Store WSL is not installed"
        if wsl is not None
        else f"the Store WSL was not looked for ({ctx.facts.why_missing('wsl')})"
    )
    return Criterion(
        "gpu.wsl",
        Status.FAIL,
        True,
        f"Microsoft-Windows-Subsystem-Linux is {shown} and {store}; {rule.note or 'the row needs WSL'}",
        "wsl --install --no-distribution (installs the Store WSL), or "
        "Enable-WindowsOptionalFeature -Online -FeatureName Microsoft-Windows-Subsystem-Linux; then restart "
        "and collect again",
    )


def _dda_applies(ctx: RuleContext, criterion_id: str) -> Criterion | None:
    if ctx.row is None:
        return ctx.skip(criterion_id, "no row in this profile for this GPU")
    if ctx.row.passthrough != "DDA":
        return ctx.skip(criterion_id, f"{ctx.row.passthrough}: device assignment checks do not apply")
    return None


def dda_iov(ctx: RuleContext) -> Criterion:
    """``dda.iov``: the platform supports device assignment."""
    if (skipped := _dda_applies(ctx, "dda.iov")) is not None:
        return skipped
    vmhost = ctx.facts.vmhost
    if vmhost is None or vmhost.iov_support is None:
        return ctx.unknown("dda.iov", True, "vmhost")
    if vmhost.iov_support:
        return Criterion("dda.iov", Status.PASS, True, "Get-VMHost reports IovSupport True")
    reasons = "; ".join(r.rstrip(". ") for r in vmhost.iov_support_reasons) or "no reason given"
    return Criterion(
        "dda.iov",
        Status.FAIL,
        True,
        f"Get-VMHost reports IovSupport False: {reasons}",
        "enable the IOMMU (Intel VT-d / AMD-Vi) and SR-IOV in the firmware; if it stays False, "
        "run bcdedit /set hypervisoriommupolicy enable and restart",
    )


def _survey(ctx: RuleContext, criterion_id: str) -> SurveyDevice | Criterion:
    if (skipped := _dda_applies(ctx, criterion_id)) is not None:
        return skipped
    if ctx.gpu.dismounted:
        return Criterion(criterion_id, Status.PASS, True, _DISMOUNTED)
    if ctx.gpu.survey is not None:
        return ctx.gpu.survey
    if ctx.facts.pci_survey is None:
        return ctx.unknown(criterion_id, True, "pci_survey")
    return Criterion(
        criterion_id,
        Status.UNKNOWN,
        True,
        "the DDA survey did not list this device",
        _ADMIN,
    )


def _unread(criterion_id: str, field: str) -> Criterion:
    return Criterion(criterion_id, Status.UNKNOWN, True, f"the survey could not read {field}", _ADMIN)


def dda_endpoint(ctx: RuleContext) -> Criterion:
    """``dda.endpoint``: a PCI Express endpoint (or a legacy endpoint display controller)."""
    survey = _survey(ctx, "dda.endpoint")
    if isinstance(survey, Criterion):
        return survey
    kind = survey.pci_device_type
    good = {
        2: "a PCI Express endpoint",
        3: "a legacy PCI Express endpoint display controller",
        4: "a root-complex integrated endpoint (assignable, less isolated)",
    }
    if kind in good:
        return Criterion("dda.endpoint", Status.PASS, True, f"PciDeviceType {kind}: {good[kind]}")
    if kind is None:
        return _unread("dda.endpoint", "PciDeviceType")
    if kind == 5:
        return Criterion(
            "dda.endpoint",
            Status.FAIL,
            True,
            "PciDeviceType 5: the firmware kept control of PCI Express for this device",
            "enable native (OS) control of PCI Express in the firmware, or update the firmware",
        )
    return Criterion(
        "dda.endpoint",
        Status.FAIL,
        True,
        f"PciDeviceType {kind}: an old-style PCI device or switch port, not assignable",
        "put the GPU in a PCI Express slot attached to the root complex",
    )


def dda_acs(ctx: RuleContext) -> Criterion:
    """``dda.acs``: Access Control Services on the path upstream."""
    survey = _survey(ctx, "dda.acs")
    if isinstance(survey, Criterion):
        return survey
    acs = survey.acs_compatible_up_hierarchy
    if acs is None:
        return _unread("dda.acs", "AcsCompatibleUpHierarchy")
    if acs == 0:
        return Criterion(
            "dda.acs",
            Status.FAIL,
            True,
            "AcsCompatibleUpHierarchy 0: traffic from this device may be redirected to other devices",
            "enable ACS in the firmware, or move the GPU to a slot whose upstream ports support ACS",
        )
    return Criterion("dda.acs", Status.PASS, True, f"AcsCompatibleUpHierarchy {acs}: ACS upstream")


def dda_rmrr(ctx: RuleContext) -> Criterion:
    """``dda.rmrr``: the firmware does not keep the device bound to reserved memory."""
    survey = _survey(ctx, "dda.rmrr")
    if isinstance(survey, Criterion):
        return survey
    rmrr = survey.requires_reserved_memory_region
    if rmrr is None:
        return _unread("dda.rmrr", "RequiresReservedMemoryRegion")
    if rmrr:
        return Criterion(
            "dda.rmrr",
            Status.FAIL,
            True,
            "RequiresReservedMemoryRegion: the firmware requires this device to stay attached to "
            "BIOS-owned memory (RMRR)",
            "update the firmware or disable the option that reserves memory for the slot",
        )
    return Criterion("dda.rmrr", Status.PASS, True, "no firmware-reserved memory region")


def dda_interrupts(ctx: RuleContext) -> Criterion:
    """``dda.interrupts``: message-signalled interrupts (line-based only is not assignable)."""
    survey = _survey(ctx, "dda.interrupts")
    if isinstance(survey, Criterion):
        return survey
    kind = survey.interrupt_types
    if kind in ("msi", "mixed"):
        return Criterion("dda.interrupts", Status.PASS, True, f"interrupts are message-signalled ({kind})")
    if kind == "none":
        return Criterion(
            "dda.interrupts", Status.PASS, True, "the device has no interrupts; assignment can work"
        )
    if kind == "line":
        return Criterion(
            "dda.interrupts",
            Status.FAIL,
            True,
            "all of the device's interrupts are line-based",
            "enable MSI/MSI-X for the device (firmware or driver setting); DDA cannot assign INTx",
        )
    if survey.config_manager_error_code == 22:
        return Criterion(
            "dda.interrupts",
            Status.UNKNOWN,
            True,
            "the device is disabled, so its interrupts could not be read",
            "enable the device and collect again",
        )
    return Criterion(
        "dda.interrupts",
        Status.UNKNOWN,
        True,
        f"interrupt type {kind or 'not read'}",
        _ADMIN,
    )


def dda_location(ctx: RuleContext) -> Criterion:
    """``dda.location``: the device has a PCI location path."""
    if (skipped := _dda_applies(ctx, "dda.location")) is not None:
        return skipped
    path = ctx.gpu.location_path
    if path:
        return Criterion("dda.location", Status.PASS, True, f"LocationPath {path}")
    survey = _survey(ctx, "dda.location")
    if isinstance(survey, Criterion):
        return survey
    return Criterion(
        "dda.location",
        Status.FAIL,
        True,
        "the device has no PCI location path",
        "update the firmware: DDA needs the device's location path",
    )


def dda_mitigation_driver(ctx: RuleContext) -> Criterion:
    """``dda.mitigation_driver``: the vendor's device mitigation driver (recommended, not required)."""
    if (skipped := _dda_applies(ctx, "dda.mitigation_driver")) is not None:
        return Criterion("dda.mitigation_driver", skipped.status, False, skipped.detail)
    assert ctx.row is not None
    if ctx.row.mitigation_driver != "recommended":
        return ctx.skip("dda.mitigation_driver", "this row does not recommend a mitigation driver")
    survey = ctx.gpu.survey
    if survey is None or not (survey.driver_service or survey.driver_inf_path):
        if ctx.gpu.dismounted:
            return Criterion(
                "dda.mitigation_driver",
                Status.UNKNOWN,
                False,
                "the GPU is dismounted and the survey shows no driver for it",
                "check in Device Manager which driver the dismounted device uses",
            )
        return ctx.unknown("dda.mitigation_driver", False, "pci_survey")
    patterns = ctx.matrix.mitigation_drivers
    shown = (
        f"{survey.friendly_name or 'a device'!r} (service {survey.driver_service or '-'}, "
        f"{survey.driver_provider or 'unknown provider'}, {survey.driver_inf_path or 'no INF'})"
    )
    if _mitigated(survey, patterns):
        return Criterion("dda.mitigation_driver", Status.PASS, False, f"device mitigation driver: {shown}")
    policy = ctx.facts.hyperv_policy
    strict = (
        " Hyper-V policy RequireSecureDeviceAssignment=1 will refuse the GPU without it."
        if (policy is not None and policy.require_secure_device_assignment == 1)
        else ""
    )
    service = (survey.driver_service or "").casefold()
    generic = any(fnmatch(service, p.casefold()) for p in patterns.generic_services)
    what = (
        "Microsoft's generic driver for a dismounted device, not a mitigation driver"
        if generic
        else "not a device mitigation driver"
    )
    return Criterion(
        "dda.mitigation_driver",
        Status.WARN,
        False,
        f"the GPU is bound to {shown}, {what} "
        f"(recommended for DDA; without it Dismount-VMHostAssignableDevice needs -Force).{strict}",
        "install the GPU vendor's device mitigation driver before dismounting the GPU (NVIDIA: "
        "pnputil /add-driver nvidia_azure_stack_T4_base.inf /install, from "
        "docs.nvidia.com/datacenter/tesla/gpu-passthrough; the device then shows as "
        "'Nvidia T4_base - Dismounted')",
    )


def _mitigated(survey: SurveyDevice, patterns: MitigationDrivers) -> bool:
    """Whether Windows records a vendor's mitigation driver for the device (see matrix.yaml)."""
    checks = (
        (survey.friendly_name, patterns.friendly_name_patterns),
        (survey.driver_inf_path, patterns.inf_patterns),
        (survey.driver_service, patterns.service_patterns),
    )
    return any(text and any(fnmatch(text.casefold(), p.casefold()) for p in found) for text, found in checks)


def gpupv_partitionable(ctx: RuleContext) -> Criterion:
    """``gpupv.partitionable``: Hyper-V lists the GPU as partitionable."""
    if ctx.row is None or ctx.row.passthrough != "GPU-PV":
        reason = "no row in this profile for this GPU" if ctx.row is None else "DDA: no partitioning"
        return ctx.skip("gpupv.partitionable", reason)
    listed = ctx.facts.partitionable_gpus
    if listed is None:
        return ctx.unknown("gpupv.partitionable", True, "partitionable_gpus")
    remedy = (
        "install a driver with GPU-PV (WSL) support and keep the GPU in WDDM mode; "
        "Get-VMHostPartitionableGpu must list it"
    )
    if not listed:
        return Criterion(
            "gpupv.partitionable",
            Status.FAIL,
            True,
            "Hyper-V lists no partitionable GPU (no driver on this host offers GPU-PV)",
            remedy,
        )
    wanted = (ctx.gpu.pci.vendor, ctx.gpu.pci.device)
    for gpu in listed:
        if ven_dev_in(gpu.name) == wanted:
            counts = ", ".join(str(c) for c in gpu.valid_partition_counts) or "not shown"
            return Criterion(
                "gpupv.partitionable",
                Status.PASS,
                True,
                f"Hyper-V lists it as partitionable (valid partition counts: {counts})",
            )
    others = ", ".join(f"VEN_{v}&DEV_{d}" for v, d in filter(None, (ven_dev_in(g.name) for g in listed)))
    return Criterion(
        "gpupv.partitionable",
        Status.FAIL,
        True,
        f"Hyper-V lists other GPUs as partitionable ({others or 'unrecognised names'}) "
        f"but not VEN_{wanted[0]}&DEV_{wanted[1]}",
        remedy,
    )


def gpupv_policy(ctx: RuleContext) -> Criterion:
    """``gpupv.policy``: no Hyper-V group policy blocks assigning this GPU (a warning, not required)."""
    if ctx.row is None or ctx.row.passthrough != "GPU-PV":
        reason = (
            "no row in this profile for this GPU" if ctx.row is None else "DDA: see dda.mitigation_driver"
        )
        return ctx.skip("gpupv.policy", reason)
    policy = ctx.facts.hyperv_policy
    if policy is None:
        return ctx.unknown("gpupv.policy", False, "hyperv_policy")
    blocking = [
        name
        for name, value in (
            ("RequireSecureDeviceAssignment", policy.require_secure_device_assignment),
            ("RequireSupportedDeviceAssignment", policy.require_supported_device_assignment),
        )
        if value == 1
    ]
    if blocking:
        return Criterion(
            "gpupv.policy",
            Status.WARN,
            False,
            f"Hyper-V policy sets {' and '.join(f'{b}=1' for b in blocking)}: Hyper-V refuses GPUs "
            'that lack vendor mitigations ("not compliant with currently set group policy")',
            "set these values under HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\HyperV to 0 "
            "(or change the group policy), then restart",
        )
    if policy.require_secure_device_assignment is None and policy.require_supported_device_assignment is None:
        return Criterion("gpupv.policy", Status.PASS, False, "no Hyper-V device assignment policy is set")
    return Criterion(
        "gpupv.policy", Status.PASS, False, "the Hyper-V device assignment policy does not block it"
    )


def gpupv_driver_model(ctx: RuleContext) -> Criterion:
    """``gpupv.driver_model``: every NVIDIA GPU of the host runs WDDM (one in TCC breaks GPU-PV for all).

    microsoft/WSL#13027: with one NVIDIA GPU in TCC and another in WDDM, nvidia-smi in WSL fails
    "Unable to determine the device handle for GPU0 ... Unknown Error" and finds no device.
    """
    row = ctx.row
    if row is None or row.passthrough != "GPU-PV":
        return ctx.skip(
            "gpupv.driver_model", "no row in this profile for this GPU" if row is None else "DDA: no GPU-PV"
        )
    if row.driver is None or row.driver.vendor != NVIDIA:
        return ctx.skip("gpupv.driver_model", "not an NVIDIA GPU-PV row: NVIDIA driver models do not apply")
    smi = ctx.facts.nvidia_smi
    if smi is None:
        return _driver_model_from_partitionable(ctx)
    tcc = [g for g in smi.gpus if (g.driver_model or "").upper() == "TCC"]
    names = ", ".join(f"{g.product_name or 'GPU'} ({g.bus_id or 'no bus id'})" for g in tcc)
    if tcc:
        return Criterion(
            "gpupv.driver_model",
            Status.FAIL,
            True,
            f"nvidia-smi shows {len(tcc)} of the host's {len(smi.gpus)} NVIDIA GPUs in TCC mode: "
            f'{names}; one GPU in TCC breaks GPU-PV for every GPU ("Unable to determine the device '
            'handle for GPU0 ... Unknown Error", microsoft/WSL#13027)',
            "switch every NVIDIA GPU to WDDM (nvidia-smi -i <index> -dm 0, then restart), or dismount the "
            "TCC GPU for DDA (Dismount-VMHostAssignableDevice) before using GPU-PV",
        )
    models = sorted({(g.driver_model or "not shown") for g in smi.gpus})
    return Criterion(
        "gpupv.driver_model",
        Status.PASS,
        True,
        f"no NVIDIA GPU of the host is in TCC mode ({len(smi.gpus)} GPU(s): {', '.join(models) or 'none'})",
    )


def _driver_model_from_partitionable(ctx: RuleContext) -> Criterion:
    """Without nvidia-smi: a GPU in TCC is never partitionable, so all NVIDIA GPUs listed means no TCC."""
    listed = ctx.facts.partitionable_gpus
    nvidia = [g for g in discover_gpus(ctx.facts) if g.pci.vendor == NVIDIA and not g.dismounted]
    if listed is not None and nvidia:
        offered = {ven_dev_in(p.name) for p in listed}
        if all((g.pci.vendor, g.pci.device) in offered for g in nvidia):
            return Criterion(
                "gpupv.driver_model",
                Status.PASS,
                True,
                f"nvidia-smi gave nothing, but Hyper-V lists all {len(nvidia)} NVIDIA GPU(s) of the host as "
                "partitionable, which a GPU in TCC mode never is",
            )
    return ctx.unknown("gpupv.driver_model", True, "nvidia_smi")


def dda_mmio(ctx: RuleContext) -> Criterion:
    """``dda.mmio``: the device's MMIO need fits the MMIO space the EFLOW VM is known to give (a warning)."""
    if (skipped := _dda_applies(ctx, "dda.mmio")) is not None:
        return Criterion("dda.mmio", skipped.status, False, skipped.detail)
    gap = ctx.matrix.host.dda_mmio_mib
    survey = ctx.gpu.survey
    if survey is None or survey.mmio_bytes is None:
        if survey is None and ctx.facts.pci_survey is not None:
            return Criterion(
                "dda.mmio", Status.UNKNOWN, False, "the DDA survey did not list this device", _ADMIN
            )
        return ctx.unknown("dda.mmio", False, "pci_survey")
    need = survey.mmio_bytes / 2**20
    if gap is None:
        return Criterion(
            "dda.mmio", Status.SKIP, False, f"the device needs {need:.0f} MiB of MMIO; the matrix sets no gap"
        )
    source = f" ({ctx.matrix.host.dda_mmio_source})" if ctx.matrix.host.dda_mmio_source else ""
    if need <= gap:
        return Criterion(
            "dda.mmio",
            Status.PASS,
            False,
            f"the device needs {need:.0f} MiB of MMIO <= {gap} MiB the EFLOW VM gives a DDA GPU{source}",
        )
    return Criterion(
        "dda.mmio",
        Status.WARN,
        False,
        f"the device needs {need:.0f} MiB of MMIO > {gap} MiB the EFLOW VM is known to give{source}; in the "
        'VM the GPU may fail with "not enough resources" (Code 12)',
        "give the EFLOW VM more MMIO space before assigning the GPU: Stop-EflowVm, then Set-VM "
        f"-VMName <EFLOW VM> -HighMemoryMappedIoSpace {int(need) + 512}MB -LowMemoryMappedIoSpace 3GB, "
        "then Start-EflowVm",
    )


def host_eflow(ctx: RuleContext) -> Criterion:
    """``host.eflow``: the installed EFLOW release has no known GPU defect for this GPU (a warning)."""
    if ctx.row is None:
        return ctx.skip("host.eflow", "no row in this profile for this GPU")
    text = ctx.facts.eflow_version
    if text is None:
        if "eflow" in ctx.facts.missing:
            return ctx.unknown("host.eflow", False, "eflow")
        return ctx.skip("host.eflow", "EFLOW is not installed yet: install its current release")
    version = parse_module_version(text)
    if version is None:
        return Criterion(
            "host.eflow",
            Status.UNKNOWN,
            False,
            f"AzureEFLOW module version {text!r} is not a version",
            "check Get-Module -ListAvailable AzureEFLOW and collect again",
        )
    model = ctx.identity.model.key if ctx.identity.model else None
    found = [
        d
        for d in ctx.matrix.eflow_defects
        if d.affects_version(version)
        and (not d.models or model in d.models)
        and (d.passthrough is None or d.passthrough == ctx.row.passthrough)
        and (d.edition_kind is None or d.edition_kind == ctx.edition_kind)
    ]
    if not found:
        return Criterion(
            "host.eflow",
            Status.PASS,
            False,
            f"EFLOW {text}: no known GPU defect for {ctx.gpu_label} by {ctx.row.passthrough}",
        )
    fixed = [d.before for d in found if d.before is not None]
    target = ".".join(str(p) for p in max(fixed)) if fixed else None
    return Criterion(
        "host.eflow",
        Status.WARN,
        False,
        f"EFLOW {text} has known defects for {ctx.gpu_label} by {ctx.row.passthrough}: "
        + "; ".join(f"{d.issue} ({d.source})" for d in found),
        f"update EFLOW to {target} or later" if target else "update EFLOW to its current release",
    )
