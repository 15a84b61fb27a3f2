"""Benchmark: the whole pack over a generated lab of host snapshots, against the library alone.

Generates N host snapshots from the sample lab (fixtures/hosts, each copy with its own host label),
then times:

1. the library: read, judge and write compat-report.json, report.html and report.md;
2. the pack: ``pytest suites/host --host-snapshot LAB -n WORKERS`` with every report (JSON, HTML,
   Markdown, JUnit, Allure), as a user runs it.

Prints hosts per second for both and their ratio. Goal (issue 2): 1,000 hosts under 30 s with
``-n 2`` on 2 cores.

    python benchmarks/bench_host_lab.py [--hosts 1000] [--workers 2] [--profile ga-2022-06]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eflowgpu.evaluate import evaluate_host_files
from eflowgpu.matrix import load_matrix
from eflowgpu.report.files import write_reports
from eflowgpu.report.model import build_report

PROJECT = Path(__file__).resolve().parents[1]


def generate_lab(target: Path, hosts: int) -> list[Path]:
    """Write ``hosts`` snapshots into ``target``, cycling through the sample lab's files."""
    samples = sorted((PROJECT / "fixtures" / "hosts").glob("*.json"))
    texts = [p.read_text(encoding="utf-8") for p in samples]
    files = []
    for i in range(hosts):
        text, name = texts[i % len(texts)], samples[i % len(samples)].stem
        try:
            data = json.loads(text)
        except ValueError:  # the deliberately corrupt sample stays corrupt
            out = text
        else:
            if isinstance(data, dict):
                data["host"] = f"{data.get('host', name)}-{i:05d}"
            out = json.dumps(data)
        path = target / f"{i:05d}-{name}.json"
        path.write_text(out, encoding="utf-8")
        files.append(path)
    return files


def time_library(files: list[Path], profile: str, report_dir: Path) -> float:
    """Seconds for the library alone to judge ``files`` and write the three reports."""
    start = time.perf_counter()
    matrix = load_matrix(PROJECT / "matrix.yaml")
    prof = matrix.profile(profile)
    systems = evaluate_host_files(matrix, prof, files)
    write_reports(report_dir, build_report(matrix, prof, systems))
    return time.perf_counter() - start


def time_pack(lab: Path, profile: str, workers: int, report_dir: Path) -> tuple[float, str]:
    """Seconds for the pack under pytest (with xdist when ``workers`` > 0), and pytest's last line."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "suites/host",
        "--host-snapshot",
        str(lab),
        "--profile",
        profile,
        "--report-dir",
        str(report_dir),
        "-q",
        "-p",
        "no:cacheprovider",
        "--no-header",
        "-rN",
    ]
    if workers:
        command += ["-n", str(workers)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode not in (0, 1):
        raise SystemExit(f"pytest exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed, lines[-1] if lines else ""


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (0: serial)")
    parser.add_argument("--profile", default="ga-2022-06")
    args = parser.parse_args()
    (PROJECT / "reports").mkdir(exist_ok=True)  # where users' reports go (not /tmp, which may be slower)
    with tempfile.TemporaryDirectory(prefix="bench-", dir=PROJECT / "reports") as tmp:
        root = Path(tmp)
        lab = root / "lab"
        lab.mkdir()
        files = generate_lab(lab, args.hosts)
        library = time_library(files, args.profile, root / "library-reports")
        pack, summary = time_pack(lab, args.profile, args.workers, root / "pack-reports")
        report = json.loads((root / "pack-reports" / "compat-report.json").read_text(encoding="utf-8"))
        gpus = sum(len(s["gpus"]) for s in report["systems"])
        errors = sum(s["status"] == "error" for s in report["systems"])
    print(f"lab: {args.hosts} host snapshots ({gpus} GPUs, {errors} unreadable), profile {args.profile}")
    print(
        f"library (judge + JSON/HTML/Markdown reports): {library:6.2f} s  {args.hosts / library:8.0f} hosts/s"
    )
    print(
        f"pack (pytest -n {args.workers}, all reports):      {pack:6.2f} s  {args.hosts / pack:8.0f} hosts/s"
    )
    print(f"pack / library time ratio: {pack / library:.1f}x   pytest: {summary}")
    print(f"goal: {args.hosts} hosts under 30 s -> {'met' if pack < 30 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
