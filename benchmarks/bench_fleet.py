"""Benchmark: merging 500 compat-report.json files into a fleet report (issue: done-when < 10 s).

Evaluates the sample lab (fixtures/hosts) under both profiles with the library, then writes N
reports as 100 sites x N/100 runs: each site's copy has its own host labels (``LAB-…-S042``), its
runs are a day apart (so the merge keeps the newest and the history of each host), a few GPU
verdicts change from run to run, and the catalog GPUs get in-VM benchmark figures (some below their
threshold). Then times:

1. the library: :func:`merge_reports` + render + :func:`write_fleet` (JSON, HTML, Markdown);
2. the command line end to end: ``python -m eflowgpu fleet LAB --out DIR --baseline … --mix-profiles``.

Both profiles' reports are merged on purpose (``mix_profiles``): each host once per profile.

    python benchmarks/bench_fleet.py [--reports 500] [--sites 100] [--keep DIR]

Prints both figures; exits 1 when the library misses the goal.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eflowgpu.evaluate import evaluate_host_files
from eflowgpu.fleet import merge_reports, write_fleet
from eflowgpu.matrix import load_matrix
from eflowgpu.report.model import build_report

PROJECT = Path(__file__).resolve().parents[1]
GOAL_S = 10.0
VERDICTS = ("eligible", "eligible-with-warnings", "incomplete", "not-eligible", "unsupported")
REFERENCES = {"h2d_pinned": (12.3, "GB/s"), "d2h_pinned": (13.1, "GB/s"), "d2d": (238.0, "GB/s")}


def lab_reports() -> list[dict[str, Any]]:
    """The sample lab's report under each profile of the matrix."""
    matrix = load_matrix(PROJECT / "matrix.yaml")
    hosts = sorted((PROJECT / "fixtures" / "hosts").glob("*.json"))
    reports = []
    for key in ("preview-2021-06", "ga-2022-06"):
        profile = matrix.profile(key)
        reports.append(build_report(matrix, profile, evaluate_host_files(matrix, profile, hosts)))
    return reports


def _benchmarks(rng: random.Random, weak: bool) -> list[dict[str, Any]]:
    out = []
    for bench_id, (reference, unit) in REFERENCES.items():
        value = reference * (rng.uniform(0.55, 0.72) if weak else rng.uniform(0.8, 1.05))
        threshold = round(reference * 0.75, 4)
        out.append(
            {
                "id": bench_id,
                "value": round(value, 4),
                "unit": unit,
                "reference": reference,
                "threshold": threshold,
                "ratio": round(value / reference, 4),
                "status": "pass" if value >= threshold else "fail",
                "samples": 15,
                "cv": 0.004,
            }
        )
    return out


def generate(target: Path, count: int, sites: int) -> list[Path]:
    """Write ``count`` reports under ``target`` (``site-NNN/run-NN/compat-report.json``)."""
    bases = lab_reports()
    rng = random.Random(42)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    paths = []
    for i in range(count):
        site, run = i % sites, i // sites
        report = copy.deepcopy(bases[(site + run) % len(bases)])
        when = start + timedelta(days=run, minutes=site)
        report["generated_at"] = when.isoformat().replace("+00:00", "Z")
        for system in report["systems"]:
            system["host"] = f"{system['host']}-S{site:03d}"
            for gpu in system["gpus"]:
                if rng.random() < 0.05:
                    gpu["verdict"] = rng.choice(VERDICTS)
            if system["status"] == "ok" and any(g.get("model") for g in system["gpus"]):
                vm = system.get("vm") or {"source": None, "passthrough": None, "gpus": [], "criteria": []}
                vm["benchmarks"] = _benchmarks(rng, weak=rng.random() < 0.08)
                system["vm"] = vm
        path = target / f"site-{site:03d}" / f"run-{run:02d}" / "compat-report.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report), encoding="utf-8")
        paths.append(path)
    return paths


def main() -> int:
    """Generate, time, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=500)
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="write the lab and the fleet here instead of a temp folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        lab, out_lib, out_cli = root / "lab", root / "fleet-lib", root / "fleet-cli"
        began = time.perf_counter()
        paths = generate(lab, args.reports, args.sites)
        size = sum(p.stat().st_size for p in paths)
        print(f"generated {len(paths)} reports ({size / 1e6:.1f} MB) in {time.perf_counter() - began:.1f} s")

        began = time.perf_counter()
        fleet = merge_reports(paths, mix_profiles=True)  # the lab is judged by both profiles
        merged = time.perf_counter() - began
        write_fleet(out_lib, fleet)
        library = time.perf_counter() - began
        html_size = (out_lib / "fleet.html").stat().st_size
        print(
            f"library: merge {merged:.2f} s, merge + render + write {library:.2f} s "
            f"({len(fleet.systems)} systems, {len(fleet.cells)} cells, {len(fleet.input_errors)} input "
            f"errors, fleet.html {html_size / 1e6:.1f} MB)"
        )

        command = [
            sys.executable,
            "-m",
            "eflowgpu",
            "fleet",
            str(lab),
            "--out",
            str(out_cli),
            "--mix-profiles",
        ]
        command += ["--baseline", str(out_lib / "fleet.json")]
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROJECT)
        cli = time.perf_counter() - began
        print(f"cli (with --baseline): {cli:.2f} s end to end, exit {done.returncode}: {done.stdout.strip()}")
        if done.returncode not in (0, 1):
            print(done.stderr[-2000:], file=sys.stderr)
            return 1
        verdict = "met" if library < GOAL_S else "MISSED"
        print(
            f"goal: {args.reports} reports under {GOAL_S:g} s: {verdict} "
            f"({library:.2f} s library, {cli:.2f} s cli)"
        )
        return 0 if library < GOAL_S and cli < GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
