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
from eflowgpu.bench.workloads import BENCHMARKS
from eflowgpu.matrix import Matrix
from eflowgpu.pytest_plugin.benchcases import PROPERTY, BenchCase, GpuContext, report_entry
from eflowgpu.textsafe import neutral


def crashed_benchmark_entry(
    report: pytest.TestReport, matrix: Matrix, gpu: Callable[[], GpuContext], level: str
) -> dict[str, Any] | None:
    """The ``vm.benchmarks[]`` entry of a benchmark test that failed without a figure, else None.

    ``gpu`` is asked only for such a test (it looks through the run's systems).
    """
    if not report.failed or report.when not in ("call", "???") or "[" not in report.nodeid:
        return None
    if any(name == PROPERTY for name, _ in report.user_properties):
        return None
    bench_id = report.nodeid.rsplit("[", 1)[1].rstrip("]")
    info = next((b for b in BENCHMARKS if b.id == bench_id), None)
    if info is None:
        return None
    said = str(report.longrepr).strip().splitlines()
    reason = neutral(said[-1] if said else "the test process died", 300)
    case = BenchCase(info.id, info.kind, info.unit, info.measures, level)
    return report_entry(matrix, case, BenchFailure(info.id, f"crashed: {reason}, no figure"), gpu())
