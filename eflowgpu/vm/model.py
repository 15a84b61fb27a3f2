"""Typed facts about the GPUs a VM sees, the same whether they came from NVML (live) or from
``nvidia-smi -q -x`` (recorded).

A value that could not be read is ``None``; a query the platform answered with NotSupported (as
many do under GPU-PV) is also ``None`` and its field name is listed in :attr:`VmGpu.not_supported`,
so that rules skip it with that reason instead of failing or guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PcieLink:
    """PCIe generation and width, maximum and current (``None`` when not reported)."""

    gen_max: int | None = None
    width_max: int | None = None
    gen_current: int | None = None
    width_current: int | None = None


@dataclass(frozen=True)
class EccCounts:
    """ECC error counts: volatile (since the driver loaded) and aggregate (lifetime)."""

    volatile_corrected: int | None = None
    volatile_uncorrected: int | None = None
    aggregate_corrected: int | None = None
    aggregate_uncorrected: int | None = None


@dataclass(frozen=True)
class MemoryHealth:
    """Retired pages (up to Turing) and row remapping (Ampere and later)."""

    retired_pages_sbe: int | None = None
    retired_pages_dbe: int | None = None
    retired_pages_pending: bool | None = None
    remapped_rows_correctable: int | None = None
    remapped_rows_uncorrectable: int | None = None
    remapped_rows_pending: bool | None = None
    remapped_rows_failure: bool | None = None


@dataclass(frozen=True)
class VmGpu:
    """One GPU as the VM sees it.

    ``pci_device``/``pci_vendor``/``subsys_device``/``subsys_vendor`` are upper-case hex (``1EB8``,
    ``10DE``) or ``None`` when missing, redacted or malformed (a vendor half that is not ``10DE`` is
    not an id). ``clocks_event_reasons`` lists the *active* reasons by NVML's names without the
    prefix: ``gpu_idle``, ``applications_clocks_setting``, ``sw_power_cap``, ``hw_slowdown``,
    ``sync_boost``, ``sw_thermal_slowdown``, ``hw_thermal_slowdown``, ``hw_power_brake_slowdown``,
    ``display_clock_setting``.
    """

    index: int
    name: str | None = None
    bus_id: str | None = None
    pci_device: str | None = None
    pci_vendor: str | None = None
    subsys_device: str | None = None
    subsys_vendor: str | None = None
    uuid: str | None = None
    driver_version: str | None = None
    cuda_version: str | None = None
    driver_model: str | None = None
    memory_total_mib: int | None = None
    pcie: PcieLink = field(default_factory=PcieLink)
    ecc_enabled: bool | None = None
    ecc: EccCounts = field(default_factory=EccCounts)
    memory_health: MemoryHealth = field(default_factory=MemoryHealth)
    clocks_event_reasons: tuple[str, ...] | None = None
    temperature_c: int | None = None
    power_draw_w: float | None = None
    power_limit_w: float | None = None
    virtualization_mode: str | None = None
    not_supported: frozenset[str] = frozenset()
    mig_mode: bool | None = None
    """MIG enabled (CUDA work then sees MIG devices, not the whole GPU); None when not reported."""
    mig_memory_mib: tuple[int, ...] = ()
    """Memory of each MIG device, when MIG is on."""

    @property
    def pci_id(self) -> str | None:
        """``10DE:1EB8`` or None."""
        return f"{self.pci_vendor}:{self.pci_device}" if self.pci_vendor and self.pci_device else None

    @property
    def subsys_id(self) -> str | None:
        """``10DE:12A2`` (subsystem vendor first) or None."""
        if self.subsys_vendor and self.subsys_device:
            return f"{self.subsys_vendor}:{self.subsys_device}"
        return None
