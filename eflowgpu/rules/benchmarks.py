"""Judging a benchmark figure against its reference: DCGM's rule, a fraction of a known-good value.

Higher is better for bandwidths, throughputs and images per second; lower is better for latencies.
A figure without a reference (no catalog entry, no measured or derivable value, a CPU figure) is
measured and reported, not judged: its status is ``skip`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from eflowgpu.criteria import Status
from eflowgpu.matrix import CatalogGpu, Matrix

LOWER_IS_BETTER = frozenset({"launch_latency"})


@dataclass(frozen=True)
class BenchmarkJudgement:
    """A figure, its reference and threshold, the ratio, and the status."""

    status: Status
    reference: float | None
    threshold: float | None
    ratio: float | None
    detail: str


def judge_figure(
    matrix: Matrix, gpu: CatalogGpu | None, passthrough: str, bench_id: str, value: float, unit: str
) -> BenchmarkJudgement:
    """Compare ``value`` with the matrix's reference for this product, passthrough type and benchmark."""
    ref = matrix.benchmarks.reference(gpu, passthrough, bench_id)
    if ref is None:
        why = (
            "no catalog entry for this GPU" if gpu is None else f"no reference for {gpu.key} by {passthrough}"
        )
        if bench_id.startswith("cpu_"):
            why = "a CPU figure, compared with the GPU's as a speedup"
        return BenchmarkJudgement(Status.SKIP, None, None, None, f"{value:g} {unit}, not judged: {why}")
    fraction = matrix.benchmarks.threshold
    lower = bench_id in LOWER_IS_BETTER
    threshold = ref.value / fraction if lower else ref.value * fraction
    ratio = value / ref.value if ref.value else None
    ok = value <= threshold if lower else value >= threshold
    sign = "<=" if lower else ">="
    shown = f"{value:g} {unit} vs reference {ref.value:g} ({ref.source}); pass {sign} {threshold:.4g}"
    return BenchmarkJudgement(
        Status.PASS if ok else Status.FAIL,
        ref.value,
        round(threshold, 4),
        round(ratio, 4) if ratio is not None else None,
        shown,
    )
