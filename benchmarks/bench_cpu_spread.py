"""Measure how much the CPU benchmark figures move between runs on unchanged hardware.

A regression gate of ``median:10%`` can only hold when the figure of a run differs from the figure
of the previous run on the same machine by well under 10 %. This script runs ``cpu_gemm_fp32`` (or
another CPU benchmark) several times, each run in a fresh worker process as the pack does, under
a few sampling variants, and prints per variant:

* the figure of every run (from the median sample, as the pack reports it, and from the fastest
  sample, which the load of other processes can only slow down),
* the worst run-to-run change of each (``max / min - 1``), against the gate's tolerance,
* the within-run CV and the time each run took.

Variants: the level as it is (``level``: the CPU benchmarks on one torch thread); one thread per
usable core (``all-cores``, what the pack did before); all cores with longer samples (0.2 s) and
more warm-up (``long-samples``). Runs alternate between variants (round-robin), so that the
load of a shared machine falls on all of them alike.

    python benchmarks/bench_cpu_spread.py [--bench cpu_gemm_fp32] [--level quick] [--runs 4]
        [--tolerance 0.10] [--variants level,all-cores,long-samples]

Exits 1 when no variant's figure stays within the tolerance.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable

from eflowgpu.bench import BenchFailure, resolve_level, run_isolated
from eflowgpu.bench.levels import Level
from eflowgpu.bench.runner import available_cores


def _level(level: Level) -> tuple[Level, int | None]:
    return level, None


def _all_cores(level: Level) -> tuple[Level, int | None]:
    return dataclasses.replace(level, cpu=dataclasses.replace(level.cpu, threads=None)), None


def _long_samples(level: Level) -> tuple[Level, int | None]:
    cpu = dataclasses.replace(level.cpu, threads=None, min_sample_s=max(0.2, level.cpu.min_sample_s))
    return dataclasses.replace(level, warmup=max(5, level.warmup), cpu=cpu), None


VARIANTS: dict[str, Callable[[Level], tuple[Level, int | None]]] = {
    "level": _level,
    "all-cores": _all_cores,
    "long-samples": _long_samples,
}


def spread(values: list[float]) -> float:
    """``max / min - 1`` of positive figures (0 for fewer than two)."""
    return max(values) / min(values) - 1 if len(values) >= 2 and min(values) > 0 else 0.0


def main(argv: list[str] | None = None) -> int:
    """Run the variants round-robin and print the run-to-run spread of each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default="cpu_gemm_fp32")
    parser.add_argument("--level", default="quick")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--tolerance", type=float, default=0.10)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args(argv)
    names = [v for v in args.variants.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}: one of {', '.join(VARIANTS)}")
    base = resolve_level(args.level)
    print(f"{args.bench} at {args.level}, {args.runs} runs per variant, {available_cores()} cores usable")
    figures: dict[str, list[float]] = {v: [] for v in names}
    best: dict[str, list[float]] = {v: [] for v in names}
    cvs: dict[str, list[float]] = {v: [] for v in names}
    seconds: dict[str, list[float]] = {v: [] for v in names}
    for run in range(args.runs):
        for name in names:
            level, threads = VARIANTS[name](base)
            start = time.perf_counter()
            outcome = run_isolated(args.bench, level, "cpu", threads=threads)
            took = time.perf_counter() - start
            if isinstance(outcome, BenchFailure):
                print(f"  run {run + 1} {name}: {outcome.reason}")
                continue
            fastest = outcome.value * outcome.median_s / min(outcome.samples)
            figures[name].append(outcome.value)
            best[name].append(fastest)
            cvs[name].append(outcome.cv)
            seconds[name].append(took)
            print(
                f"  run {run + 1} {name:12} {outcome.value:8.4f} {outcome.unit} (median sample), "
                f"{fastest:8.4f} (fastest), CV {outcome.cv:.3f}, n {outcome.n}, {took:.1f} s",
                flush=True,
            )
    held = False
    print(f"run-to-run spread (max/min - 1) against the gate's {args.tolerance:.0%}:")
    for name in names:
        if len(figures[name]) < 2:
            print(f"  {name:12} fewer than two runs")
            continue
        med, fast = spread(figures[name]), spread(best[name])
        held = held or med <= args.tolerance
        print(
            f"  {name:12} median figure {med:6.1%}, fastest sample {fast:6.1%}, "
            f"CV median {statistics.median(cvs[name]):.3f} (max {max(cvs[name]):.3f}), "
            f"{statistics.median(seconds[name]):.1f} s per run"
        )
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
