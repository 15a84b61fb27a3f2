"""The NVML watch of the stress benchmark, against a fake NVML: what fails, what is only stated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pynvml
import pytest

from eflowgpu.bench.health import HealthMonitor, open_monitor

NOT_SUPPORTED = pynvml.NVML_ERROR_NOT_SUPPORTED


@dataclass
class FakeNvml:
    """Counters that change between the first and second read; reasons per poll; optional Xids."""

    reasons: list[int] = field(default_factory=lambda: [0])
    ecc: tuple[int, int] = (0, 0)
    ecc_after: tuple[int, int] | None = None
    unsupported: set[str] = field(default_factory=set)
    xids: list[int] = field(default_factory=list)
    init_error: int | None = None
    reads: int = 0
    polls: int = 0
    shut_down: bool = False

    def _check(self, name: str) -> None:
        if name in self.unsupported:
            raise pynvml.NVMLError(NOT_SUPPORTED)

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)

    def nvmlShutdown(self) -> None:
        self.shut_down = True

    def nvmlDeviceGetCount(self) -> int:
        return 1

    def nvmlDeviceGetHandleByIndex(self, index: int, /) -> Any:
        return f"gpu{index}"

    def nvmlDeviceGetHandleByPciBusId(self, bus_id: str, /) -> Any:
        return "gpu0"

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any, /) -> int:
        self._check("reasons")
        value = self.reasons[min(self.polls, len(self.reasons) - 1)]
        self.polls += 1
        return value

    def nvmlDeviceGetTotalEccErrors(self, handle: Any, error_type: int, counter_type: int, /) -> int:
        self._check("ecc")
        if error_type == pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED:
            self.reads += 1  # one read of the counters = one call for corrected errors
        counts = self.ecc if self.reads <= 1 or self.ecc_after is None else self.ecc_after
        return counts[0] if error_type == pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED else counts[1]

    def nvmlDeviceGetRetiredPages(self, handle: Any, cause: int, /) -> Any:
        self._check("retired")
        return []

    def nvmlDeviceGetRetiredPagesPendingStatus(self, handle: Any, /) -> int:
        self._check("retired")
        return 0

    def nvmlDeviceGetRemappedRows(self, handle: Any, /) -> tuple[int, int, int, int]:
        self._check("remapped")
        return (0, 0, 0, 0)

    def nvmlDeviceGetTemperatureV(self, handle: Any, sensor: int, /) -> int:
        return 70

    def nvmlDeviceGetPowerUsage(self, handle: Any, /) -> int:
        return 65_000

    def nvmlEventSetCreate(self) -> Any:
        self._check("events")
        return "set"

    def nvmlDeviceRegisterEvents(self, handle: Any, event_types: int, event_set: Any, /) -> None:
        self._check("events")

    def nvmlEventSetWait_v2(self, event_set: Any, timeout_ms: int, /) -> Any:
        if self.xids:
            return type("Event", (), {"eventData": self.xids.pop(0)})()
        raise pynvml.NVMLError(pynvml.NVML_ERROR_TIMEOUT)

    def nvmlEventSetFree(self, event_set: Any, /) -> None:
        pass


def watch(fake: FakeNvml, polls: int = 2) -> Any:
    monitor = open_monitor("00000000:01:00.0", fake)
    assert isinstance(monitor, HealthMonitor)
    monitor.start()
    for _ in range(polls):
        monitor.poll()
    return monitor.finish()


def test_a_healthy_run_has_no_failures() -> None:
    fake = FakeNvml(reasons=[pynvml.nvmlClocksEventReasonSwPowerCap])
    verdict = watch(fake)
    assert verdict.failures == ()
    assert verdict.reasons_seen == ("sw_power_cap",)  # recorded, not failed
    assert verdict.max_temperature_c == 70 and verdict.max_power_w == 65.0
    assert fake.shut_down


@pytest.mark.parametrize(
    ("bit", "name"),
    [
        (pynvml.nvmlClocksEventReasonHwSlowdown, "hw_slowdown"),
        (pynvml.nvmlClocksEventReasonSwThermalSlowdown, "sw_thermal_slowdown"),
        (pynvml.nvmlClocksEventReasonHwThermalSlowdown, "hw_thermal_slowdown"),
        (pynvml.nvmlClocksEventReasonHwPowerBrakeSlowdown, "hw_power_brake_slowdown"),
    ],
)
def test_hardware_and_thermal_slowdowns_fail(bit: int, name: str) -> None:
    verdict = watch(FakeNvml(reasons=[0, bit, 0]))
    assert verdict.failures == (f"clocks slowed down during the run: {name}",)


def test_new_ecc_errors_and_xids_fail() -> None:
    verdict = watch(FakeNvml(ecc=(2, 0), ecc_after=(3, 1), xids=[79]))
    assert "new corrected ECC errors during the run: 2 -> 3" in verdict.failures
    assert "new uncorrected ECC errors during the run: 0 -> 1" in verdict.failures
    assert "Xid 79 during the run" in verdict.failures


def test_unsupported_queries_are_stated_not_failed() -> None:
    verdict = watch(FakeNvml(unsupported={"ecc", "retired", "remapped", "events", "reasons"}))
    assert verdict.failures == ()
    expected = ("clocks_event_reasons", "ecc", "remapped_rows", "retired_pages", "xid_events")
    assert verdict.not_supported == expected


def test_nvml_that_does_not_answer_is_a_skip_reason() -> None:
    reason = open_monitor(None, FakeNvml(init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED))
    assert isinstance(reason, str)
    assert reason.startswith("NVML does not answer: nvmlInit failed")
