"""The child process of :func:`eflowgpu.bench.runner.run_isolated`: runs one benchmark, prints one JSON line.

    python -m eflowgpu.bench.worker BENCH_ID (--level NAME | --level-json JSON)
        [--device cuda|cuda:N|cpu] [--threads N] [--fault hang|crash]

The last line on stdout that starts with :data:`~eflowgpu.bench.results.MARKER` carries the outcome, as JSON:
``{"status": "ok", "result": {...}}`` (a :meth:`BenchResult.to_json`), or ``{"status":
"unavailable" | "failed" | "error", "reason": "...", "extra": {...}}``; the exit status is then 0.
No such line means the worker crashed. A traceback of an ``error`` goes to stderr.

``--fault`` is a **test seam** and nothing else: ``hang`` sleeps instead of running the benchmark
(a GPU that never answers), ``crash`` writes a line to stderr and aborts (SIGABRT), so the
runner's timeout and crash handling can be tested on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Sequence

from eflowgpu.bench.levels import LEVELS, Level, resolve_level
from eflowgpu.bench.results import MARKER, BenchmarkFailed, BenchmarkUnavailable, Json

FAULTS = ("hang", "crash")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark the arguments name and print its outcome line; 0 once the line is printed."""
    parser = argparse.ArgumentParser(
        prog="python -m eflowgpu.bench.worker", description=__doc__.splitlines()[0]
    )
    parser.add_argument("bench_id")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--level", choices=tuple(LEVELS))
    group.add_argument("--level-json", help="a Level as JSON (Level.to_json)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--fault", choices=FAULTS, default=None, help="test seam: simulate a hang or a crash")
    args = parser.parse_args(argv)
    level: Level = resolve_level(args.level) if args.level else Level.from_json(json.loads(args.level_json))
    if args.fault == "hang":
        while True:  # a hung GPU: no result, ever; the runner kills the process group
            time.sleep(3600)
    if args.fault == "crash":
        print("simulated crash (--fault crash)", file=sys.stderr, flush=True)
        os.abort()
    outcome: dict[str, Json]
    try:
        from eflowgpu.bench.workloads import run_benchmark

        result = run_benchmark(args.bench_id, level, args.device, threads=args.threads)
        outcome = {"status": "ok", "result": result.to_json()}
    except BenchmarkUnavailable as exc:
        outcome = {"status": "unavailable", "reason": str(exc), "extra": {}}
    except BenchmarkFailed as exc:
        outcome = {"status": "failed", "reason": str(exc), "extra": exc.extra}
    except Exception as exc:  # a bug or a driver error: reported, with the traceback on stderr
        traceback.print_exc()
        outcome = {"status": "error", "reason": f"{type(exc).__name__}: {exc}", "extra": {}}
    try:
        line = json.dumps(outcome, allow_nan=False)
    except (TypeError, ValueError) as exc:  # a NaN or an object in extra: a bug, reported as such
        line = json.dumps({"status": "error", "reason": f"result is not JSON: {exc}", "extra": {}})
    print(MARKER + line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
