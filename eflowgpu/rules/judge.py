"""Judging a host: every GPU's criteria, verdict, predicted passthrough and deploy command."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eflowgpu.criteria import Criterion, Verdict, verdict_of
from eflowgpu.host.facts import HostFacts
from eflowgpu.host.gpus import HostGpu, discover_gpus
from eflowgpu.identity import GpuIdentity, identify
from eflowgpu.matrix import Matrix, Passthrough, Profile
from eflowgpu.rules import device, platform
from eflowgpu.rules.context import RuleContext, powershell_quote, why_unquotable

HOST_RULES: tuple[Callable[[RuleContext], Criterion], ...] = (
    device.gpu_supported,
    platform.os_edition,
    platform.os_build,
    platform.host_hyperv,
    platform.host_virtualization,
    platform.host_physical,
    platform.host_memory,
    platform.host_disk,
    device.gpu_device,
    device.gpu_driver,
    device.gpu_wsl,
    device.dda_iov,
    device.dda_endpoint,
    device.dda_acs,
    device.dda_rmrr,
    device.dda_interrupts,
    device.dda_location,
    device.dda_mitigation_driver,
    device.gpupv_partitionable,
    device.gpupv_policy,
    device.gpupv_driver_model,
    device.dda_mmio,
    device.host_eflow,
)
"""The host rules in the contract's criterion order."""

EFLOW_TYPE = {"DDA": "DirectDeviceAssignment", "GPU-PV": "ParaVirtualization"}
_DEPLOYABLE = {Verdict.ELIGIBLE, Verdict.ELIGIBLE_WITH_WARNINGS, Verdict.INCOMPLETE}


@dataclass(frozen=True)
class GpuResult:
    """The judgement of one GPU of a host."""

    name: str
    pci_id: str
    subsys_id: str | None
    model: str | None
    brand: str | None
    passthrough: Passthrough | None
    passthrough_reason: str | None
    verdict: Verdict
    criteria: tuple[Criterion, ...]
    deploy_hint: str | None
    instance_id: str
    verdicts: tuple[tuple[str, Verdict], ...] = ()
    """The GPU's verdict under every profile of the matrix, in the matrix's order (report ``verdicts``)."""


def judge_host(matrix: Matrix, profile: Profile, facts: HostFacts) -> list[GpuResult]:
    """Judge every GPU of the host against ``profile``."""
    return [judge_gpu(matrix, profile, facts, gpu) for gpu in discover_gpus(facts)]


def _context(
    matrix: Matrix, profile: Profile, facts: HostFacts, gpu: HostGpu, identity: GpuIdentity
) -> RuleContext:
    row = profile.row_for(
        identity.model.key if identity.model else None, identity.brand.key if identity.brand else None
    )
    return RuleContext(matrix, profile, facts, gpu, identity, row)


def _verdict(ctx: RuleContext) -> Verdict:
    return verdict_of(rule(ctx) for rule in HOST_RULES)


def judge_gpu(matrix: Matrix, profile: Profile, facts: HostFacts, gpu: HostGpu) -> GpuResult:
    """Judge one GPU: all host criteria, the verdict, the passthrough type and the deploy command,
    and its verdict under every other profile of the matrix."""
    identity = identify(matrix, gpu.pci, gpu.name)
    ctx = _context(matrix, profile, facts, gpu, identity)
    criteria = tuple(rule(ctx) for rule in HOST_RULES)
    verdict = verdict_of(criteria)
    verdicts = tuple(
        (
            other.key,
            verdict if other.key == profile.key else _verdict(_context(matrix, other, facts, gpu, identity)),
        )
        for other in matrix.profiles.values()
    )
    row = ctx.row
    name = ctx.gpu_label
    passthrough = row.passthrough if row else None
    return GpuResult(
        name=name,
        pci_id=gpu.pci.pci_id,
        subsys_id=gpu.pci.subsys_id,
        model=identity.model.key if identity.model else None,
        brand=identity.brand.key if identity.brand else None,
        passthrough=passthrough,
        passthrough_reason=_with_hint_refusal(_passthrough_reason(ctx), name),
        verdict=verdict,
        criteria=criteria,
        deploy_hint=deploy_hint(passthrough, name) if passthrough and verdict in _DEPLOYABLE else None,
        instance_id=gpu.instance_id,
        verdicts=verdicts,
    )


def deploy_hint(passthrough: Passthrough, gpu_name: str) -> str | None:
    """The ``Deploy-Eflow`` command that gives the EFLOW VM this GPU, or None.

    The name is quoted by PowerShell's own rules (:func:`~eflowgpu.rules.context.powershell_quote`);
    a name no quoting makes safe to paste gets no hint (None).
    """
    quoted = powershell_quote(gpu_name)
    if quoted is None:
        return None
    return f"Deploy-Eflow -gpuPassthroughType {EFLOW_TYPE[passthrough]} -gpuName {quoted} -gpuCount 1"


def _with_hint_refusal(reason: str | None, name: str) -> str | None:
    """``reason``, with why no ``Deploy-Eflow`` hint is given when the name cannot be quoted."""
    why = why_unquotable(name)
    if reason is None or why is None:
        return reason
    return f"{reason}. No Deploy-Eflow command is printed for this GPU: {why}"


def _passthrough_reason(ctx: RuleContext) -> str | None:
    row = ctx.row
    if row is None:
        return None
    why = f"; {row.why}" if row.why else ""
    if ctx.profile.passthrough_selection == "automatic":
        text = (
            f"EFLOW selects the passthrough method itself in this profile; the pack predicts "
            f"{row.passthrough} (row {row.id}){why}"
        )
    else:
        text = (
            f"{row.passthrough} by row {row.id}{why}; pass -gpuPassthroughType "
            f"{EFLOW_TYPE[row.passthrough]} to Deploy-Eflow"
        )
    return text + _eflow_view(ctx.facts, ctx.gpu_label, row.passthrough)


def _eflow_view(facts: HostFacts, name: str, passthrough: Passthrough) -> str:
    info = facts.eflow_gpu
    if info is None or not info.name or info.name.casefold() != name.casefold():
        return ""
    types = ", ".join(info.supported_passthrough_types) or "none"
    agrees = EFLOW_TYPE[passthrough].casefold() in (t.casefold() for t in info.supported_passthrough_types)
    verdict = "which agrees" if agrees else f"which does not include {EFLOW_TYPE[passthrough]}"
    return f". EFLOW's Get-EflowHostConfiguration lists this GPU with passthrough types {types}, {verdict}"
