"""NVML watch over a stress run: clocks-event reasons, ECC, retired pages, remapped rows, Xid events.

DCGM's runtime monitors during its stress tests (reference §1.5), through ``nvidia-ml-py``
(``pynvml``) as :mod:`eflowgpu.vm.nvml` loads it (:func:`~eflowgpu.vm.nvml.load_nvml` also finds
GPU-PV's ``/usr/lib/wsl/lib`` copy of the library):

* clocks-event reasons sampled during the run: hardware slowdown, software or hardware thermal
  slowdown and hardware power brake **fail** (DCGM's violation set); the software power cap does
  not (a T4 is always power-capped), it is recorded;
* volatile ECC counts (corrected and uncorrected), retired pages (SBE, DBE, pending) and remapped
  rows (uncorrectable, pending, failure), read before and after: any increase, or a pending
  retirement or remap appearing, **fails**;
* Xid critical-error events registered before the run and drained during and after it: any
  event **fails** (events only report Xids that happen after registration: new ones).

Any query NVML answers "not supported" (GPU-PV answers that for ECC and events; Windows has no
events) is named in :attr:`HealthVerdict.not_supported`, a stated skip, never a failure. NVML
missing altogether makes :func:`open_monitor` return the reason as a string (the whole NVML part
skipped). A GPU that NVML reports lost fails.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import pynvml

from eflowgpu.bench.results import Json
from eflowgpu.vm.nvml import LoadError, load_nvml

T = TypeVar("T")

_UNSUPPORTED = frozenset({pynvml.NVML_ERROR_NOT_SUPPORTED, pynvml.NVML_ERROR_FUNCTION_NOT_FOUND})
_TIMEOUT: int = pynvml.NVML_ERROR_TIMEOUT
_GPU_LOST: int = pynvml.NVML_ERROR_GPU_IS_LOST

FAILING_REASONS: tuple[tuple[int, str], ...] = (
    (pynvml.nvmlClocksEventReasonHwSlowdown, "hw_slowdown"),
    (pynvml.nvmlClocksEventReasonSwThermalSlowdown, "sw_thermal_slowdown"),
    (pynvml.nvmlClocksEventReasonHwThermalSlowdown, "hw_thermal_slowdown"),
    (pynvml.nvmlClocksEventReasonHwPowerBrakeSlowdown, "hw_power_brake_slowdown"),
)
"""Clocks-event reasons that fail a stress run (DCGM's set: 0x8, 0x20, 0x40, 0x80)."""
RECORDED_REASONS: tuple[tuple[int, str], ...] = (
    (pynvml.nvmlClocksEventReasonSwPowerCap, "sw_power_cap"),
    (pynvml.nvmlClocksEventReasonSyncBoost, "sync_boost"),
    (pynvml.nvmlClocksEventReasonApplicationsClocksSetting, "applications_clocks_setting"),
)
"""Reasons recorded without failing (the software power cap is normal under load)."""


class HealthApi(Protocol):
    """The ``pynvml`` functions the watch calls (the module satisfies it; tests pass a fake).

    Errors must be ``pynvml.NVMLError`` instances (``pynvml.NVMLError(code)`` makes the subclass).
    """

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlDeviceGetCount(self) -> int: ...
    def nvmlDeviceGetHandleByIndex(self, index: int, /) -> Any: ...
    def nvmlDeviceGetHandleByPciBusId(self, bus_id: str, /) -> Any: ...
    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any, /) -> int: ...
    def nvmlDeviceGetTotalEccErrors(self, handle: Any, error_type: int, counter_type: int, /) -> int: ...
    def nvmlDeviceGetRetiredPages(self, handle: Any, cause: int, /) -> Any: ...
    def nvmlDeviceGetRetiredPagesPendingStatus(self, handle: Any, /) -> int: ...
    def nvmlDeviceGetRemappedRows(self, handle: Any, /) -> tuple[int, int, int, int]: ...
    def nvmlDeviceGetTemperatureV(self, handle: Any, sensor: int, /) -> int: ...
    def nvmlDeviceGetPowerUsage(self, handle: Any, /) -> int: ...
    def nvmlEventSetCreate(self) -> Any: ...
    def nvmlDeviceRegisterEvents(self, handle: Any, event_types: int, event_set: Any, /) -> None: ...
    def nvmlEventSetWait_v2(self, event_set: Any, timeout_ms: int, /) -> Any: ...
    def nvmlEventSetFree(self, event_set: Any, /) -> None: ...


@dataclass(frozen=True)
class HealthReading:
    """Counters read before and after the run (``None``: not supported or not readable)."""

    ecc_corrected: int | None = None
    ecc_uncorrected: int | None = None
    retired_sbe: int | None = None
    retired_dbe: int | None = None
    retired_pending: bool | None = None
    remapped_uncorrectable: int | None = None
    remapped_pending: bool | None = None
    remapped_failure: bool | None = None


@dataclass(frozen=True)
class HealthVerdict:
    """What the watch found: ``failures`` (each fails the run), ``not_supported`` and ``errors`` (stated)."""

    failures: tuple[str, ...]
    not_supported: tuple[str, ...]
    errors: tuple[str, ...]
    reasons_seen: tuple[str, ...]
    xids: tuple[int, ...]
    max_temperature_c: int | None
    max_power_w: float | None
    polls: int
    before: HealthReading
    after: HealthReading

    def summary(self) -> dict[str, Json]:
        """A JSON-ready summary for a result's ``extra``."""
        return {
            "failures": list(self.failures),
            "not_supported": list(self.not_supported),
            "errors": list(self.errors),
            "clocks_event_reasons_seen": list(self.reasons_seen),
            "xids": list(self.xids),
            "max_temperature_c": self.max_temperature_c,
            "max_power_w": self.max_power_w,
            "polls": self.polls,
        }


@dataclass
class HealthMonitor:
    """An open NVML session on one device: :meth:`start`, :meth:`poll` during the run, :meth:`finish`."""

    api: HealthApi
    handle: Any
    match_note: str = ""
    _not_supported: set[str] = field(default_factory=set)
    _errors: list[str] = field(default_factory=list)
    _failures: list[str] = field(default_factory=list)
    _reasons: int = 0
    _xids: list[int] = field(default_factory=list)
    _max_temp: int | None = None
    _max_power_mw: int | None = None
    _polls: int = 0
    _events: Any = None
    _before: HealthReading = field(default_factory=HealthReading)

    def start(self) -> None:
        """Read the counters, register for Xid events and take a first poll (before the run)."""
        self._before = self._read()
        events = self._ask("xid_events", "nvmlEventSetCreate", self.api.nvmlEventSetCreate)
        if events is not None:

            def register() -> bool:
                self.api.nvmlDeviceRegisterEvents(self.handle, pynvml.nvmlEventTypeXidCriticalError, events)
                return True

            if self._ask("xid_events", "nvmlDeviceRegisterEvents", register):
                self._events = events
            else:
                self._free_events(events)
        self.poll()

    def poll(self) -> None:
        """Sample clocks-event reasons, temperature and power; drain Xid events (during the run)."""
        self._polls += 1
        h = self.handle
        reasons = self._ask(
            "clocks_event_reasons",
            "nvmlDeviceGetCurrentClocksEventReasons",
            lambda: int(self.api.nvmlDeviceGetCurrentClocksEventReasons(h)),
        )
        if reasons is not None:
            self._reasons |= reasons
        sensor: int = pynvml.NVML_TEMPERATURE_GPU
        temp = self._ask(
            "temperature",
            "nvmlDeviceGetTemperatureV",
            lambda: int(self.api.nvmlDeviceGetTemperatureV(h, sensor)),
        )
        if temp is not None:
            self._max_temp = temp if self._max_temp is None else max(self._max_temp, temp)
        power = self._ask(
            "power", "nvmlDeviceGetPowerUsage", lambda: int(self.api.nvmlDeviceGetPowerUsage(h))
        )
        if power is not None:
            self._max_power_mw = power if self._max_power_mw is None else max(self._max_power_mw, power)
        self._drain_events()

    def finish(self) -> HealthVerdict:
        """Poll once more, read the counters again, compare, shut NVML down; the verdict."""
        self.poll()
        after = self._read()
        before = self._before
        failures = list(self._failures)
        for bit, name in FAILING_REASONS:
            if self._reasons & bit:
                failures.append(f"clocks slowed down during the run: {name}")
        for name, was, now in (
            ("corrected ECC errors", before.ecc_corrected, after.ecc_corrected),
            ("uncorrected ECC errors", before.ecc_uncorrected, after.ecc_uncorrected),
            ("retired pages (single-bit ECC)", before.retired_sbe, after.retired_sbe),
            ("retired pages (double-bit ECC)", before.retired_dbe, after.retired_dbe),
            ("remapped rows (uncorrectable)", before.remapped_uncorrectable, after.remapped_uncorrectable),
        ):
            if was is not None and now is not None and now > was:
                failures.append(f"new {name} during the run: {was} -> {now}")
        for name, was_flag, now_flag in (
            ("page retirement pending", before.retired_pending, after.retired_pending),
            ("row remap pending", before.remapped_pending, after.remapped_pending),
            ("row remap failure", before.remapped_failure, after.remapped_failure),
        ):
            if now_flag and not was_flag:
                failures.append(f"{name} appeared during the run")
        failures.extend(f"Xid {xid} during the run" for xid in self._xids)
        self.close()
        seen = tuple(name for bit, name in FAILING_REASONS + RECORDED_REASONS if self._reasons & bit)
        return HealthVerdict(
            failures=tuple(failures),
            not_supported=tuple(sorted(self._not_supported)),
            errors=tuple(self._errors),
            reasons_seen=seen,
            xids=tuple(self._xids),
            max_temperature_c=self._max_temp,
            max_power_w=self._max_power_mw / 1000 if self._max_power_mw is not None else None,
            polls=self._polls,
            before=before,
            after=after,
        )

    def close(self) -> None:
        """Free the event set and shut NVML down (errors recorded, never raised)."""
        if self._events is not None:
            self._free_events(self._events)
            self._events = None
        try:
            self.api.nvmlShutdown()
        except pynvml.NVMLError as exc:
            self._errors.append(f"nvmlShutdown: {_describe(exc)}")

    def _free_events(self, events: Any) -> None:
        try:
            self.api.nvmlEventSetFree(events)
        except pynvml.NVMLError as exc:
            self._errors.append(f"nvmlEventSetFree: {_describe(exc)}")

    def _drain_events(self) -> None:
        if self._events is None:
            return
        while True:
            try:
                data = self.api.nvmlEventSetWait_v2(self._events, 0)
            except pynvml.NVMLError as exc:
                if _code(exc) != _TIMEOUT:  # Timeout: no event waiting
                    self._note_error("nvmlEventSetWait_v2", exc)
                return
            self._xids.append(int(getattr(data, "eventData", -1)))

    def _read(self) -> HealthReading:
        api, h = self.api, self.handle
        volatile: int = pynvml.NVML_VOLATILE_ECC

        def ecc(error_type: int) -> int | None:
            return self._ask(
                "ecc",
                "nvmlDeviceGetTotalEccErrors",
                lambda: int(api.nvmlDeviceGetTotalEccErrors(h, error_type, volatile)),
            )

        def retired(cause: int) -> int | None:
            return self._ask(
                "retired_pages",
                "nvmlDeviceGetRetiredPages",
                lambda: len(api.nvmlDeviceGetRetiredPages(h, cause)),
            )

        pending = self._ask(
            "retired_pages",
            "nvmlDeviceGetRetiredPagesPendingStatus",
            lambda: int(api.nvmlDeviceGetRetiredPagesPendingStatus(h)),
        )
        rows = self._ask(
            "remapped_rows",
            "nvmlDeviceGetRemappedRows",
            lambda: tuple(int(n) for n in api.nvmlDeviceGetRemappedRows(h)),
        )
        return HealthReading(
            ecc_corrected=ecc(pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED),
            ecc_uncorrected=ecc(pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED),
            retired_sbe=retired(pynvml.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS),
            retired_dbe=retired(pynvml.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR),
            retired_pending=pending == pynvml.NVML_FEATURE_ENABLED if pending is not None else None,
            remapped_uncorrectable=rows[1] if rows else None,
            remapped_pending=bool(rows[2]) if rows else None,
            remapped_failure=bool(rows[3]) if rows else None,
        )

    def _ask(self, name: str, function: str, call: Callable[[], T]) -> T | None:
        try:
            return call()
        except pynvml.NVMLError as exc:
            if _code(exc) in _UNSUPPORTED:
                self._not_supported.add(name)
            else:
                self._note_error(function, exc)
            return None

    def _note_error(self, function: str, exc: BaseException) -> None:
        if _code(exc) == _GPU_LOST:
            message = f"NVML reports the GPU lost ({function})"
            if message not in self._failures:
                self._failures.append(message)
        else:
            self._errors.append(f"{function}: {_describe(exc)}")


def open_monitor(pci_bus_id: str | None, api: HealthApi | None = None) -> HealthMonitor | str:
    """An initialised :class:`HealthMonitor` for the GPU at ``pci_bus_id``, or why there is none.

    ``api`` is the binding to use (tests pass a fake); ``None`` loads ``pynvml`` through
    :func:`eflowgpu.vm.nvml.load_nvml`. The device is found by PCI bus id; when that fails and
    NVML sees exactly one GPU, that one is used (GPU-PV may not expose the guest's PCI location to
    NVML), which the monitor's ``match_note`` states. The returned string is a skip reason.
    """
    if api is None:
        loaded = load_nvml()
        if isinstance(loaded, LoadError):
            return str(loaded)
        module: HealthApi = pynvml
        api = module
    try:
        api.nvmlInit()
    except pynvml.NVMLError as exc:
        return f"NVML does not answer: nvmlInit failed: {_describe(exc)}"
    try:
        if pci_bus_id:
            try:
                return HealthMonitor(api, api.nvmlDeviceGetHandleByPciBusId(pci_bus_id))
            except pynvml.NVMLError:
                pass
        if int(api.nvmlDeviceGetCount()) == 1:
            note = f"NVML device 0 (the only one; bus id {pci_bus_id or 'unknown'} not found by NVML)"
            return HealthMonitor(api, api.nvmlDeviceGetHandleByIndex(0), note)
    except pynvml.NVMLError as exc:
        _shutdown_quietly(api)
        return f"NVML cannot find the device: {_describe(exc)}"
    _shutdown_quietly(api)
    return f"NVML cannot tell which device is the CUDA device at {pci_bus_id}"


def _shutdown_quietly(api: HealthApi) -> None:
    with contextlib.suppress(pynvml.NVMLError):
        api.nvmlShutdown()


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "value", None)
    return code if isinstance(code, int) else None


def _describe(exc: BaseException) -> str:
    return f"{exc} ({type(exc).__name__})"
