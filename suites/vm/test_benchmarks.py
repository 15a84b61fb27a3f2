"""In-VM benchmarks: host-device copies, device memory, launch latency, GEMM, ResNet-50 inference,
memory allocation, a sustained stress run, and the same GEMM and ResNet-50 on the CPU.

Every GPU of the machine is benchmarked (``test_benchmark[gemm_fp32-cuda0]``, ``...-cuda1``), each
with its own figures in the report. Each benchmark runs in its own worker process with the
``--level``'s hard timeout, samples until its coefficient of variation is under the level's bound
(or the budget runs out), and is judged against the matrix's reference for the GPU model and
passthrough type. CUDA benchmarks skip with the reason on a machine without a CUDA GPU.

Benchmarks never run at the same time: each holds the machine's benchmark lock while it runs, so
under ``-n 2`` the other worker waits (they also share the xdist group ``eflowgpu-benchmarks``, so
``--dist loadgroup`` sends them to one worker). pytest-benchmark turns its own statistics off
under xdist; for its comparisons (``--benchmark-autosave``) run them serially.
"""

from collections.abc import Callable
from typing import Any

from eflowgpu.pytest_plugin.benchcases import BenchCase


def test_benchmark(
    bench_case: BenchCase, benchmark: Any, bench_run: Callable[[BenchCase, Any], None]
) -> None:
    """One benchmark on one device: measured, judged against its reference, recorded."""
    bench_run(bench_case, benchmark)
