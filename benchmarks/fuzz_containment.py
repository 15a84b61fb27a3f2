"""Benchmark: mutated snapshots through the pack's library path, counting what containment kept.

Mutates host snapshots (fixtures/hosts), VM snapshots with the ``nvml`` probe (fixtures/vms) and
nvidia-smi XML (tests/data/nvidia_smi) with a seeded mutator (:mod:`eflowgpu.fuzz`), runs each item
as the pytest plugin does up to the written reports (JSON, HTML, Markdown) and prints the counts:
items, judged, contained errors (bad input), contained internal errors (defects kept to their
system), escapes (exceptions out of the library), non-strict JSON reports, and the slowest item.
Goal (issue 8): 10,000 host and 5,000 VM/XML items, no escape, no item over 5 s, strict JSON.

    python benchmarks/fuzz_containment.py [--hosts 10000] [--vms 5000] [--seed 8]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from eflowgpu.fuzz import Seeds, Tally, fuzz
from eflowgpu.matrix import load_matrix

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    """Run the fuzz campaign and print its figures; exit 1 when the promise broke."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--vms", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--limit", type=float, default=5.0, help="seconds one item may take")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # contained internal errors are logged with tracebacks
    matrix = load_matrix(ROOT / "matrix.yaml")
    seeds = Seeds.from_folders(
        ROOT / "fixtures" / "hosts", ROOT / "fixtures" / "vms", ROOT / "tests" / "data" / "nvidia_smi"
    )
    start = time.perf_counter()

    def progress(tally: Tally) -> None:
        print(f"  {tally.items} items, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)

    tally = fuzz(
        matrix,
        matrix.profile(None),
        seeds,
        seed=args.seed,
        hosts=args.hosts,
        vms=args.vms,
        limit_s=args.limit,
        progress=progress,
    )
    elapsed = time.perf_counter() - start
    counts = tally.outcomes
    print(f"seed {args.seed}: {tally.items} items ({args.hosts} host, {args.vms} VM/XML) in {elapsed:.1f} s")
    print(f"  judged:                     {counts.get('ok', 0)}")
    print(f"  errors contained (input):   {counts.get('error', 0)}")
    print(f"  internal errors contained:  {counts.get('internal', 0)}")
    print(f"  escapes:                    {counts.get('escape', 0)}")
    print(f"  reports not strict JSON:    {counts.get('bad-json', 0)}")
    print(f"  max item time:              {tally.max_seconds:.3f} s ({tally.slowest})")
    for line in tally.internal[:20]:
        print(f"  INTERNAL {line}")
    for line in tally.failures[:20]:
        print(f"  FAILED {line}")
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
