"""The live path: VmGpu facts from NVML, checked against the recorded path for the same GPUs.

``FakeNvml`` answers the pynvml functions from data (one dict per device) and raises real
``pynvml.NVMLError`` instances, as nvidia-ml-py does. A last test runs the real ``pynvml`` module
against a stub ``libnvidia-ml.so.1`` compiled here and found in a WSL-like folder.

Fields only one path can know, for the record: none differ for the T4 and RTX 3080 below. For an old
driver the paths legitimately differ in ``clocks_event_reasons`` (nvidia-smi of R510 prints throttle
reasons; NVML lacks ``nvmlDeviceGetCurrentClocksEventReasons`` there and the deprecated throttle call
is not used) and in ``memory_total_mib`` (without ``nvmlDeviceGetMemoryInfo_v2`` the reserve is not
counted).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pynvml
import pytest

from eflowgpu.vm.model import VmGpu
from eflowgpu.vm.nvml import (
    LIBRARY,
    WSL_LIB_DIR,
    InitError,
    LoadError,
    cuda_version,
    load_nvml,
    read_gpus,
)
from eflowgpu.vm.smi import CLOCKS_EVENT_REASONS, GpuReading, gpus_from_smi

from helpers import PROJECT

DATA = Path(__file__).resolve().parent / "data" / "nvidia_smi"
MIB = 1024 * 1024
CORRECTED = pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED
UNCORRECTED = pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED
VOLATILE = pynvml.NVML_VOLATILE_ECC
AGGREGATE = pynvml.NVML_AGGREGATE_ECC
SBE = pynvml.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS
DBE = pynvml.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR


@dataclass(frozen=True)
class Fails:
    """A data value meaning: this query raises ``pynvml.NVMLError(code)``."""

    code: int


NOT_SUPPORTED = Fails(pynvml.NVML_ERROR_NOT_SUPPORTED)
FUNCTION_NOT_FOUND = Fails(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)


@dataclass(frozen=True)
class FakePciInfo:
    """The fields of pynvml's ``nvmlPciInfo_t`` that are read; char arrays come back as bytes."""

    busIdLegacy: bytes
    busId: bytes
    pciDeviceId: int
    pciSubSystemId: int


@dataclass(frozen=True)
class FakeMemory:
    """``c_nvmlMemory_t`` / ``c_nvmlMemory_v2_t``: bytes."""

    total: int
    used: int = 0
    free: int = 0


class FakeNvml:
    """The pynvml functions :mod:`eflowgpu.vm.nvml` calls, answered from one dict per device.

    A device dict maps a function name to its answer; a function taking more arguments than the
    handle maps to a dict keyed by those arguments. A missing name or a :class:`Fails` raises
    ``pynvml.NVMLError`` (missing: NotSupported, as most queries answer under GPU-PV). A callable
    is called (to raise something else). ``nvmlDeviceGetMemoryInfo`` with ``nvmlMemory_v2`` reads
    the key ``nvmlDeviceGetMemoryInfo_v2``.
    """

    def __init__(
        self,
        devices: list[dict[str, Any]],
        *,
        driver: str | bytes = "535.104.05",
        cuda: int = 12020,
        init: Fails | None = None,
        shutdown: Fails | None = None,
        count: int | Fails | None = None,
    ) -> None:
        self.devices = devices
        self.system: dict[str, Any] = {
            "nvmlSystemGetDriverVersion": driver,
            "nvmlSystemGetCudaDriverVersion_v2": cuda,
            "nvmlDeviceGetCount": len(devices) if count is None else count,
        }
        self.init_failure = init
        self.shutdown_failure = shutdown
        self.calls: list[str] = []

    @staticmethod
    def _give(answer: Any) -> Any:
        if isinstance(answer, Fails):
            raise pynvml.NVMLError(answer.code)
        if callable(answer):
            return answer()
        return answer

    def _device(self, name: str, handle: int, *args: int) -> Any:
        self.calls.append(name)
        answer = self.devices[handle].get(name, NOT_SUPPORTED)
        if args and isinstance(answer, dict):
            answer = answer[args]
        return self._give(answer)

    def _system(self, name: str) -> Any:
        self.calls.append(name)
        return self._give(self.system[name])

    def nvmlInit(self) -> None:
        self.calls.append("nvmlInit")
        if self.init_failure is not None:
            raise pynvml.NVMLError(self.init_failure.code)

    def nvmlShutdown(self) -> None:
        self.calls.append("nvmlShutdown")
        if self.shutdown_failure is not None:
            raise pynvml.NVMLError(self.shutdown_failure.code)

    def nvmlSystemGetDriverVersion(self) -> str | bytes:
        return self._system("nvmlSystemGetDriverVersion")  # type: ignore[no-any-return]

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        return self._system("nvmlSystemGetCudaDriverVersion_v2")  # type: ignore[no-any-return]

    def nvmlDeviceGetCount(self) -> int:
        return self._system("nvmlDeviceGetCount")  # type: ignore[no-any-return]

    def nvmlDeviceGetHandleByIndex(self, index: int, /) -> Any:
        self.calls.append("nvmlDeviceGetHandleByIndex")
        self._give(self.devices[index].get("handle", index))
        return index

    def nvmlDeviceGetName(self, handle: Any, /) -> str | bytes:
        return self._device("nvmlDeviceGetName", handle)  # type: ignore[no-any-return]

    def nvmlDeviceGetPciInfo_v3(self, handle: Any, /) -> Any:
        return self._device("nvmlDeviceGetPciInfo_v3", handle)

    def nvmlDeviceGetUUID(self, handle: Any, /) -> str | bytes:
        return self._device("nvmlDeviceGetUUID", handle)  # type: ignore[no-any-return]

    def nvmlDeviceGetMemoryInfo(self, handle: Any, version: int | None = None, /) -> Any:
        if version is None:
            return self._device("nvmlDeviceGetMemoryInfo", handle)
        if version != pynvml.nvmlMemory_v2:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH)
        return self._device("nvmlDeviceGetMemoryInfo_v2", handle)

    def nvmlDeviceGetMaxPcieLinkGeneration(self, handle: Any, /) -> int:
        return self._device("nvmlDeviceGetMaxPcieLinkGeneration", handle)  # type: ignore[no-any-return]

    def nvmlDeviceGetMaxPcieLinkWidth(self, handle: Any, /) -> int:
        return self._device("nvmlDeviceGetMaxPcieLinkWidth", handle)  # type: ignore[no-any-return]

    def nvmlDeviceGetCurrPcieLinkGeneration(self, handle: Any, /) -> int:
        return self._device("nvmlDeviceGetCurrPcieLinkGeneration", handle)  # type: ignore[no-any-return]

    def nvmlDeviceGetCurrPcieLinkWidth(self, handle: Any, /) -> int:
        return self._device("nvmlDeviceGetCurrPcieLinkWidth", handle)  # type: ignore[no-any-return]

    def nvmlDeviceGetDriverModel(self, handle: Any, /) -> list[int]:
        return self._device("nvmlDeviceGetDriverModel", handle)  # type: ignore[no-any-return]

    def nvmlDeviceGetEccMode(self, handle: Any, /) -> list[int]:
        return self._device("nvmlDeviceGetEccMode", handle)  # type: ignore[no-any-return]

    def nvmlDeviceGetTotalEccErrors(self, handle: Any, error_type: int, counter_type: int, /) -> int:
        return self._device("nvmlDeviceGetTotalEccErrors", handle, error_type, counter_type)  # type: ignore[no-any-return]

    def nvmlDeviceGetRetiredPages(self, handle: Any, cause: int, /) -> list[int]:
        return self._device("nvmlDeviceGetRetiredPages", handle, cause)  # type: ignore[no-any-return]

    def nvmlDeviceGetRetiredPagesPendingStatus(self, handle: Any, /) -> int:
        return self._device("nvmlDeviceGetRetiredPagesPendingStatus", handle)  # type: ignore[no-any-return]

    def nvmlDeviceGetRemappedRows(self, handle: Any, /) -> tuple[int, int, int, int]:
        return self._device("nvmlDeviceGetRemappedRows", handle)  # type: ignore[no-any-return]

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any, /) -> int:
        return self._device("nvmlDeviceGetCurrentClocksEventReasons", handle)  # type: ignore[no-any-return]

    def nvmlDeviceGetTemperatureV(self, handle: Any, sensor: int, /) -> int:
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return self._device("nvmlDeviceGetTemperatureV", handle)  # type: ignore[no-any-return]

    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int, /) -> int:
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return self._device("nvmlDeviceGetTemperature", handle)  # type: ignore[no-any-return]

    def nvmlDeviceGetPowerUsage(self, handle: Any, /) -> int:
        return self._device("nvmlDeviceGetPowerUsage", handle)  # type: ignore[no-any-return]

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Any, /) -> int:
        return self._device("nvmlDeviceGetEnforcedPowerLimit", handle)  # type: ignore[no-any-return]

    def nvmlDeviceGetVirtualizationMode(self, handle: Any, /) -> int:
        return self._device("nvmlDeviceGetVirtualizationMode", handle)  # type: ignore[no-any-return]


def t4_dda() -> dict[str, Any]:
    """What NVML answers for the Tesla T4 of tesla-t4_hyperv-dda_535.104.05.xml (Linux driver)."""
    return {
        "nvmlDeviceGetName": "Tesla T4",
        "nvmlDeviceGetPciInfo_v3": FakePciInfo(b"0001:00:00.0", b"00000001:00:00.0", 0x1EB810DE, 0x12A210DE),
        "nvmlDeviceGetUUID": "GPU-7c1e5f3a-2b9d-4e61-a0c8-5d2f9b3e4a17",
        "nvmlDeviceGetMemoryInfo_v2": FakeMemory(total=15360 * MIB, used=9830 * MIB, free=5272 * MIB),
        "nvmlDeviceGetMemoryInfo": FakeMemory(total=(15360 - 257) * MIB, used=9830 * MIB, free=5272 * MIB),
        "nvmlDeviceGetMaxPcieLinkGeneration": 3,
        "nvmlDeviceGetMaxPcieLinkWidth": 16,
        "nvmlDeviceGetCurrPcieLinkGeneration": 3,
        "nvmlDeviceGetCurrPcieLinkWidth": 16,
        "nvmlDeviceGetDriverModel": NOT_SUPPORTED,  # a Windows-only API
        "nvmlDeviceGetEccMode": [pynvml.NVML_FEATURE_ENABLED, pynvml.NVML_FEATURE_ENABLED],
        "nvmlDeviceGetTotalEccErrors": {
            (CORRECTED, VOLATILE): 0,
            (UNCORRECTED, VOLATILE): 0,
            (CORRECTED, AGGREGATE): 3,
            (UNCORRECTED, AGGREGATE): 0,
        },
        "nvmlDeviceGetRetiredPages": {(SBE,): [], (DBE,): []},
        "nvmlDeviceGetRetiredPagesPendingStatus": pynvml.NVML_FEATURE_DISABLED,
        "nvmlDeviceGetRemappedRows": NOT_SUPPORTED,  # Turing retires pages, it does not remap rows
        "nvmlDeviceGetCurrentClocksEventReasons": pynvml.nvmlClocksEventReasonSwPowerCap,
        "nvmlDeviceGetTemperatureV": 63,
        "nvmlDeviceGetTemperature": 63,
        "nvmlDeviceGetPowerUsage": 69870,
        "nvmlDeviceGetEnforcedPowerLimit": 70000,
        "nvmlDeviceGetVirtualizationMode": pynvml.NVML_GPU_VIRTUALIZATION_MODE_PASSTHROUGH,
    }


def rtx3080_gpupv() -> dict[str, Any]:
    """What the Windows driver's NVML answers under GPU-PV for the RTX 3080 of rtx-3080_wsl-gpupv_537.58.xml.

    Everything about ECC and memory health is NotSupported (left out: missing means NotSupported).
    """
    return {
        "nvmlDeviceGetName": "NVIDIA GeForce RTX 3080",
        "nvmlDeviceGetPciInfo_v3": FakePciInfo(b"0000:01:00.0", b"00000000:01:00.0", 0x220610DE, 0x38951462),
        "nvmlDeviceGetUUID": "GPU-4949b172-957c-5479-5dc3-12e0ea688389",
        "nvmlDeviceGetMemoryInfo_v2": FakeMemory(total=10240 * MIB),
        "nvmlDeviceGetMaxPcieLinkGeneration": 4,
        "nvmlDeviceGetMaxPcieLinkWidth": 16,
        "nvmlDeviceGetCurrPcieLinkGeneration": 4,
        "nvmlDeviceGetCurrPcieLinkWidth": 16,
        "nvmlDeviceGetDriverModel": [pynvml.NVML_DRIVER_WDDM, pynvml.NVML_DRIVER_WDDM],
        "nvmlDeviceGetCurrentClocksEventReasons": pynvml.nvmlClocksEventReasonGpuIdle,
        "nvmlDeviceGetTemperatureV": 38,
        "nvmlDeviceGetPowerUsage": 21340,
        "nvmlDeviceGetEnforcedPowerLimit": 320000,
        "nvmlDeviceGetVirtualizationMode": pynvml.NVML_GPU_VIRTUALIZATION_MODE_NONE,
    }


def smi_gpus(name: str) -> list[VmGpu]:
    return gpus_from_smi((DATA / name).read_text(encoding="utf-8"))[2]


def read(fake: FakeNvml) -> GpuReading:
    reading = read_gpus(fake)
    assert isinstance(reading, GpuReading), reading
    return reading


# --- both paths, one GPU -------------------------------------------------------------------------


def test_t4_dda_nvml_equals_the_recorded_xml() -> None:
    fake = FakeNvml([t4_dda()])
    reading = read(fake)
    assert reading == GpuReading("535.104.05", "12.2", tuple(smi_gpus("tesla-t4_hyperv-dda_535.104.05.xml")))
    assert fake.calls.count("nvmlShutdown") == 1 and fake.calls[-1] == "nvmlShutdown"


def test_rtx3080_gpupv_nvml_equals_the_recorded_xml() -> None:
    reading = read(FakeNvml([rtx3080_gpupv()], driver="537.58", cuda=12020))
    assert reading.gpus == tuple(smi_gpus("rtx-3080_wsl-gpupv_537.58.xml"))
    assert reading.errors == ()


def test_gpupv_with_an_old_driver_gives_none_and_not_supported_and_no_exception() -> None:
    device = {
        "nvmlDeviceGetName": b"NVIDIA GeForce GTX 1650 Ti with Max-Q Design",  # older bindings: bytes
        "nvmlDeviceGetPciInfo_v3": FakePciInfo(
            b"0000:01:00.0", b"00000000:01:00.0\x00", 0x00001F95, 0x1B0C1043
        ),
        "nvmlDeviceGetUUID": b"GPU-b5e386b4-3e71-5837-aca5-80c5914cf07f",
        "nvmlDeviceGetMemoryInfo_v2": FUNCTION_NOT_FOUND,  # falls back to version 1
        "nvmlDeviceGetMemoryInfo": FakeMemory(total=4096 * MIB),
        "nvmlDeviceGetMaxPcieLinkGeneration": 3,
        "nvmlDeviceGetMaxPcieLinkWidth": 16,
        "nvmlDeviceGetCurrPcieLinkGeneration": 3,
        "nvmlDeviceGetCurrPcieLinkWidth": 16,
        "nvmlDeviceGetDriverModel": [pynvml.NVML_DRIVER_WDDM, pynvml.NVML_DRIVER_WDDM],
        "nvmlDeviceGetCurrentClocksEventReasons": FUNCTION_NOT_FOUND,  # the API came with R535
        "nvmlDeviceGetTemperatureV": FUNCTION_NOT_FOUND,  # falls back to nvmlDeviceGetTemperature
        "nvmlDeviceGetTemperature": 46,
        "nvmlDeviceGetVirtualizationMode": pynvml.NVML_GPU_VIRTUALIZATION_MODE_NONE,
    }
    reading = read(FakeNvml([device], driver=b"510.06", cuda=11060))
    (recorded,) = smi_gpus("gtx-1650ti_wsl_510.06.xml")
    # the only difference: R510's nvidia-smi prints the (deprecated) throttle reasons
    assert reading.gpus == (
        replace(
            recorded,
            clocks_event_reasons=None,
            not_supported=recorded.not_supported | {"clocks_event_reasons"},
        ),
    )
    assert reading.errors == ("gpu 0: pciDeviceId 00001F95 is not an NVIDIA id (vendor 1F95)",)


def test_everything_not_supported() -> None:
    reading = read(FakeNvml([{}], driver="537.58"))
    (gpu,) = reading.gpus
    assert gpu == VmGpu(
        index=0, driver_version="537.58", cuda_version="12.2", not_supported=gpu.not_supported
    )
    assert gpu.not_supported == {
        "name",
        "bus_id",
        "pci_device",
        "pci_vendor",
        "subsys_device",
        "subsys_vendor",
        "uuid",
        "driver_model",
        "memory_total_mib",
        "pcie",
        "pcie.gen_max",
        "pcie.width_max",
        "pcie.gen_current",
        "pcie.width_current",
        "ecc_enabled",
        "ecc",
        "ecc.volatile_corrected",
        "ecc.volatile_uncorrected",
        "ecc.aggregate_corrected",
        "ecc.aggregate_uncorrected",
        "memory_health",
        "memory_health.retired_pages_sbe",
        "memory_health.retired_pages_dbe",
        "memory_health.retired_pages_pending",
        "memory_health.remapped_rows_correctable",
        "memory_health.remapped_rows_uncorrectable",
        "memory_health.remapped_rows_pending",
        "memory_health.remapped_rows_failure",
        "clocks_event_reasons",
        "temperature_c",
        "power_draw_w",
        "power_limit_w",
        "virtualization_mode",
    }
    assert reading.errors == ()


# --- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error", "words"),
    [
        (
            pynvml.NVML_ERROR_DRIVER_NOT_LOADED,
            "NVMLError_DriverNotLoaded",
            "the NVIDIA driver does not answer",
        ),
        (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "NVMLError_LibraryNotFound", "NVML not found"),
        (pynvml.NVML_ERROR_NO_PERMISSION, "NVMLError_NoPermission", "the NVIDIA driver does not answer"),
    ],
)
def test_init_failure_is_a_clear_result(code: int, error: str, words: str) -> None:
    fake = FakeNvml([t4_dda()], init=Fails(code))
    result = read_gpus(fake)
    assert isinstance(result, InitError)
    assert (result.error, result.code) == (error, code)
    assert str(result).startswith(words) and error in str(result)
    assert fake.calls == ["nvmlInit"]  # nothing else, and no shutdown of an NVML never initialised
    assert isinstance(result, LoadError)  # "NVML is unusable, here is why" for callers that need no more


def test_a_reading_unpacks_like_the_tuple_of_the_recorded_path() -> None:
    reading = read(FakeNvml([t4_dda() | {"nvmlDeviceGetTemperatureV": Fails(pynvml.NVML_ERROR_UNKNOWN)}]))
    driver, cuda, gpus = reading
    assert (driver, cuda, gpus) == reading.as_tuple() == ("535.104.05", "12.2", list(reading.gpus))
    assert len(reading.errors) == 1


def test_an_unexpected_error_is_recorded_and_the_other_fields_are_read() -> None:
    device = t4_dda() | {"nvmlDeviceGetTemperatureV": Fails(pynvml.NVML_ERROR_UNKNOWN)}
    reading = read(FakeNvml([device]))
    (recorded,) = smi_gpus("tesla-t4_hyperv-dda_535.104.05.xml")
    assert reading.gpus == (replace(recorded, temperature_c=None),)
    assert "temperature_c" not in reading.gpus[0].not_supported
    assert reading.errors == ("gpu 0: nvmlDeviceGetTemperatureV: Unknown Error (NVMLError_Unknown)",)


def test_a_lost_gpu_keeps_its_index_and_the_other_gpu_is_read() -> None:
    lost = {"handle": Fails(pynvml.NVML_ERROR_GPU_IS_LOST)}
    reading = read(FakeNvml([lost, t4_dda()]))
    (recorded,) = smi_gpus("tesla-t4_hyperv-dda_535.104.05.xml")
    assert reading.gpus == (
        VmGpu(index=0, driver_version="535.104.05", cuda_version="12.2"),
        replace(recorded, index=1),
    )
    assert reading.errors == ("gpu 0: nvmlDeviceGetHandleByIndex: GPU is lost (NVMLError_GpuIsLost)",)


def test_system_query_failures_are_recorded() -> None:
    fake = FakeNvml([t4_dda()], count=Fails(pynvml.NVML_ERROR_UNKNOWN), cuda=0)
    fake.system["nvmlSystemGetDriverVersion"] = Fails(pynvml.NVML_ERROR_TIMEOUT)
    reading = read(fake)
    assert reading == GpuReading(
        None,
        None,
        (),
        (
            "nvmlSystemGetDriverVersion: Timeout (NVMLError_Timeout)",
            "nvmlDeviceGetCount: Unknown Error (NVMLError_Unknown)",
        ),
    )
    assert fake.calls[-1] == "nvmlShutdown"


def test_shutdown_is_called_even_when_a_query_crashes() -> None:
    def crash() -> int:
        raise RuntimeError("binding bug")

    fake = FakeNvml([t4_dda() | {"nvmlDeviceGetPowerUsage": crash}])
    with pytest.raises(RuntimeError, match="binding bug"):
        read_gpus(fake)
    assert fake.calls.count("nvmlShutdown") == 1 and fake.calls[-1] == "nvmlShutdown"


def test_a_failing_shutdown_is_recorded() -> None:
    reading = read(FakeNvml([t4_dda()], shutdown=Fails(pynvml.NVML_ERROR_UNINITIALIZED)))
    assert reading.gpus == tuple(smi_gpus("tesla-t4_hyperv-dda_535.104.05.xml"))
    assert reading.errors == ("nvmlShutdown: Uninitialized (NVMLError_Uninitialized)",)


def test_unknown_enum_values_are_recorded() -> None:
    device = t4_dda() | {"nvmlDeviceGetVirtualizationMode": 9, "nvmlDeviceGetDriverModel": [7, 7]}
    reading = read(FakeNvml([device]))
    assert (reading.gpus[0].virtualization_mode, reading.gpus[0].driver_model) == (None, None)
    assert reading.errors == (
        "gpu 0: driver_model: unknown value 7",
        "gpu 0: virtualization_mode: unknown value 9",
    )


@pytest.mark.parametrize(
    ("mask", "names"),
    [
        (0, ()),
        (0x1, ("gpu_idle",)),
        (0x1FF, CLOCKS_EVENT_REASONS),
        (0x4 | 0x40 | 0x100, ("sw_power_cap", "hw_thermal_slowdown", "display_clock_setting")),
        (0x200, ()),  # a bit this version does not name
    ],
)
def test_clock_event_bits(mask: int, names: tuple[str, ...]) -> None:
    reading = read(FakeNvml([t4_dda() | {"nvmlDeviceGetCurrentClocksEventReasons": mask}]))
    assert reading.gpus[0].clocks_event_reasons == names


def test_remapped_rows_and_retired_pages() -> None:
    device = t4_dda() | {
        "nvmlDeviceGetRemappedRows": (1, 0, 1, 0),
        "nvmlDeviceGetRetiredPages": {(SBE,): [0x3E5F2A], (DBE,): [0x10, 0x20]},
        "nvmlDeviceGetRetiredPagesPendingStatus": pynvml.NVML_FEATURE_ENABLED,
    }
    (gpu,) = read(FakeNvml([device])).gpus
    assert (
        gpu.memory_health.retired_pages_sbe,
        gpu.memory_health.retired_pages_dbe,
        gpu.memory_health.retired_pages_pending,
        gpu.memory_health.remapped_rows_correctable,
        gpu.memory_health.remapped_rows_uncorrectable,
        gpu.memory_health.remapped_rows_pending,
        gpu.memory_health.remapped_rows_failure,
    ) == (1, 2, True, 1, 0, True, False)
    assert gpu.not_supported == {"driver_model"}


@pytest.mark.parametrize(
    ("number", "text"),
    [(12020, "12.2"), (11060, "11.6"), (12080, "12.8"), (13000, "13.0"), (10010, "10.1"), (0, None)],
)
def test_cuda_version(number: int, text: str | None) -> None:
    assert cuda_version(number) == text


def test_every_pynvml_name_used_exists_in_nvidia_ml_py() -> None:
    from eflowgpu.vm.nvml import NvmlApi

    names = [n for n in vars(NvmlApi) if n.startswith("nvml")]
    assert len(names) == 26
    assert [n for n in names if not callable(getattr(pynvml, n, None))] == []
    assert [n for n in names if not callable(getattr(FakeNvml, n, None))] == []
    assert "nvmlDeviceGetCurrentClocksThrottleReasons" not in names


# --- loading the library -------------------------------------------------------------------------


class Opener:
    """Stands in for ``ctypes.CDLL``: records the names asked for; only ``found`` loads."""

    def __init__(self, found: str | None) -> None:
        self.found = found
        self.asked: list[str] = []

    def __call__(self, name: str) -> object:
        self.asked.append(name)
        if name != self.found:
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")
        return object()


@pytest.fixture
def no_nvml_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """pynvml as in a fresh process (even on a machine where a test already loaded NVML)."""
    monkeypatch.setattr(pynvml, "nvmlLib", None)
    monkeypatch.setattr(sys, "platform", "linux")


def test_a_given_api_is_returned_as_is() -> None:
    fake = FakeNvml([])
    assert load_nvml(fake, opener=Opener(None)) is fake


@pytest.mark.usefixtures("no_nvml_loaded")
def test_the_system_library_is_used_first() -> None:
    opener = Opener(LIBRARY)
    assert load_nvml(opener=opener) is pynvml
    assert opener.asked == [LIBRARY]


@pytest.mark.usefixtures("no_nvml_loaded")
def test_the_wsl_library_is_used_when_the_system_has_none() -> None:
    opener = Opener(f"{WSL_LIB_DIR}/{LIBRARY}")
    assert load_nvml(opener=opener) is pynvml
    assert opener.asked == [LIBRARY, "/usr/lib/wsl/lib/libnvidia-ml.so.1"]


@pytest.mark.usefixtures("no_nvml_loaded")
def test_inside_the_packs_container_the_linker_finds_the_wsl_library() -> None:
    """GPU-PV in a --gpus container: NVIDIA's hook mounted libnvidia-ml.so.1 into the image's library
    folder (contract revision 2, loader_libs); /usr/lib/wsl/lib does not exist and is not needed."""
    opener = Opener(LIBRARY)
    assert load_nvml(opener=opener) is pynvml
    assert opener.asked == [LIBRARY]


@pytest.mark.usefixtures("no_nvml_loaded")
def test_no_library_is_a_clear_result() -> None:
    result = load_nvml(opener=Opener(None))
    assert result == LoadError(
        "NVML not found: no NVIDIA driver in this machine "
        "(looked in the system library path, /usr/lib/wsl/lib)",
        ("the system library path", "/usr/lib/wsl/lib"),
    )


@pytest.mark.usefixtures("no_nvml_loaded")
def test_real_ctypes_with_a_missing_and_a_broken_library(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / LIBRARY).write_bytes(b"not an ELF file")
    searched = (str(tmp_path / "missing"), str(tmp_path / "broken"))
    result = load_nvml(search=searched)
    assert isinstance(result, LoadError) and result.searched == searched


def test_an_nvml_already_loaded_is_not_searched_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pynvml, "nvmlLib", object())
    opener = Opener(None)
    assert load_nvml(opener=opener) is pynvml
    assert opener.asked == []


# --- the real pynvml against a stub library in a WSL-like folder ---------------------------------

STUB_NVML = r"""
#include <string.h>
typedef struct { char busIdLegacy[16]; unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
                 char busId[32]; } pci_t;
typedef struct { unsigned long long total, free, used; } mem1_t;
typedef struct { unsigned version; unsigned long long total, reserved, free, used; } mem2_t;
static int device0;
enum { OK = 0, NOT_SUPPORTED = 3, NOT_FOUND = 6, VERSION_MISMATCH = 25 };
int nvmlInitWithFlags(unsigned flags) { return OK; }
int nvmlShutdown(void) { return OK; }
const char *nvmlErrorString(int code) { return "stub error"; }
int nvmlSystemGetDriverVersion(char *s, unsigned n) { strncpy(s, "535.104.05", n); return OK; }
int nvmlSystemGetCudaDriverVersion_v2(int *v) { *v = 12020; return OK; }
int nvmlDeviceGetCount_v2(unsigned *n) { *n = 1; return OK; }
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **d) { if (i) return NOT_FOUND; *d = &device0; return OK; }
int nvmlDeviceGetName(void *d, char *s, unsigned n) { strncpy(s, "Tesla T4", n); return OK; }
int nvmlDeviceGetUUID(void *d, char *s, unsigned n) {
    strncpy(s, "GPU-7c1e5f3a-2b9d-4e61-a0c8-5d2f9b3e4a17", n); return OK; }
int nvmlDeviceGetPciInfo_v3(void *d, pci_t *p) {
    memset(p, 0, sizeof *p); strcpy(p->busIdLegacy, "0001:00:00.0"); strcpy(p->busId, "00000001:00:00.0");
    p->domain = 1; p->pciDeviceId = 0x1EB810DE; p->pciSubSystemId = 0x12A210DE; return OK; }
int nvmlDeviceGetMemoryInfo_v2(void *d, mem2_t *m) {
    if (m->version != 0x02000028) return VERSION_MISMATCH;
    m->total = 15360ULL << 20; m->reserved = 257ULL << 20; m->used = 9830ULL << 20; m->free = 5272ULL << 20;
    return OK; }
int nvmlDeviceGetMemoryInfo(void *d, mem1_t *m) { m->total = 15103ULL << 20; return OK; }
int nvmlDeviceGetMaxPcieLinkGeneration(void *d, unsigned *v) { *v = 3; return OK; }
int nvmlDeviceGetMaxPcieLinkWidth(void *d, unsigned *v) { *v = 16; return OK; }
int nvmlDeviceGetCurrPcieLinkGeneration(void *d, unsigned *v) { *v = 3; return OK; }
int nvmlDeviceGetCurrPcieLinkWidth(void *d, unsigned *v) { *v = 16; return OK; }
int nvmlDeviceGetDriverModel_v2(void *d, int *c, int *p) { return NOT_SUPPORTED; }
int nvmlDeviceGetEccMode(void *d, int *c, int *p) { *c = 1; *p = 1; return OK; }
int nvmlDeviceGetTotalEccErrors(void *d, int type, int counter, unsigned long long *n) {
    *n = (type == 0 && counter == 1) ? 3 : 0; return OK; }
int nvmlDeviceGetRetiredPages(void *d, int cause, unsigned *n, unsigned long long *pages) {
    *n = 0; return OK; }
int nvmlDeviceGetRetiredPagesPendingStatus(void *d, int *p) { *p = 0; return OK; }
int nvmlDeviceGetRemappedRows(void *d, unsigned *a, unsigned *b, unsigned *c, unsigned *e) {
    return NOT_SUPPORTED; }
int nvmlDeviceGetCurrentClocksEventReasons(void *d, unsigned long long *r) { *r = 0x4; return OK; }
/* no nvmlDeviceGetTemperatureV: pynvml answers FunctionNotFound and the reader falls back */
int nvmlDeviceGetTemperature(void *d, int sensor, unsigned *t) { *t = sensor == 0 ? 63 : 0; return OK; }
int nvmlDeviceGetPowerUsage(void *d, unsigned *p) { *p = 69870; return OK; }
int nvmlDeviceGetEnforcedPowerLimit(void *d, unsigned *p) { *p = 70000; return OK; }
int nvmlDeviceGetVirtualizationMode(void *d, unsigned long long *m) { *m = 1; return OK; }
"""

CHILD = """
import json, sys
from pathlib import Path
from eflowgpu.vm.nvml import load_nvml, read_gpus
from eflowgpu.vm.smi import read_smi
search = tuple(json.loads(sys.argv[1]))
api = load_nvml(search=search)
reading = read_gpus(api)
recorded = read_smi(Path(sys.argv[2]).read_text(encoding="utf-8"))
import pynvml
print(json.dumps({
    "api_is_pynvml": api is pynvml,
    "library": getattr(pynvml.nvmlLib, "_name", None),
    "equal": reading == recorded,
    "nvml": repr(reading),
    "smi": repr(recorded),
}))
"""


def compiler() -> str | None:
    return shutil.which("cc") or shutil.which("gcc")


@pytest.mark.skipif(compiler() is None, reason="no C compiler to build the stub libnvidia-ml.so.1")
def test_real_pynvml_reads_a_stub_library_found_in_a_wsl_like_folder(tmp_path: Path) -> None:
    wsl_lib = tmp_path / "usr-lib-wsl-lib"
    wsl_lib.mkdir()
    source = tmp_path / "stub_nvml.c"
    source.write_text(textwrap.dedent(STUB_NVML), encoding="utf-8")
    built = subprocess.run(
        [
            str(compiler()),
            "-shared",
            "-fPIC",
            f"-Wl,-soname,{LIBRARY}",
            "-o",
            str(wsl_lib / LIBRARY),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    # "" first (the loader's own search, which finds nothing here), then the folder; where a real
    # driver is installed the loader would find it first, so only the folder is searched there
    has_real_nvml = (
        subprocess.run(
            [sys.executable, "-c", f"import ctypes; ctypes.CDLL({LIBRARY!r})"],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    search = [str(wsl_lib)] if has_real_nvml else ["", str(wsl_lib)]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(search), str(DATA / "tesla-t4_hyperv-dda_535.104.05.xml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["api_is_pynvml"] is True
    assert result["library"] == LIBRARY  # pynvml loaded it by name: the loader handed back our stub
    assert result["equal"] is True, f"NVML: {result['nvml']}\nXML: {result['smi']}"
