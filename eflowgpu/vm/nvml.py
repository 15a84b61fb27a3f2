"""The live path: :class:`VmGpu` facts from NVML through ``nvidia-ml-py`` (imported as ``pynvml``).

The recorded path (:mod:`eflowgpu.vm.smi`) gives equal objects for the same GPU: same names in
``not_supported`` (dotted for the parts of ``pcie``/``ecc``/``memory_health``, plus the bare
composite when none of its parts has a value), same units (MiB, W, °C), same strings
(``Pass-Through``, ``WDDM``). An NVML query answered ``NotSupported`` (or ``FunctionNotFound``: an
older driver lacks the API) gives ``None`` and the field's name in ``not_supported``; any other
NVML error gives ``None`` and a line in :attr:`GpuReading.errors`. Nothing is lost when one query
fails.

Where the two paths may differ for the same GPU (documented, not hidden):

* ``memory_total_mib`` is read with ``nvmlDeviceGetMemoryInfo`` version 2, whose total includes
  the memory the driver reserves, which is what ``nvidia-smi`` prints (``15360 MiB`` on a T4).
  Drivers without version 2 fall back to version 1, whose total excludes the reserve (~15109 MiB).
* ``power_draw_w`` is ``nvmlDeviceGetPowerUsage``: instantaneous before Ampere, a one-second
  average on Ampere and newer; ``nvidia-smi`` prints the same value as ``power_draw`` (R535 and
  older) or ``average_power_draw`` (newer). Live readings of power and temperature differ from
  any recording anyway.
* ``driver_model`` is Windows' notion: Linux NVML answers NotSupported, as ``nvidia-smi`` prints
  ``N/A``; under GPU-PV the Windows driver answers ``WDDM`` on both paths.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pynvml

from eflowgpu.nvsmi import nvidia_pci_id, subsystem_pci_id
from eflowgpu.vm.model import EccCounts, MemoryHealth, PcieLink, VmGpu
from eflowgpu.vm.smi import GpuReading, rollup_not_supported

T = TypeVar("T")

LIBRARY = "libnvidia-ml.so.1"
"""The name ``pynvml`` loads on Linux (``ctypes.CDLL("libnvidia-ml.so.1")``)."""
WSL_LIB_DIR = "/usr/lib/wsl/lib"
"""Where GPU-PV maps the Windows driver's user-mode libraries into the VM."""
DEFAULT_SEARCH = ("", WSL_LIB_DIR)
"""``""`` is the dynamic loader's own search (ld.so.cache, LD_LIBRARY_PATH at start-up)."""

_NOT_SUPPORTED: int = pynvml.NVML_ERROR_NOT_SUPPORTED
_FUNCTION_NOT_FOUND: int = pynvml.NVML_ERROR_FUNCTION_NOT_FOUND
_VERSION_MISMATCH: int = pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH
_UNSUPPORTED = frozenset({_NOT_SUPPORTED, _FUNCTION_NOT_FOUND})
_TRY_NEXT = _UNSUPPORTED | {_VERSION_MISMATCH}
_ENABLED: int = pynvml.NVML_FEATURE_ENABLED
_MIB = 1024 * 1024

_EVENT_BITS: tuple[tuple[int, str], ...] = (
    (pynvml.nvmlClocksEventReasonGpuIdle, "gpu_idle"),
    (pynvml.nvmlClocksEventReasonApplicationsClocksSetting, "applications_clocks_setting"),
    (pynvml.nvmlClocksEventReasonSwPowerCap, "sw_power_cap"),
    (pynvml.nvmlClocksEventReasonHwSlowdown, "hw_slowdown"),
    (pynvml.nvmlClocksEventReasonSyncBoost, "sync_boost"),
    (pynvml.nvmlClocksEventReasonSwThermalSlowdown, "sw_thermal_slowdown"),
    (pynvml.nvmlClocksEventReasonHwThermalSlowdown, "hw_thermal_slowdown"),
    (pynvml.nvmlClocksEventReasonHwPowerBrakeSlowdown, "hw_power_brake_slowdown"),
    (pynvml.nvmlClocksEventReasonDisplayClockSetting, "display_clock_setting"),
)
_DRIVER_MODELS: tuple[tuple[int, str], ...] = (
    (pynvml.NVML_DRIVER_WDDM, "WDDM"),
    (pynvml.NVML_DRIVER_WDM, "TCC"),
    (pynvml.NVML_DRIVER_MCDM, "MCDM"),
)
_VIRTUALIZATION_MODES: tuple[tuple[int, str], ...] = (
    (pynvml.NVML_GPU_VIRTUALIZATION_MODE_NONE, "None"),
    (pynvml.NVML_GPU_VIRTUALIZATION_MODE_PASSTHROUGH, "Pass-Through"),
    (pynvml.NVML_GPU_VIRTUALIZATION_MODE_VGPU, "VGPU"),
    (pynvml.NVML_GPU_VIRTUALIZATION_MODE_HOST_VGPU, "Host VGPU"),
    (pynvml.NVML_GPU_VIRTUALIZATION_MODE_HOST_VSGA, "Host VSGA"),
)


class NvmlApi(Protocol):
    """The ``pynvml`` functions this module calls (the ``pynvml`` module itself satisfies it).

    Tests pass an object with the same names; errors must be ``pynvml.NVMLError`` instances.
    """

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlSystemGetDriverVersion(self) -> str | bytes: ...
    def nvmlSystemGetCudaDriverVersion_v2(self) -> int: ...
    def nvmlDeviceGetCount(self) -> int: ...
    def nvmlDeviceGetHandleByIndex(self, index: int, /) -> Any: ...
    def nvmlDeviceGetName(self, handle: Any, /) -> str | bytes: ...
    def nvmlDeviceGetPciInfo_v3(self, handle: Any, /) -> Any: ...
    def nvmlDeviceGetUUID(self, handle: Any, /) -> str | bytes: ...
    def nvmlDeviceGetMemoryInfo(self, handle: Any, version: int | None = None, /) -> Any: ...
    def nvmlDeviceGetMaxPcieLinkGeneration(self, handle: Any, /) -> int: ...
    def nvmlDeviceGetMaxPcieLinkWidth(self, handle: Any, /) -> int: ...
    def nvmlDeviceGetCurrPcieLinkGeneration(self, handle: Any, /) -> int: ...
    def nvmlDeviceGetCurrPcieLinkWidth(self, handle: Any, /) -> int: ...
    def nvmlDeviceGetDriverModel(self, handle: Any, /) -> Sequence[int]: ...
    def nvmlDeviceGetEccMode(self, handle: Any, /) -> Sequence[int]: ...
    def nvmlDeviceGetTotalEccErrors(self, handle: Any, error_type: int, counter_type: int, /) -> int: ...
    def nvmlDeviceGetRetiredPages(self, handle: Any, cause: int, /) -> Sequence[int]: ...
    def nvmlDeviceGetRetiredPagesPendingStatus(self, handle: Any, /) -> int: ...
    def nvmlDeviceGetRemappedRows(self, handle: Any, /) -> tuple[int, int, int, int]: ...
    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any, /) -> int: ...
    def nvmlDeviceGetTemperatureV(self, handle: Any, sensor: int, /) -> int: ...
    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int, /) -> int: ...
    def nvmlDeviceGetPowerUsage(self, handle: Any, /) -> int: ...
    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Any, /) -> int: ...
    def nvmlDeviceGetVirtualizationMode(self, handle: Any, /) -> int: ...


@dataclass(frozen=True)
class LoadError:
    """NVML cannot be used: its library is not in this machine (there is no NVIDIA driver to ask).

    :class:`InitError` (the library is there but ``nvmlInit`` fails) is a LoadError too, so a caller
    that only needs "NVML is unusable, here is why" checks ``isinstance(result, LoadError)``.
    """

    message: str
    searched: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class InitError(LoadError):
    """``nvmlInit`` failed: the driver does not answer (not loaded, library missing, no permission…).

    ``error`` is the pynvml class name (``NVMLError_DriverNotLoaded``), ``code`` NVML's return code.
    """

    error: str = ""
    code: int | None = None


def load_nvml(
    api: NvmlApi | None = None,
    *,
    search: Sequence[str] = DEFAULT_SEARCH,
    opener: Callable[[str], object] | None = None,
) -> NvmlApi | LoadError:
    """The NVML binding to use, with its library found; :class:`LoadError` when there is none.

    ``api`` given (a test double) is returned as it is. Otherwise the binding is the ``pynvml``
    module of nvidia-ml-py, whose ``nvmlInit`` loads ``ctypes.CDLL("libnvidia-ml.so.1")`` by name
    only; nvidia-ml-py has no documented way to load it from a path (its ``_LoadNvmlLibrary``
    hard-codes the name, and setting its ``nvmlLib`` global would be poking at private state).
    So each place in ``search`` is tried in turn with ``opener`` (``ctypes.CDLL``): ``""`` is the
    loader's own search, a folder means ``<folder>/libnvidia-ml.so.1`` by full path. Once a library
    with the soname ``libnvidia-ml.so.1`` is loaded into the process, the dynamic loader answers
    pynvml's later ``CDLL("libnvidia-ml.so.1")`` with that same library (glibc matches loaded
    objects by soname), so GPU-PV's ``/usr/lib/wsl/lib`` copy is used without touching pynvml and
    without ``LD_LIBRARY_PATH`` (which the loader reads only at process start). On Windows pynvml
    finds ``nvml.dll`` itself and nothing is searched.

    A missing library is a :class:`LoadError`, never an exception.
    """
    if api is not None:
        return api
    module: NvmlApi = pynvml
    if sys.platform.startswith("win") or getattr(pynvml, "nvmlLib", None) is not None:
        return module
    open_library: Callable[[str], object] = opener if opener is not None else ctypes.CDLL
    looked: list[str] = []
    for place in search:
        target = str(Path(place) / LIBRARY) if place else LIBRARY
        try:
            open_library(target)
        except OSError:
            looked.append(place or "the system library path")
            continue
        return module
    where = ", ".join(looked) or "nowhere"
    return LoadError(f"NVML not found: no NVIDIA driver in this machine (looked in {where})", tuple(looked))


def read_gpus(api: NvmlApi) -> GpuReading | InitError:
    """Initialise NVML, read every GPU, shut NVML down (always, once initialised).

    Returns :class:`InitError` (a :class:`LoadError`) when ``nvmlInit`` fails
    (``NVMLError_DriverNotLoaded``, ``NVMLError_LibraryNotFound``…): the caller reports "the driver
    does not answer". Otherwise a :class:`~eflowgpu.vm.smi.GpuReading`, which unpacks as
    ``driver, cuda, gpus = reading`` like :func:`~eflowgpu.vm.smi.gpus_from_smi`'s tuple and whose
    ``errors`` lists every query that failed for a reason
    other than "not supported" (``gpu 0: nvmlDeviceGetTemperatureV: Unknown Error
    (NVMLError_Unknown)``), including a failing ``nvmlShutdown``. CUDA's version is printed as
    ``nvidia-smi`` does (12020 → ``12.2``).
    """
    try:
        api.nvmlInit()
    except pynvml.NVMLError as exc:
        return _init_error(exc)
    errors: list[str] = []
    driver: str | None = None
    cuda: str | None = None
    gpus: list[VmGpu] = []
    try:
        driver = _system(
            errors, "nvmlSystemGetDriverVersion", lambda: _text(api.nvmlSystemGetDriverVersion())
        )
        cuda = _system(
            errors,
            "nvmlSystemGetCudaDriverVersion_v2",
            lambda: cuda_version(api.nvmlSystemGetCudaDriverVersion_v2()),
        )
        count = _system(errors, "nvmlDeviceGetCount", lambda: int(api.nvmlDeviceGetCount()))
        for index in range(count or 0):
            gpus.append(_read_device(api, index, driver, cuda, errors))
    finally:
        try:
            api.nvmlShutdown()
        except pynvml.NVMLError as exc:
            errors.append(f"nvmlShutdown: {_describe(exc)}")
    return GpuReading(driver, cuda, tuple(gpus), tuple(errors))


def read_live(search: Sequence[str] = DEFAULT_SEARCH) -> GpuReading | LoadError:
    """:func:`load_nvml` then :func:`read_gpus` with the real binding; never raises for a missing driver."""
    api = load_nvml(search=search)
    return api if isinstance(api, LoadError) else read_gpus(api)


def cuda_version(number: int) -> str | None:
    """NVML's CUDA driver version as ``nvidia-smi`` prints it: 12020 → ``12.2``, 11060 → ``11.6``."""
    if number <= 0:
        return None
    return f"{number // 1000}.{(number % 1000) // 10}"


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "value", None)
    return code if isinstance(code, int) else None


def _describe(exc: BaseException) -> str:
    return f"{exc} ({type(exc).__name__})"


def _init_error(exc: BaseException) -> InitError:
    code = _code(exc)
    if code == pynvml.NVML_ERROR_LIBRARY_NOT_FOUND:
        message = f"NVML not found: nvmlInit could not load {LIBRARY} ({_describe(exc)})"
    else:
        message = f"the NVIDIA driver does not answer: nvmlInit failed: {_describe(exc)}"
    return InitError(message, error=type(exc).__name__, code=code)


def _system(errors: list[str], function: str, call: Callable[[], T]) -> T | None:
    try:
        return call()
    except pynvml.NVMLError as exc:
        if _code(exc) not in _UNSUPPORTED:
            errors.append(f"{function}: {_describe(exc)}")
        return None


def _text(raw: object) -> str | None:
    """A pynvml string: ``str`` (nvidia-ml-py ≥ 11.515) or ``bytes`` (older bindings, struct fields)."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str):
        return None
    text = raw.strip("\x00").strip()
    return text or None


def _lookup(table: tuple[tuple[int, str], ...], number: int) -> str | None:
    for key, name in table:
        if key == number:
            return name
    return None


@dataclass
class _Device:
    """Queries of one device, collecting not-supported names and error lines."""

    api: NvmlApi
    index: int
    handle: Any
    errors: list[str]
    not_supported: set[str] = field(default_factory=set)

    def ask(self, names: str | tuple[str, ...], *attempts: tuple[str, Callable[[], T]]) -> T | None:
        """The first attempt that answers; the next is tried when one is unsupported or unknown.

        All unsupported → ``names`` are not supported; another error → recorded, None.
        """
        for number, (function, call) in enumerate(attempts, start=1):
            try:
                return call()
            except pynvml.NVMLError as exc:
                code = _code(exc)
                if number < len(attempts) and code in _TRY_NEXT:
                    continue
                if code in _UNSUPPORTED:
                    self.not_supported.update((names,) if isinstance(names, str) else names)
                else:
                    self.errors.append(f"gpu {self.index}: {function}: {_describe(exc)}")
                return None
        return None


def _read_device(api: NvmlApi, index: int, driver: str | None, cuda: str | None, errors: list[str]) -> VmGpu:
    try:
        handle = api.nvmlDeviceGetHandleByIndex(index)
    except pynvml.NVMLError as exc:
        errors.append(f"gpu {index}: nvmlDeviceGetHandleByIndex: {_describe(exc)}")
        return VmGpu(index=index, driver_version=driver, cuda_version=cuda)
    dev = _Device(api, index, handle, errors)
    h = handle
    pci = dev.ask(
        ("bus_id", "pci_device", "pci_vendor", "subsys_device", "subsys_vendor"),
        ("nvmlDeviceGetPciInfo_v3", lambda: api.nvmlDeviceGetPciInfo_v3(h)),
    )
    device = _pci_id(dev, "pciDeviceId", pci)
    subsys = _pci_id(dev, "pciSubSystemId", pci, subsystem_pci_id)
    bus_id = _text(getattr(pci, "busId", None)) or _text(getattr(pci, "busIdLegacy", None))
    memory = dev.ask(
        "memory_total_mib",
        ("nvmlDeviceGetMemoryInfo(v2)", lambda: api.nvmlDeviceGetMemoryInfo(h, pynvml.nvmlMemory_v2)),
        ("nvmlDeviceGetMemoryInfo", lambda: api.nvmlDeviceGetMemoryInfo(h)),
    )
    driver_model = dev.ask(
        "driver_model", ("nvmlDeviceGetDriverModel", lambda: api.nvmlDeviceGetDriverModel(h))
    )
    ecc_mode = dev.ask("ecc_enabled", ("nvmlDeviceGetEccMode", lambda: api.nvmlDeviceGetEccMode(h)))
    reasons = dev.ask(
        "clocks_event_reasons",
        (
            "nvmlDeviceGetCurrentClocksEventReasons",
            lambda: int(api.nvmlDeviceGetCurrentClocksEventReasons(h)),
        ),
    )
    gpu_sensor: int = pynvml.NVML_TEMPERATURE_GPU
    power = dev.ask("power_draw_w", ("nvmlDeviceGetPowerUsage", lambda: int(api.nvmlDeviceGetPowerUsage(h))))
    limit = dev.ask(
        "power_limit_w",
        ("nvmlDeviceGetEnforcedPowerLimit", lambda: int(api.nvmlDeviceGetEnforcedPowerLimit(h))),
    )
    mode = dev.ask(
        "virtualization_mode",
        ("nvmlDeviceGetVirtualizationMode", lambda: int(api.nvmlDeviceGetVirtualizationMode(h))),
    )
    gpu = VmGpu(
        index=index,
        name=dev.ask("name", ("nvmlDeviceGetName", lambda: _text(api.nvmlDeviceGetName(h)))),
        bus_id=bus_id.upper() if bus_id else None,
        pci_device=device[0] if device else None,
        pci_vendor=device[1] if device else None,
        subsys_device=subsys[0] if subsys else None,
        subsys_vendor=subsys[1] if subsys else None,
        uuid=dev.ask("uuid", ("nvmlDeviceGetUUID", lambda: _text(api.nvmlDeviceGetUUID(h)))),
        driver_version=driver,
        cuda_version=cuda,
        driver_model=_named(dev, "driver_model", _DRIVER_MODELS, driver_model[0] if driver_model else None),
        memory_total_mib=int(memory.total) // _MIB if memory is not None else None,
        pcie=_pcie(dev),
        ecc_enabled=ecc_mode[0] == _ENABLED if ecc_mode else None,
        ecc=_ecc(dev),
        memory_health=_memory_health(dev),
        clocks_event_reasons=tuple(n for bit, n in _EVENT_BITS if reasons & bit)
        if reasons is not None
        else None,
        temperature_c=dev.ask(
            "temperature_c",
            ("nvmlDeviceGetTemperatureV", lambda: int(api.nvmlDeviceGetTemperatureV(h, gpu_sensor))),
            ("nvmlDeviceGetTemperature", lambda: int(api.nvmlDeviceGetTemperature(h, gpu_sensor))),
        ),
        power_draw_w=power / 1000 if power is not None else None,
        power_limit_w=limit / 1000 if limit is not None else None,
        virtualization_mode=_named(dev, "virtualization_mode", _VIRTUALIZATION_MODES, mode),
    )
    return replace(gpu, not_supported=rollup_not_supported(gpu, dev.not_supported))


def _pci_id(
    dev: _Device,
    attribute: str,
    pci: object,
    check: Callable[[str | None], tuple[str, str] | None] = nvidia_pci_id,
) -> tuple[str, str] | None:
    raw = getattr(pci, attribute, None) if pci is not None else None
    if not isinstance(raw, int):
        return None
    text = f"{raw & 0xFFFFFFFF:08X}"
    parts = check(text)
    if parts is None:
        what = "an NVIDIA id" if check is nvidia_pci_id else "a subsystem id"
        dev.errors.append(f"gpu {dev.index}: {attribute} {text} is not {what} (vendor {text[4:]})")
    return parts


def _named(dev: _Device, name: str, table: tuple[tuple[int, str], ...], number: int | None) -> str | None:
    if number is None:
        return None
    found = _lookup(table, number)
    if found is None:
        dev.errors.append(f"gpu {dev.index}: {name}: unknown value {number}")
    return found


def _pcie(dev: _Device) -> PcieLink:
    api, h = dev.api, dev.handle
    return PcieLink(
        gen_max=dev.ask(
            "pcie.gen_max",
            ("nvmlDeviceGetMaxPcieLinkGeneration", lambda: int(api.nvmlDeviceGetMaxPcieLinkGeneration(h))),
        ),
        width_max=dev.ask(
            "pcie.width_max",
            ("nvmlDeviceGetMaxPcieLinkWidth", lambda: int(api.nvmlDeviceGetMaxPcieLinkWidth(h))),
        ),
        gen_current=dev.ask(
            "pcie.gen_current",
            ("nvmlDeviceGetCurrPcieLinkGeneration", lambda: int(api.nvmlDeviceGetCurrPcieLinkGeneration(h))),
        ),
        width_current=dev.ask(
            "pcie.width_current",
            ("nvmlDeviceGetCurrPcieLinkWidth", lambda: int(api.nvmlDeviceGetCurrPcieLinkWidth(h))),
        ),
    )


def _ecc(dev: _Device) -> EccCounts:
    api, h = dev.api, dev.handle

    def count(name: str, error_type: int, counter: int) -> int | None:
        return dev.ask(
            f"ecc.{name}",
            (
                "nvmlDeviceGetTotalEccErrors",
                lambda: int(api.nvmlDeviceGetTotalEccErrors(h, error_type, counter)),
            ),
        )

    corrected: int = pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED
    uncorrected: int = pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED
    volatile: int = pynvml.NVML_VOLATILE_ECC
    aggregate: int = pynvml.NVML_AGGREGATE_ECC
    return EccCounts(
        volatile_corrected=count("volatile_corrected", corrected, volatile),
        volatile_uncorrected=count("volatile_uncorrected", uncorrected, volatile),
        aggregate_corrected=count("aggregate_corrected", corrected, aggregate),
        aggregate_uncorrected=count("aggregate_uncorrected", uncorrected, aggregate),
    )


def _memory_health(dev: _Device) -> MemoryHealth:
    api, h = dev.api, dev.handle
    sbe: int = pynvml.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS
    dbe: int = pynvml.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR
    pending = dev.ask(
        "memory_health.retired_pages_pending",
        (
            "nvmlDeviceGetRetiredPagesPendingStatus",
            lambda: int(api.nvmlDeviceGetRetiredPagesPendingStatus(h)),
        ),
    )
    rows = dev.ask(
        tuple(
            f"memory_health.remapped_rows_{part}"
            for part in ("correctable", "uncorrectable", "pending", "failure")
        ),
        ("nvmlDeviceGetRemappedRows", lambda: tuple(int(n) for n in api.nvmlDeviceGetRemappedRows(h))),
    )
    return MemoryHealth(
        retired_pages_sbe=dev.ask(
            "memory_health.retired_pages_sbe",
            ("nvmlDeviceGetRetiredPages", lambda: len(api.nvmlDeviceGetRetiredPages(h, sbe))),
        ),
        retired_pages_dbe=dev.ask(
            "memory_health.retired_pages_dbe",
            ("nvmlDeviceGetRetiredPages", lambda: len(api.nvmlDeviceGetRetiredPages(h, dbe))),
        ),
        retired_pages_pending=pending == _ENABLED if pending is not None else None,
        remapped_rows_correctable=rows[0] if rows else None,
        remapped_rows_uncorrectable=rows[1] if rows else None,
        remapped_rows_pending=bool(rows[2]) if rows else None,
        remapped_rows_failure=bool(rows[3]) if rows else None,
    )
