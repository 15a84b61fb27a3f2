"""In-VM benchmarks: host-device copies, device memory, launch latency, GEMM, ResNet-50 inference,
memory allocation, a sustained stress run, and the same GEMM and ResNet-50 on the CPU.

Each benchmark runs in its own worker process with the ``--level``'s hard timeout, samples until
its coefficient of variation is under the level's bound (or the budget runs out), and is judged
against the matrix's reference for the GPU model and passthrough type. CUDA benchmarks skip with
the reason on a machine without a CUDA GPU; the CPU ones run everywhere. pytest-benchmark turns
itself off under xdist: run them in a serial session, e.g.
``pytest suites/vm/test_benchmarks.py -p no:xdist --benchmark-autosave``.
"""

from collections.abc import Callable
from typing import Any

from eflowgpu.pytest_plugin.benchcases import BenchCase


def test_benchmark(
    bench_case: BenchCase, benchmark: Any, bench_run: Callable[[BenchCase, Any], None]
) -> None:
    """One benchmark: measured, judged against its reference, and recorded for pytest-benchmark."""
    bench_run(bench_case, benchmark)
