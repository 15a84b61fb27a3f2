"""A benchmark whose test process died still has its line in the report.

When the process running a benchmark test is killed (an xdist worker taken down by the GPU driver,
the OOM killer or a signal), no figure reaches the controller: pytest-xdist reports the test as
failed with ``worker 'gw0' crashed while running ...`` and nothing else. Without this, the
benchmark would be missing from ``vm.benchmarks`` without a word; with it, the benchmark's entry
says ``crashed: ...`` (status ``fail``), like a benchmark whose own isolated worker died.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from eflowgpu.bench.results import BenchFailure
from eflowgpu.matrix import Matrix
from eflowgpu.pytest_plugin.benchcases import PROPERTY, GpuContext, bench_cases, report_entry
from eflowgpu.textsafe import neutral


def crashed_benchmark_entry(
    report: pytest.TestReport, matrix: Matrix, gpus: Callable[[], list[GpuContext]], level: str
) -> dict[str, Any] | None:
    """The ``vm.benchmarks[]`` entry of a benchmark test that failed without a figure, else None.

    ``gpus`` (the live machine's GPUs) is asked only for such a test.
    """
    if not report.failed or report.when not in ("call", "???") or "[" not in report.nodeid:
        return None
    if any(name == PROPERTY for name, _ in report.user_properties):
        return None
    test_id = report.nodeid.rsplit("[", 1)[1].rstrip("]")  # gemm_fp32-cuda1, cpu_gemm_fp32
    case = next((c for c in bench_cases(level, _gpu_count(test_id)) if c.test_id == test_id), None)
    if case is None:
        return None
    said = str(report.longrepr).strip().splitlines()
    reason = neutral(said[-1] if said else "the test process died", 300)
    known = gpus()
    gpu = known[case.gpu_index] if case.gpu_index is not None and case.gpu_index < len(known) else known[0]
    return report_entry(matrix, case, BenchFailure(case.bench_id, f"crashed: {reason}, no figure"), gpu)


def _gpu_count(test_id: str) -> int:
    """Enough GPUs for the test id's ``-cudaN`` to be one of the cases."""
    head, _, tail = test_id.rpartition("-cuda")
    return int(tail) + 1 if head and tail.isdigit() else 1
