"""Benchmark: the CPU side of ``eflowgpu.bench`` against PyTorch used directly (issue: done-when).

1. ``cpu_gemm_fp32`` at a level through the library (:func:`run_benchmark`, in this process),
   and a direct ``torch.matmul`` of the same size, timed the same way: ``time.perf_counter``
   around each call, the same sampler (:func:`eflowgpu.bench.stats.sample`) with the level's
   warm-up, sample counts, CV target and budget, the same thread count. Alternating rounds
   (library, direct, direct, library: a shared 2-core VM's load changes over seconds). Prints
   every figure with its CV, the two medians, their ratio, and whether they are within 20 %.
2. Every CPU benchmark at the level through :func:`run_isolated` (a worker process each, with the
   hard timeout), printing each figure with its CV, and the total wall time (goal: < 60 s at
   ``quick`` on 2 cores).

    python benchmarks/bench_cpu_gemm.py [--level quick] [--rounds 2] [--skip-isolated]

Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from eflowgpu.bench import BenchFailure, ids_of_kind, resolve_level, run_benchmark, run_isolated
from eflowgpu.bench.runner import available_cores
from eflowgpu.bench.stats import sample

TOLERANCE = 0.20
QUICK_GOAL_S = 60.0


def direct_matmul(n: int, level_name: str, threads: int) -> tuple[float, float, int]:
    """TFLOP/s, CV and sample count of ``torch.matmul`` on n x n fp32 matrices, sampled like the library."""
    from eflowgpu.bench.torchlib import torch  # torch itself, imported without the NumPy warning

    level = resolve_level(level_name)
    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(1)
    a = torch.randn(n, n, generator=generator)
    b = torch.randn(n, n, generator=generator)

    def once() -> float:
        start = time.perf_counter()
        torch.matmul(a, b)
        return time.perf_counter() - start

    samples = sample(
        once,
        warmup=level.warmup,
        min_samples=level.min_samples,
        max_samples=level.max_samples,
        cv_target=level.cv_target,
        budget_s=level.cpu.budget_s,
    )
    return 2 * n**3 / samples.median / 1e12, samples.cv, samples.n


def main() -> int:
    """Run both parts and print the figures; 1 if the library is off by more than 20 % or quick is slow."""
    parser = argparse.ArgumentParser(description="eflowgpu.bench CPU figures against torch.matmul")
    parser.add_argument("--level", default="quick")
    parser.add_argument("--rounds", type=int, default=2, help="library/direct pairs, order alternating")
    parser.add_argument("--skip-isolated", action="store_true", help="only the library-vs-direct comparison")
    args = parser.parse_args()
    threads = available_cores()
    ok = True

    n = resolve_level(args.level).cpu.gemm_n
    print(f"cpu_gemm_fp32 n={n}, {threads} threads, level {args.level}, {args.rounds} rounds (ABBA order)")
    library_figures: list[float] = []
    direct_figures: list[float] = []
    for number in range(args.rounds):
        order = ("library", "direct") if number % 2 == 0 else ("direct", "library")
        for which in order:
            if which == "library":
                result = run_benchmark("cpu_gemm_fp32", args.level, "cpu", threads=threads)
                library_figures.append(result.value)
                label = f"  round {number + 1} library (eflowgpu.bench):"
                print(f"{label:<44}{result.value:.4f} TFLOP/s  CV {result.cv:.3f}  n={result.n}")
            else:
                figure, cv, count = direct_matmul(n, args.level, threads)
                direct_figures.append(figure)
                label = f"  round {number + 1} direct torch.matmul:"
                print(f"{label:<44}{figure:.4f} TFLOP/s  CV {cv:.3f}  n={count}")
    library, direct = statistics.median(library_figures), statistics.median(direct_figures)
    ratio = library / direct
    within = abs(ratio - 1) <= TOLERANCE
    ok &= within
    print(f"  library {library:.4f} vs direct {direct:.4f} TFLOP/s (median over rounds)")
    print(f"  ratio library/direct: {ratio:.3f} -> {'within' if within else 'NOT within'} 20 %")

    if not args.skip_isolated:
        print(f"\nAll CPU benchmarks at {args.level}, each in a worker process:")
        started = time.perf_counter()
        for bench_id in ids_of_kind("cpu"):
            t0 = time.perf_counter()
            outcome = run_isolated(bench_id, args.level, threads=threads)
            took = time.perf_counter() - t0
            if isinstance(outcome, BenchFailure):
                ok = False
                print(f"  {bench_id:<20} FAILED {outcome.reason} ({took:.1f} s)")
                continue
            low, high = outcome.spread
            line = (
                f"  {bench_id:<20} {outcome.value:9.4f} {outcome.unit:<9} CV {outcome.cv:.3f}  "
                f"n={outcome.n:<3} p10-p90 {low:.4f}-{high:.4f}  ({outcome.stopped_because}, {took:.1f} s)"
            )
            if "p50_ms" in outcome.extra:
                line += f"  batch-1 p50 {outcome.extra['p50_ms']:.1f} ms p99 {outcome.extra['p99_ms']:.1f} ms"
            print(line)
        total = time.perf_counter() - started
        fast = total < QUICK_GOAL_S or args.level != "quick"
        ok &= fast
        print(
            f"  total wall time: {total:.1f} s"
            + (f" (goal < {QUICK_GOAL_S:.0f} s)" if args.level == "quick" else "")
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
