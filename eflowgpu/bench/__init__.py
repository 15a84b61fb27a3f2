"""In-VM GPU benchmarks over PyTorch (optional): copies, memory, launch latency, GEMM, ResNet-50, stress.

Importing this package does not import PyTorch; running a benchmark does. The pieces:

* :mod:`~eflowgpu.bench.levels`: ``quick`` / ``standard`` / ``long`` (:data:`LEVELS`) and their cost;
* :mod:`~eflowgpu.bench.stats`: :func:`sample`, warm-up then repeat-until-stable, median + CV;
* :mod:`~eflowgpu.bench.engine`: :class:`~eflowgpu.bench.engine.Engine`, CUDA-event / perf_counter timing;
* :mod:`~eflowgpu.bench.workloads`: the benchmarks, :data:`BENCHMARKS`, :func:`run_benchmark`;
* :mod:`~eflowgpu.bench.runner`: :func:`run_isolated`, each benchmark in a worker with a hard timeout;
* :mod:`~eflowgpu.bench.health`: the NVML watch of ``stress``; :mod:`~eflowgpu.bench.resnet`: the model.
"""

from __future__ import annotations

from eflowgpu.bench.levels import LEVELS, Level, Sizes, resolve_level
from eflowgpu.bench.results import BenchFailure, BenchmarkFailed, BenchmarkUnavailable, BenchResult
from eflowgpu.bench.runner import available_cores, ids_of_kind, run_isolated, run_many
from eflowgpu.bench.stats import Samples, sample
from eflowgpu.bench.workloads import BENCHMARKS, BenchmarkInfo, benchmark_info, run_benchmark

__all__ = [
    "BENCHMARKS",
    "LEVELS",
    "BenchFailure",
    "BenchResult",
    "BenchmarkFailed",
    "BenchmarkInfo",
    "BenchmarkUnavailable",
    "Level",
    "Samples",
    "Sizes",
    "available_cores",
    "benchmark_info",
    "ids_of_kind",
    "resolve_level",
    "run_benchmark",
    "run_isolated",
    "run_many",
    "sample",
]
