"""The recorded path: :class:`VmGpu` facts from ``nvidia-smi -q -x`` XML (the ``nvidia_smi`` probe).

The live path (:mod:`eflowgpu.vm.nvml`) gives equal objects for the same GPU. Rules:

* An element that is absent gives ``None`` and nothing else (older drivers lack newer fields).
* An element that reads ``N/A``/``[N/A]``/``Not Supported`` gives ``None`` and its field name in
  :attr:`VmGpu.not_supported`. For the composite fields (``pcie``, ``ecc``, ``memory_health``) the
  name is dotted, one per part (``memory_health.remapped_rows_correctable``: a Turing T4 has page
  retirement but no row remapping); the bare composite name (``memory_health``) is added as well
  when none of its parts has a value, so a rule can skip the whole check.
* An element that reads an error (``Unknown Error``, ``ERR!``, ``[REDACTED]``) or a value that does
  not parse gives ``None`` and a line in :attr:`GpuReading.errors`.
* PCI ids must be NVIDIA's (vendor half ``10DE``); anything else is ``None`` for both halves and
  a line in ``errors`` (see :func:`eflowgpu.nvsmi.nvidia_pci_id`).

ECC counts: older layouts (Pascal/Volta, some Windows/WSL drivers) have ``single_bit`` and
``double_bit`` blocks per location with a ``total``; the ``total`` is used, or the sum of the
readable locations when it is missing. Newer layouts have ``sram_correctable``,
``sram_uncorrectable`` (split into ``sram_uncorrectable_parity`` and ``sram_uncorrectable_secded``
since R570), ``dram_correctable`` and ``dram_uncorrectable``: corrected is the sum of the
``*_correctable`` counters and uncorrected the sum of the ``*_uncorrectable*`` ones (a counter that
is split is counted once, by its parts), matching NVML's ``nvmlDeviceGetTotalEccErrors``. Flags
such as ``sram_threshold_exceeded`` and the ``aggregate_uncorrectable_sram_sources`` breakdown are
not counters and are not added. A period whose counters all read ``N/A`` is not supported.

Power draw is ``power_draw`` where the driver prints it (R535 and older), else
``average_power_draw`` (what ``nvmlDeviceGetPowerUsage`` returns on Ampere and newer), else
``instant_power_draw``; under ``gpu_power_readings`` (R530+) or ``power_readings`` (older). The
power limit is the enforced one: ``current_power_limit`` (R530+) or ``enforced_power_limit``,
falling back to ``power_limit``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar
from xml.etree.ElementTree import Element

from eflowgpu.nvsmi import (
    State,
    classify_text,
    nvidia_pci_id,
    parse_bool,
    parse_float,
    parse_int,
    parse_root,
    read_field,
    split_pci_id,
    subsystem_pci_id,
)
from eflowgpu.vm.model import EccCounts, MemoryHealth, PcieLink, VmGpu

T = TypeVar("T")

CLOCKS_EVENT_REASONS = (
    "gpu_idle",
    "applications_clocks_setting",
    "sw_power_cap",
    "hw_slowdown",
    "sync_boost",
    "sw_thermal_slowdown",
    "hw_thermal_slowdown",
    "hw_power_brake_slowdown",
    "display_clock_setting",
)
"""Clock event reasons in NVML's bit order (the order of :attr:`VmGpu.clocks_event_reasons`)."""

_REASON_ALIASES = (
    ("display_clocks_setting", "display_clock_setting"),
    ("user_defined_clocks", "applications_clocks_setting"),
)
_REASON_BLOCKS = (
    ("clocks_event_reasons", "clocks_event_reason_"),
    ("clocks_throttle_reasons", "clocks_throttle_reason_"),
)
_POWER_DRAW = tuple(
    f"{block}/{name}"
    for block in ("gpu_power_readings", "power_readings")
    for name in ("power_draw", "average_power_draw", "instant_power_draw")
)
_POWER_LIMIT = (
    "gpu_power_readings/current_power_limit",
    "power_readings/enforced_power_limit",
    "power_readings/current_power_limit",
    "gpu_power_readings/enforced_power_limit",
    "power_readings/power_limit",
)
COMPOSITES = ("pcie", "ecc", "memory_health")
"""VmGpu fields made of parts; their parts are listed in ``not_supported`` with dotted names."""


@dataclass(frozen=True)
class GpuReading:
    """What one reading of the GPUs gave: versions, GPUs, and what went wrong on the way.

    ``errors`` holds one line per field that could not be read for a reason other than "not
    supported" (``gpu 0: temperature_c: temperature/gpu_temp reads 'ERR!'``); the field is None.
    """

    driver_version: str | None
    cuda_version: str | None
    gpus: tuple[VmGpu, ...]
    errors: tuple[str, ...] = ()
    attached_gpus: int | None = field(default=None, compare=False)
    """``attached_gpus`` as the driver counts them; differs from ``len(gpus)`` when a GPU it counts
    could not be read (DCGM's device count mismatch)."""

    def as_tuple(self) -> tuple[str | None, str | None, list[VmGpu]]:
        """(driver_version, cuda_version, gpus), the shape :func:`gpus_from_smi` returns."""
        return self.driver_version, self.cuda_version, list(self.gpus)

    def __iter__(self) -> Iterator[Any]:
        """``driver, cuda, gpus = reading`` works as with :meth:`as_tuple` (``errors`` stays an attribute)."""
        return iter(self.as_tuple())


def read_smi(xml_text: str) -> GpuReading:
    """Read ``nvidia-smi -q -x`` output; raise :class:`~eflowgpu.nvsmi.NvidiaSmiError` when it is not that.

    The top-level ``driver_version`` and ``cuda_version`` are copied into every GPU (under GPU-PV
    the driver version is the Windows host driver's). GPUs are indexed in document order, which is
    NVML's index order.
    """
    root = parse_root(xml_text)
    driver = _top(root, "driver_version")
    cuda = _top(root, "cuda_version")
    errors: list[str] = []
    gpus = tuple(
        _gpu(index, element, driver, cuda, errors) for index, element in enumerate(root.findall("gpu"))
    )
    attached = parse_int(_top(root, "attached_gpus"))
    if attached is not None and attached != len(gpus):
        errors.append(f"attached_gpus says {attached} but the XML lists {len(gpus)} <gpu> element(s)")
    return GpuReading(driver, cuda, gpus, tuple(errors), attached)


def gpus_from_smi(xml_text: str) -> tuple[str | None, str | None, list[VmGpu]]:
    """(driver_version, cuda_version, gpus) from ``nvidia-smi -q -x`` output.

    Raises :class:`~eflowgpu.nvsmi.NvidiaSmiError` (one-line message) for empty, truncated,
    non-nvidia-smi or hostile XML. See :func:`read_smi` for the unreadable-field lines too.
    """
    return read_smi(xml_text).as_tuple()


def _top(root: Element, name: str) -> str | None:
    found = read_field(root, name)
    return found.text if found.state is State.VALUE else None


@dataclass
class _Reader:
    """Reads one ``<gpu>``, collecting not-supported names and error lines."""

    gpu: Element
    index: int
    errors: list[str]
    not_supported: set[str] = field(default_factory=set)

    def problem(self, name: str, text: str) -> None:
        self.errors.append(f"gpu {self.index}: {name}: {text}")

    def text(self, name: str, *paths: str) -> str | None:
        """The first readable value among ``paths``; else record why there is none."""
        unsupported = False
        unreadable: list[str] = []
        for path in paths:
            found = read_field(self.gpu, path)
            if found.state is State.VALUE:
                return found.text
            if found.state is State.NOT_SUPPORTED:
                unsupported = True
            elif found.state is State.UNREADABLE:
                unreadable.append(f"{path} reads {found.text!r}")
        if unreadable:
            self.problem(name, "; ".join(unreadable))
        elif unsupported:
            self.not_supported.add(name)
        return None

    def parsed(self, name: str, parse: Callable[[str], T | None], *paths: str) -> T | None:
        """The first readable value among ``paths``, parsed; a value that does not parse is an error."""
        text = self.text(name, *paths)
        if text is None:
            return None
        result = parse(text)
        if result is None:
            self.problem(name, f"cannot read {text!r}")
        return result

    def pci_id(
        self,
        names: tuple[str, str],
        path: str,
        check: Callable[[str | None], tuple[str, str] | None] = nvidia_pci_id,
    ) -> tuple[str, str] | None:
        found = read_field(self.gpu, path)
        if found.state is State.NOT_SUPPORTED:
            self.not_supported.update(names)
            return None
        if found.state is State.ABSENT or (found.text or "").upper() in ("00000000", "0X00000000"):
            return None  # 00000000: the driver has no id to show (no id, not a malformed one)
        parts = check(found.text)
        if parts is None:
            split = split_pci_id(found.text)
            if check is nvidia_pci_id:
                why = f"vendor {split[1]} is not 10DE" if split else "not an 8-hex-digit id"
                self.problem(f"{names[0]}/{names[1]}", f"{path} {found.text!r} is not an NVIDIA id ({why})")
            else:
                why = "no board maker's vendor id" if split else "not an 8-hex-digit id"
                self.problem(f"{names[0]}/{names[1]}", f"{path} {found.text!r} is not a subsystem id ({why})")
        return parts


def _gpu(index: int, gpu: Element, driver: str | None, cuda: str | None, errors: list[str]) -> VmGpu:
    reader = _Reader(gpu, index, errors)
    device = reader.pci_id(("pci_device", "pci_vendor"), "pci/pci_device_id")
    subsys = reader.pci_id(("subsys_device", "subsys_vendor"), "pci/pci_sub_system_id", subsystem_pci_id)
    bus_id = reader.text("bus_id", "pci/pci_bus_id") or gpu.get("id")
    if bus_id:
        reader.not_supported.discard("bus_id")
    result = VmGpu(
        index=index,
        name=reader.text("name", "product_name"),
        bus_id=bus_id.strip().upper() if bus_id and bus_id.strip() else None,
        pci_device=device[0] if device else None,
        pci_vendor=device[1] if device else None,
        subsys_device=subsys[0] if subsys else None,
        subsys_vendor=subsys[1] if subsys else None,
        uuid=reader.text("uuid", "uuid"),
        driver_version=driver,
        cuda_version=cuda,
        driver_model=reader.text("driver_model", "driver_model/current_dm"),
        memory_total_mib=reader.parsed(
            "memory_total_mib", lambda t: parse_int(t, "MiB"), "fb_memory_usage/total"
        ),
        pcie=_pcie(reader),
        ecc_enabled=reader.parsed("ecc_enabled", parse_bool, "ecc_mode/current_ecc"),
        ecc=_ecc(reader),
        memory_health=_memory_health(reader),
        clocks_event_reasons=_event_reasons(reader),
        temperature_c=reader.parsed("temperature_c", lambda t: parse_int(t, "C"), "temperature/gpu_temp"),
        power_draw_w=reader.parsed("power_draw_w", lambda t: parse_float(t, "W"), *_POWER_DRAW),
        power_limit_w=reader.parsed("power_limit_w", lambda t: parse_float(t, "W"), *_POWER_LIMIT),
        virtualization_mode=reader.text("virtualization_mode", "gpu_virtualization_mode/virtualization_mode"),
        mig_mode=_mig_mode(reader),
        mig_memory_mib=_mig_memory(reader),
    )
    return _with_not_supported(result, reader.not_supported)


def _mig_mode(reader: _Reader) -> bool | None:
    """``mig_mode/current_mig``: Enabled/Disabled; ``N/A`` (no MIG on this GPU) is None, not a finding."""
    found = read_field(reader.gpu, "mig_mode/current_mig")
    return parse_bool(found.text) if found.state is State.VALUE else None


def _mig_memory(reader: _Reader) -> tuple[int, ...]:
    """Memory of each MIG device (``mig_devices/mig_device/fb_memory_usage/total``), in document order."""
    sizes = []
    for index, device in enumerate(reader.gpu.findall("mig_devices/mig_device")):
        found = read_field(device, "fb_memory_usage/total")
        size = parse_int(found.text, "MiB") if found.state is State.VALUE else None
        if size is None:
            reader.problem(f"mig_memory_mib[{index}]", f"fb_memory_usage/total reads {found.text!r}")
        else:
            sizes.append(size)
    return tuple(sizes)


def _with_not_supported(gpu: VmGpu, names: set[str]) -> VmGpu:
    """``gpu`` with ``names`` in ``not_supported``, plus each composite none of whose parts has a value."""
    return replace(gpu, not_supported=rollup_not_supported(gpu, names))


def rollup_not_supported(gpu: VmGpu, names: set[str] | frozenset[str]) -> frozenset[str]:
    """``names`` plus each composite (``pcie``, ``ecc``, ``memory_health``) whose parts are all None
    while at least one of them was reported as not supported. Used by both paths."""
    result = set(names)
    for composite in COMPOSITES:
        part = getattr(gpu, composite)
        if any(n.startswith(f"{composite}.") for n in names) and all(
            getattr(part, f.name) is None for f in fields(part)
        ):
            result.add(composite)
    return frozenset(result)


def _pcie(reader: _Reader) -> PcieLink:
    link = "pci/pci_gpu_link_info"
    return PcieLink(
        gen_max=reader.parsed("pcie.gen_max", parse_int, f"{link}/pcie_gen/max_link_gen"),
        width_max=reader.parsed(
            "pcie.width_max", lambda t: parse_int(t, "x"), f"{link}/link_widths/max_link_width"
        ),
        gen_current=reader.parsed("pcie.gen_current", parse_int, f"{link}/pcie_gen/current_link_gen"),
        width_current=reader.parsed(
            "pcie.width_current", lambda t: parse_int(t, "x"), f"{link}/link_widths/current_link_width"
        ),
    )


def _ecc(reader: _Reader) -> EccCounts:
    volatile = _ecc_period(reader, "volatile")
    aggregate = _ecc_period(reader, "aggregate")
    return EccCounts(
        volatile_corrected=volatile[0],
        volatile_uncorrected=volatile[1],
        aggregate_corrected=aggregate[0],
        aggregate_uncorrected=aggregate[1],
    )


def _ecc_period(reader: _Reader, period: str) -> tuple[int | None, int | None]:
    names = (f"ecc.{period}_corrected", f"ecc.{period}_uncorrected")
    node = reader.gpu.find(f"ecc_errors/{period}")
    if node is None or len(node) == 0:
        if read_field(reader.gpu, f"ecc_errors/{period}").state is State.NOT_SUPPORTED:
            reader.not_supported.update(names)
        return None, None
    if node.find("single_bit") is not None or node.find("double_bit") is not None:
        return (
            _old_layout_total(reader, node.find("single_bit"), names[0]),
            _old_layout_total(reader, node.find("double_bit"), names[1]),
        )
    tags = [child.tag for child in node]
    corrected = [child for child in node if child.tag.endswith("_correctable")]
    uncorrected = [
        child
        for child in node
        if "_uncorrectable" in child.tag and not any(t.startswith(f"{child.tag}_") for t in tags)
    ]
    return _sum_counters(reader, corrected, names[0]), _sum_counters(reader, uncorrected, names[1])


def _old_layout_total(reader: _Reader, block: Element | None, name: str) -> int | None:
    if block is None:
        return None
    total = block.find("total")
    if total is not None and classify_text(total.text).state is State.VALUE:
        return _sum_counters(reader, [total], name)
    return _sum_counters(reader, [child for child in block if child.tag != "total"], name)


def _sum_counters(reader: _Reader, counters: list[Element], name: str) -> int | None:
    """Sum of the readable counters; not supported when none is readable and one reads N/A."""
    total: int | None = None
    unsupported = False
    for counter in counters:
        found = classify_text(counter.text)
        number = parse_int(found.text) if found.state is State.VALUE else None
        if number is not None:
            total = (total or 0) + number
        elif found.state is State.NOT_SUPPORTED:
            unsupported = True
        elif found.state is not State.ABSENT:
            reader.problem(name, f"{counter.tag} reads {found.text!r}")
    if total is None and unsupported:
        reader.not_supported.add(name)
    return total


def _memory_health(reader: _Reader) -> MemoryHealth:
    retired = "retired_pages"
    rows = "remapped_rows"
    return MemoryHealth(
        retired_pages_sbe=reader.parsed(
            "memory_health.retired_pages_sbe",
            parse_int,
            f"{retired}/multiple_single_bit_retirement/retired_count",
        ),
        retired_pages_dbe=reader.parsed(
            "memory_health.retired_pages_dbe", parse_int, f"{retired}/double_bit_retirement/retired_count"
        ),
        retired_pages_pending=reader.parsed(
            "memory_health.retired_pages_pending",
            parse_bool,
            f"{retired}/pending_retirement",
            f"{retired}/pending_blacklist",
        ),
        remapped_rows_correctable=reader.parsed(
            "memory_health.remapped_rows_correctable", parse_int, f"{rows}/remapped_row_corr"
        ),
        remapped_rows_uncorrectable=reader.parsed(
            "memory_health.remapped_rows_uncorrectable", parse_int, f"{rows}/remapped_row_unc"
        ),
        remapped_rows_pending=reader.parsed(
            "memory_health.remapped_rows_pending", parse_bool, f"{rows}/remapped_row_pending"
        ),
        remapped_rows_failure=reader.parsed(
            "memory_health.remapped_rows_failure", parse_bool, f"{rows}/remapped_row_failure"
        ),
    )


def _reason_name(suffix: str) -> str | None:
    for alias, name in _REASON_ALIASES:
        if suffix == alias:
            return name
    return suffix if suffix in CLOCKS_EVENT_REASONS else None


def _event_reasons(reader: _Reader) -> tuple[str, ...] | None:
    """Active clock event reasons, from ``clocks_event_reasons`` (R535+) or ``clocks_throttle_reasons``."""
    name = "clocks_event_reasons"
    for block, prefix in _REASON_BLOCKS:
        node = reader.gpu.find(block)
        if node is None:
            continue
        if len(node) == 0:
            reader.text(name, block)
            return None
        active: set[str] = set()
        readable = unsupported = False
        for child in node:
            reason = _reason_name(child.tag[len(prefix) :]) if child.tag.startswith(prefix) else None
            if reason is None:
                continue
            found = classify_text(child.text)
            flag = parse_bool(found.text) if found.state is State.VALUE else None
            if flag is not None:
                readable = True
                if flag:
                    active.add(reason)
            elif found.state is State.NOT_SUPPORTED:
                unsupported = True
            elif found.state is not State.ABSENT:
                reader.problem(name, f"{child.tag} reads {found.text!r}")
        if readable:
            return tuple(r for r in CLOCKS_EVENT_REASONS if r in active)
        if unsupported:
            reader.not_supported.add(name)
        return None
    return None
