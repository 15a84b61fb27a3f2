"""Criteria and verdicts: the vocabulary every rule and every report shares.

Statuses and verdicts are exactly the contract's (``contracts/report.md``); criterion ids are
stable. A criterion is computed once by a rule; the pytest outcome and every report are derived
from the same object, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """Outcome of one criterion."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    UNKNOWN = "unknown"
    SKIP = "skip"
    WAIVED = "waived"
    """A failure that a certifier's waiver (errata) covers: counts as a pass for the verdict, is
    never shown as one (``contracts/report.md`` revision 2)."""


class Verdict(StrEnum):
    """Outcome for one GPU, the first that applies in this order."""

    UNSUPPORTED = "unsupported"
    NOT_ELIGIBLE = "not-eligible"
    INCOMPLETE = "incomplete"
    ELIGIBLE_WITH_WARNINGS = "eligible-with-warnings"
    ELIGIBLE = "eligible"


HOST_CRITERIA: tuple[tuple[str, str], ...] = (
    ("gpu.supported", "the profile has a row for this GPU"),
    ("os.edition", "the Windows edition is one the GPU's row allows"),
    ("os.build", "the build reaches the row's minimum for that edition"),
    ("host.hyperv", "the Hyper-V feature is enabled"),
    ("host.virtualization", "hardware virtualization and SLAT are on"),
    ("host.physical", "the host is not itself a virtual machine"),
    ("host.memory", "the EFLOW VM's memory (4096 MiB for GPU work) is free"),
    ("host.disk", "at least 10 GB free on the system drive"),
    ("gpu.device", "the GPU is present and working, or dismounted for assignment"),
    ("gpu.driver", "a host driver with GPU-PV (CUDA on WSL) support at the profile's minimum"),
    ("gpu.wsl", "WSL is installed where the row needs it"),
    ("dda.iov", "the platform supports device assignment (IovSupport)"),
    ("dda.endpoint", "the GPU is a PCI Express endpoint"),
    ("dda.acs", "ACS on the path upstream"),
    ("dda.rmrr", "firmware does not reserve memory for the device"),
    ("dda.interrupts", "message-signalled interrupts"),
    ("dda.location", "the device has a PCI location path"),
    ("dda.mitigation_driver", "the vendor's device mitigation driver is installed"),
    ("gpupv.partitionable", "Hyper-V lists the GPU as partitionable"),
    ("gpupv.policy", "no Hyper-V policy blocks assigning this GPU"),
    ("gpupv.driver_model", "every NVIDIA GPU of the host runs WDDM (one in TCC breaks GPU-PV for all)"),
    ("dda.mmio", "the device's MMIO need fits the MMIO space the VM is given"),
    ("host.eflow", "the installed EFLOW release has no known GPU defect for this GPU"),
)
"""Host criterion ids in report order, with what each checks."""


@dataclass(frozen=True)
class WaiverNote:
    """The waiver that turned a criterion's failure into ``waived``: the report's ``waiver`` object."""

    id: str
    reason: str
    approved_by: str
    expires: str
    """The last day the waiver applies, ``YYYY-MM-DD``."""

    def to_dict(self) -> dict[str, str]:
        """The contract's ``waiver`` object."""
        return {
            "id": self.id,
            "reason": self.reason,
            "approved_by": self.approved_by,
            "expires": self.expires,
        }


@dataclass(frozen=True)
class Criterion:
    """One judged criterion: what was measured against what was required, and what to do."""

    id: str
    status: Status
    required: bool
    detail: str
    remedy: str | None = None
    waiver: WaiverNote | None = None
    """Set when the status is ``waived``: which waiver covers the failure."""

    def message(self) -> str:
        """The detail with the remedy, as a test failure or skip reason shows it."""
        detail = self.detail.rstrip(". ")
        return f"{detail}. To fix: {self.remedy}" if self.remedy else detail

    def to_dict(self) -> dict[str, object]:
        """The contract's criterion object (``remedy`` is an additive field; ``waiver`` only when waived)."""
        result: dict[str, object] = {
            "id": self.id,
            "status": self.status.value,
            "required": self.required,
            "detail": self.detail,
            "remedy": self.remedy,
        }
        if self.waiver is not None:
            result["waiver"] = self.waiver.to_dict()
        return result


def verdict_of(criteria: Iterable[Criterion]) -> Verdict:
    """The GPU's verdict from its criteria, in the contract's order.

    A ``waived`` criterion counts as a pass here (it is neither failed, unknown nor warning).
    """
    items = list(criteria)
    if any(c.id == "gpu.supported" and c.status is Status.FAIL for c in items):
        return Verdict.UNSUPPORTED
    required = [c for c in items if c.required]
    if any(c.status is Status.FAIL for c in required):
        return Verdict.NOT_ELIGIBLE
    if any(c.status is Status.UNKNOWN for c in required):
        return Verdict.INCOMPLETE
    if any(c.status is Status.WARN for c in items):
        return Verdict.ELIGIBLE_WITH_WARNINGS
    return Verdict.ELIGIBLE


VM_CRITERIA: tuple[tuple[str, str], ...] = (
    ("vm.passthrough", "inside the VM, the GPU arrives by the passthrough type the host predicts"),
    ("vm.gpu_visible", "the VM sees the GPU and its driver answers"),
    ("vm.driver", "the driver supports the CUDA version of the pack's CUDA build"),
    ("vm.identity", "the GPU the VM sees is the one the host has (PCI id, memory)"),
    ("vm.memory", "the VM has enough memory for GPU work"),
    ("vm.pcie_link", "the link trains at the product's generation and width"),
    ("vm.health", "no retired-page, row-remap, ECC or clock-event trouble"),
    ("vm.toolkit", "the VM's NVIDIA container toolkit has no known WSL-mode defect and no known CVE"),
    ("vm.cuda_arch", "the pack's CUDA build has kernels for the GPU and accepts its driver"),
)
"""In-VM criterion ids in report order (``eflowgpu.rules.vm.VM_RULES`` yields exactly these)."""
