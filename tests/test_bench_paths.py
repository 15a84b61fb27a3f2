"""The CUDA benchmarks' own code, run on the CPU with the CUDA-only calls patched out.

Not a measurement (the figures are the CPU's): this machine has no GPU, so these tests check the
logic a GPU run goes through — data verification of copies, memory patterns, the gpu-burn
comparison of every result with the first (tolerance and NaN), and the NVML verdict — with
``_require_cuda``, ``torch.cuda.mem_get_info`` and the empty kernel replaced. What only a GPU can
check (events, pinned memory, cuBLAS/cuDNN) is not claimed here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pynvml
import pytest
from test_bench_health import FakeNvml

from eflowgpu.bench import workloads
from eflowgpu.bench.engine import Engine
from eflowgpu.bench.levels import Level, Sizes
from eflowgpu.bench.results import BenchmarkFailed, BenchResult
from eflowgpu.bench.torchlib import torch

SIZES = Sizes(budget_s=0.3, min_sample_s=0.0, gemm_n=64, resnet_batch=2, latency_samples=3)
LEVEL = Level(
    name="test-paths",
    warmup=1,
    min_samples=2,
    max_samples=5,
    cv_target=0.5,
    timeout_s=60.0,
    copy_bytes=4 * 1024 * 1024,
    launches_per_sample=10,
    memory_fraction=0.5,
    stress_s=0.3,
    cuda=SIZES,
    cpu=SIZES,
)
MIB = 1024 * 1024


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Engine:
    """A CPU engine the CUDA benchmarks accept, with 64 MiB of "device memory" free."""
    monkeypatch.setattr(workloads, "_require_cuda", lambda engine: None)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (64 * MIB, 128 * MIB))
    monkeypatch.setattr(workloads, "_empty_kernel", lambda engine: ((lambda: None), "no-op"))
    return Engine("cpu", threads=1)


@pytest.mark.parametrize(
    "workload", [workloads.h2d_pageable, workloads.d2h_pageable, workloads.d2d, workloads.launch_latency]
)
def test_copy_and_launch_paths_give_figures(
    engine: Engine, workload: Callable[[Engine, Level], BenchResult]
) -> None:
    result = workload(engine, LEVEL)
    assert result.value > 0 and result.n >= 2 and result.cv >= 0
    if result.unit == "GB/s":
        assert "verified" in result.note or "read + write" in result.note
    else:
        assert {"wall_us_per_launch", "round_trip_us"} <= set(result.extra)


def test_d2d_counts_read_and_write(engine: Engine) -> None:
    result = workloads.d2d(engine, LEVEL)
    assert result.extra["bytes_counted_per_copy"] == 2 * LEVEL.copy_bytes


def test_copies_that_do_not_verify_fail(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch, "equal", lambda a, b: False)
    with pytest.raises(BenchmarkFailed, match="copied data differs"):
        workloads.d2d(engine, LEVEL)


def test_memory_alloc_fills_its_share_and_verifies(engine: Engine) -> None:
    result = workloads.memory_alloc(engine, LEVEL)
    assert result.value == 32.0 and result.unit == "MiB"
    assert result.extra["mismatched_bytes"] == 0
    assert result.n == 5  # four patterns and one value per chunk


def test_stress_passes_a_clean_run_and_records_the_power_cap(engine: Engine) -> None:
    fake = FakeNvml(reasons=[pynvml.nvmlClocksEventReasonSwPowerCap])
    result = workloads.stress(engine, LEVEL, nvml=fake)
    assert result.extra["faulty_elements"] == 0
    assert result.extra["bitwise_differing_elements"] == 0
    assert "software power cap seen (not a failure)" in result.note
    nvml = result.extra["nvml"]
    assert isinstance(nvml, dict) and nvml["failures"] == [] and nvml["polls"] >= 2
    assert fake.shut_down


def corrupt_third_gemm(value: float) -> Callable[..., Any]:
    real = torch.matmul
    calls = [0]

    def matmul(a: torch.Tensor, b: torch.Tensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
        calls[0] += 1
        result = real(a, b) if out is None else real(a, b, out=out)
        if calls[0] == 3:
            result[0, 0] = result[0, 0] + value if value == value else value
        return result

    return matmul


@pytest.mark.parametrize(("value", "what"), [(0.01, "off by 0.01"), (float("nan"), "NaN")])
def test_stress_fails_a_result_that_differs_from_the_first(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, value: float, what: str
) -> None:
    monkeypatch.setattr(torch, "matmul", corrupt_third_gemm(value))
    with pytest.raises(BenchmarkFailed, match="1 result elements differ") as caught:
        workloads.stress(engine, LEVEL, nvml=FakeNvml())
    assert caught.value.extra["faulty_elements"] == 1, what


def test_stress_does_not_fail_within_the_tolerance_but_says_so(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch, "matmul", corrupt_third_gemm(1e-5))
    result = workloads.stress(engine, LEVEL, nvml=FakeNvml())
    assert result.extra["bitwise_differing_elements"] == 1
    assert "1 elements differ bitwise within the tolerance" in result.note


def test_stress_fails_on_thermal_slowdown(engine: Engine) -> None:
    fake = FakeNvml(reasons=[0, pynvml.nvmlClocksEventReasonHwThermalSlowdown])
    with pytest.raises(BenchmarkFailed, match="clocks slowed down during the run: hw_thermal_slowdown"):
        workloads.stress(engine, LEVEL, nvml=fake)


def test_stress_without_nvml_states_the_skip(engine: Engine) -> None:
    result = workloads.stress(engine, LEVEL, nvml=FakeNvml(init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED))
    assert "NVML checks skipped: NVML does not answer" in result.note
