"""Demonstration: pytest-benchmark's --benchmark-compare-fail stops a run whose figures dropped.

Saves a baseline run of the in-VM CPU GEMM benchmark, then runs it again with the process pinned
to one core (``taskset -c 0``: half the compute of this 2-core machine, the way a throttled or
shared machine loses speed) and compares with ``--benchmark-compare-fail=median:10%``. Prints both
medians and the exit codes: the second run must fail (exit 1, "Performance has regressed").

    python benchmarks/bench_regression_gate.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def run(args: list[str], *, pin: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the benchmark suite's CPU GEMM with ``args`` (pinned to one core when ``pin``)."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "suites/vm/test_benchmarks.py",
        "-p",
        "no:xdist",
        "-k",
        "cpu_gemm_fp32",
        "-q",
        *args,
    ]
    if pin:
        command = ["taskset", "-c", "0", *command]
    return subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False)


def median_ms(path: Path) -> float:
    """The median of the one benchmark in a pytest-benchmark JSON file, in ms."""
    return float(json.loads(path.read_text())["benchmarks"][0]["stats"]["median"]) * 1e3


def main() -> int:
    """Run baseline and slowed runs; return 0 when the gate caught the drop."""
    if shutil.which("taskset") is None:
        print("taskset (util-linux) is needed to slow the second run down")
        return 2
    (PROJECT / "reports").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gate-", dir=PROJECT / "reports") as tmp:
        root = Path(tmp)
        storage = ["--benchmark-storage", str(root / "history")]
        first = run(
            [
                *storage,
                "--benchmark-save=baseline",
                "--benchmark-json",
                str(root / "a.json"),
                "--report-dir",
                str(root / "a"),
            ]
        )
        second = run(
            [
                *storage,
                "--benchmark-compare",
                "--benchmark-compare-fail=median:10%",
                "--benchmark-json",
                str(root / "b.json"),
                "--report-dir",
                str(root / "b"),
            ],
            pin=True,
        )
        base, slow = median_ms(root / "a.json"), median_ms(root / "b.json")
        print(f"baseline run: exit {first.returncode}, cpu_gemm_fp32 median {base:.2f} ms per multiply")
        print(
            f"slowed run:   exit {second.returncode}, cpu_gemm_fp32 median {slow:.2f} ms per multiply "
            f"({slow / base - 1:+.0%})"
        )
        caught = second.returncode != 0 and "Performance has regressed" in second.stdout + second.stderr
        print(
            "--benchmark-compare-fail=median:10% "
            + ("failed the slowed run" if caught else "did NOT fail it")
        )
        return 0 if caught and first.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
