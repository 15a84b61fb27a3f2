"""eflowgpu.bench on this machine (CPU only): CPU benchmarks, ResNet-50, the worker runner, CUDA unavailable.

The benchmarks run at TINY, a test-only Level passed as an object (LEVELS is not touched).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import pytest

from eflowgpu.bench import (
    BENCHMARKS,
    LEVELS,
    BenchFailure,
    BenchmarkUnavailable,
    BenchResult,
    Level,
    Sizes,
    run_benchmark,
    run_isolated,
)
from eflowgpu.bench.engine import Engine
from eflowgpu.bench.resnet import parameter_count, resnet50
from eflowgpu.bench.torchlib import torch
from eflowgpu.bench.workloads import d2d, h2d_pinned, launch_latency, memory_alloc, stress

TINY_SIZES = Sizes(budget_s=0.5, min_sample_s=0.0, gemm_n=128, resnet_batch=2, latency_samples=3)
TINY = Level(
    name="test-tiny",
    warmup=1,
    min_samples=2,
    max_samples=5,
    cv_target=0.5,
    timeout_s=60.0,
    copy_bytes=1024 * 1024,
    launches_per_sample=10,
    memory_fraction=0.1,
    stress_s=0.5,
    cuda=TINY_SIZES,
    cpu=TINY_SIZES,
)
CUDA_IDS = [b.id for b in BENCHMARKS if b.kind == "cuda"]


def assert_figure(result: BenchResult, bench_id: str, unit: str) -> None:
    assert result.id == bench_id and result.unit == unit
    assert result.value > 0 and math.isfinite(result.value)
    assert math.isfinite(result.cv) and result.cv >= 0
    assert result.n == len(result.samples) >= 2
    assert result.median_s > 0
    low, high = result.spread
    assert low <= result.value <= high
    assert result.stopped_because in ("stable", "budget", "max_samples")


def test_levels_are_read_only_and_documented() -> None:
    assert set(LEVELS) == {"quick", "standard", "long"}
    with pytest.raises(TypeError):
        LEVELS["test-tiny"] = TINY  # type: ignore[index]
    assert all(level.copy_bytes >= 256 * 1024 * 1024 for level in LEVELS.values())
    assert Level.from_json(TINY.to_json()) == TINY
    assert LEVELS["quick"].hard_timeout("stress") == LEVELS["quick"].timeout_s + LEVELS["quick"].stress_s


def test_cpu_gemm_fp32_gives_a_figure_with_its_cv() -> None:
    result = run_benchmark("cpu_gemm_fp32", TINY, threads=2)
    assert_figure(result, "cpu_gemm_fp32", "TFLOP/s")
    assert result.extra["n"] == 128
    assert result.extra["flops_per_multiply"] == 2 * 128**3


def test_cpu_resnet50_fp32_gives_throughput_and_batch_1_latency() -> None:
    result = run_benchmark("cpu_resnet50_fp32", TINY, threads=2)
    assert_figure(result, "cpu_resnet50_fp32", "images/s")
    p50, p99 = result.extra["p50_ms"], result.extra["p99_ms"]
    assert isinstance(p50, float) and isinstance(p99, float)
    assert 0 < p50 <= p99
    assert result.extra["latency_n"] in (2, 3)  # TINY asks for 3; a loaded machine may hit the budget after 2


def test_resnet50_has_resnet50s_parameters_and_output() -> None:
    model = resnet50(seed=0)
    assert abs(parameter_count(model) - 25_500_000) <= 100_000
    assert parameter_count(model) == 25_557_032  # torchvision's resnet50
    assert not model.training
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 224, 224))
    assert tuple(out.shape) == (2, 1000)
    assert bool(torch.isfinite(out).all())


def test_resnet50_weights_follow_the_seed() -> None:
    first, again, other = (resnet50(seed=s).conv1.weight for s in (1, 1, 2))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_cpu_timer_measures_the_work() -> None:
    took = Engine("cpu").timed(lambda: time.sleep(0.02))
    assert 0.02 <= took < 0.5


def test_run_isolated_returns_the_workers_result() -> None:
    result = run_isolated("cpu_gemm_fp32", TINY, timeout_s=60)
    assert isinstance(result, BenchResult), result
    assert_figure(result, "cpu_gemm_fp32", "TFLOP/s")
    assert result.extra["level"] == "test-tiny"  # the Level object reached the worker


def test_run_isolated_kills_a_hung_worker_at_its_timeout() -> None:
    started = time.perf_counter()
    result = run_isolated("cpu_gemm_fp32", TINY, timeout_s=2, fault="hang")
    took = time.perf_counter() - started
    assert isinstance(result, BenchFailure)
    assert result.kind == "hung"
    assert result.reason == "hung: no result after 2 s (worker killed)"
    assert 2 <= took < 8


def test_run_isolated_reports_a_crash_with_its_signal_and_stderr() -> None:
    result = run_isolated("cpu_gemm_fp32", TINY, timeout_s=30, fault="crash")
    assert isinstance(result, BenchFailure)
    assert result.kind == "crashed"
    assert "SIGABRT" in result.reason
    assert "last stderr line: simulated crash" in result.reason


@pytest.mark.parametrize("bench_id", CUDA_IDS)
def test_cuda_benchmarks_are_unavailable_without_cuda(bench_id: str) -> None:
    with pytest.raises(BenchmarkUnavailable, match=r"^CUDA is not available: "):
        run_benchmark(bench_id, TINY)


def test_cuda_benchmark_through_the_worker_is_unavailable() -> None:
    result = run_isolated("gemm_fp32", TINY, timeout_s=60)
    assert isinstance(result, BenchFailure)
    assert result.kind == "unavailable"
    assert result.reason.startswith("unavailable: CUDA is not available: ")


@pytest.mark.parametrize("workload", [h2d_pinned, d2d, launch_latency, memory_alloc, stress])
def test_cuda_code_refuses_a_cpu_engine(workload: Callable[[Engine, Level], BenchResult]) -> None:
    with pytest.raises(BenchmarkUnavailable, match="CUDA is not available"):
        workload(Engine("cpu"), TINY)


def test_pinned_memory_needs_cuda() -> None:
    with pytest.raises(BenchmarkUnavailable, match="pinned host memory needs a CUDA device"):
        Engine("cpu").host_buffer(1024, pinned=True)


def test_wrong_device_kind_and_unknown_id_are_errors() -> None:
    with pytest.raises(ValueError, match="runs on a cpu device"):
        run_benchmark("cpu_gemm_fp32", TINY, "cuda")
    with pytest.raises(ValueError, match="unknown benchmark"):
        run_isolated("no_such_benchmark", TINY)
    with pytest.raises(ValueError, match="unknown level"):
        run_benchmark("cpu_gemm_fp32", "turbo")


def test_results_survive_json() -> None:
    result = run_benchmark("cpu_gemm_fp32", TINY, threads=1)
    assert BenchResult.from_json(result.to_json()) == result
