"""The benchmark tests of the in-VM suite: isolated runs, judged figures, pytest-benchmark replay, report."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from eflowgpu.bench.results import BenchFailure, BenchResult
from eflowgpu.bench.workloads import BENCHMARKS
from eflowgpu.criteria import Status
from eflowgpu.matrix import Matrix
from eflowgpu.pytest_plugin.benchcases import BenchCase, GpuContext, ReplayTimer, bench_cases, report_entry
from eflowgpu.pytest_plugin.session import speedups
from eflowgpu.report.html import render_html

from helpers import PROJECT


def test_replay_timer_reports_the_measured_durations() -> None:
    timer = ReplayTimer()
    timer.load((0.5, 0.25))
    rounds = []
    for _ in range(2):
        start = timer()
        rounds.append(timer() - start)
    assert rounds == [0.5, 0.25]


def result(bench_id: str, value: float, unit: str = "GB/s") -> BenchResult:
    return BenchResult(
        bench_id,
        value,
        unit,
        (0.02, 0.021, 0.02),
        0.03,
        0.02,
        (value * 0.9, value * 1.1),
        3,
        "stable",
        "256 MiB pinned buffer",
    )


def test_report_entries_judge_against_the_reference(matrix: Matrix) -> None:
    t4 = GpuContext(matrix.gpus["t4"], "DDA")
    case = BenchCase("h2d_pinned", "cuda", "GB/s", "copies", "quick")
    good = report_entry(matrix, case, result("h2d_pinned", 12.1), t4)
    assert (
        good["status"] == "pass" and good["reference"] == 12.3 and good["samples"] == 3 and good["cv"] == 0.03
    )
    slow = report_entry(matrix, case, result("h2d_pinned", 6.1), t4)  # a link at x8
    assert slow["status"] == "fail" and slow["ratio"] == pytest.approx(6.1 / 12.3, rel=1e-3)
    hung = report_entry(matrix, case, BenchFailure("h2d_pinned", "hung: no result after 60 s"), t4)
    assert hung["status"] == "fail" and hung["value"] is None and "hung" in hung["detail"]
    gone = report_entry(matrix, case, BenchFailure("h2d_pinned", "unavailable: CUDA is not available"), t4)
    assert gone["status"] == Status.SKIP.value


def test_speedups_and_chart(matrix: Matrix) -> None:
    t4 = GpuContext(matrix.gpus["t4"], "DDA")
    entries = [
        report_entry(
            matrix,
            BenchCase("gemm_fp32", "cuda", "TFLOP/s", "", "quick"),
            result("gemm_fp32", 5.0, "TFLOP/s"),
            t4,
        ),
        report_entry(
            matrix,
            BenchCase("cpu_gemm_fp32", "cpu", "TFLOP/s", "", "quick"),
            result("cpu_gemm_fp32", 0.2, "TFLOP/s"),
            t4,
        ),
    ]
    assert speedups(entries) == {"gemm_fp32": 25.0}
    report = {
        "format": "eflow-gpu-report/1",
        "generated_at": "x",
        "matrix": {"profile": "p"},
        "systems": [
            {
                "host": "h",
                "source": "s",
                "status": "ok",
                "error": None,
                "os": None,
                "gpus": [],
                "vm": {
                    "passthrough": "DDA",
                    "gpus": [],
                    "criteria": [],
                    "benchmarks": entries,
                    "speedups": speedups(entries),
                },
            }
        ],
    }
    page = render_html(report)
    assert page.count('<svg class="bench-chart"') == 1
    assert page.count("<rect ") == 1  # only the judged figure is charted
    assert "GPU/CPU speedup: gemm_fp32 25x the CPU" in page


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The benchmark suite run for real (CPU GEMM, plus one CUDA id that is unavailable here)."""
    out = tmp_path_factory.mktemp("bench")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites/vm/test_benchmarks.py",
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
            "-k",
            "cpu_gemm_fp32 or h2d_pinned",
            "--report-dir",
            str(out),
            "--benchmark-json",
            str(out / "bench.json"),
            "-q",
            "-rs",
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return out, done


def test_cpu_benchmark_runs_and_lands_in_the_report(
    bench_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, done = bench_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed, 1 skipped" in done.stdout
    assert "h2d_pinned: unavailable: CUDA is not available" in done.stdout
    report = json.loads((out / "compat-report.json").read_text())
    (system,) = report["systems"]
    entries: dict[str, Any] = {e["id"]: e for e in system["vm"]["benchmarks"]}
    gemm = entries["cpu_gemm_fp32"]
    assert gemm["value"] > 0 and gemm["unit"] == "TFLOP/s" and gemm["samples"] >= 5
    assert gemm["cv"] is not None and 0 <= gemm["cv"] < 5 and gemm["status"] == "skip"  # CV varies with load
    assert entries["h2d_pinned"]["status"] == "skip" and entries["h2d_pinned"]["value"] is None


def test_pytest_benchmark_gets_the_samples_and_the_figure(
    bench_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = bench_run
    data = json.loads((out / "bench.json").read_text())
    (bench,) = [b for b in data["benchmarks"] if b["name"] == "test_benchmark[cpu_gemm_fp32]"]
    report = json.loads((out / "compat-report.json").read_text())
    entry = next(e for e in report["systems"][0]["vm"]["benchmarks"] if e["id"] == "cpu_gemm_fp32")
    assert bench["extra_info"]["value"] == entry["value"]
    assert bench["stats"]["median"] == pytest.approx(entry["median_s"], rel=1e-6)  # replayed, not re-timed
    assert bench["stats"]["rounds"] == entry["samples"]
    assert data["machine_info"]["eflowgpu"]["passthrough"] == "none"


def test_allure_run_metadata_is_written(bench_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = bench_run
    environment = (out / "allure-results" / "environment.properties").read_text(encoding="utf-8")
    assert "level=quick" in environment and "vm.mode=live" in environment
    categories = json.loads((out / "allure-results" / "categories.json").read_text(encoding="utf-8"))
    assert any("Infrastructure" in c["name"] for c in categories)


FAKE_RUNNER = '''
"""Replaces the isolated benchmark runner with one that only records when it ran (no real work)."""

import os
import time
from pathlib import Path

from eflowgpu.bench.results import BenchFailure
from eflowgpu.pytest_plugin import benchcases


def fake_isolated_runner():
    def run(case):
        start = time.time()
        time.sleep(0.15)
        line = f"{os.getpid()} {case.bench_id} {case.device} {start} {time.time()}\\n"
        with Path(os.environ["BENCH_LOG"]).open("a") as log:
            log.write(line)
        return BenchFailure(case.bench_id, "unavailable: fake runner")

    return run


benchcases.isolated_runner = fake_isolated_runner
'''


def test_benchmarks_never_run_at_the_same_time_under_xdist(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pytest suites/vm/test_benchmarks.py -n 2``: the workers take turns (timestamps from both)."""
    (pytester.path / "suites" / "vm").mkdir(parents=True)
    shutil.copyfile(
        PROJECT / "suites" / "vm" / "test_benchmarks.py", pytester.path / "suites/vm/test_benchmarks.py"
    )
    shutil.copyfile(PROJECT / "matrix.yaml", pytester.path / "matrix.yaml")
    pytester.makeini("[pytest]\neflowgpu_pack = true\naddopts = -p no:cacheprovider\n")
    pytester.makeconftest(FAKE_RUNNER)
    log = pytester.path / "bench.log"
    monkeypatch.setenv("BENCH_LOG", str(log))
    result = pytester.runpytest_subprocess("suites/vm/test_benchmarks.py", "-n", "2", "--report-dir", "out")
    assert result.ret == pytest.ExitCode.OK, "\n".join(result.outlines[-30:])
    runs = sorted(
        (float(s), float(e), pid) for pid, _, _, s, e in (x.split() for x in log.read_text().splitlines())
    )
    assert len(runs) == len(BENCHMARKS)  # one GPU at most here: every benchmark once
    assert len({pid for _, _, pid in runs}) == 2, "both workers ran benchmarks"
    for (_, end, _), (start, _, _) in itertools.pairwise(runs):
        assert start >= end, "two benchmarks overlapped"


def test_every_gpu_gets_its_own_cases() -> None:
    cases = bench_cases("quick", 2)
    cuda = [c for c in cases if c.gpu_index is not None]
    assert len(cuda) == 2 * sum(info.kind == "cuda" for info in BENCHMARKS)
    assert {c.device for c in cuda} == {"cuda:0", "cuda:1"}
    assert "gemm_fp32-cuda1" in [c.test_id for c in cases] and "cpu_gemm_fp32" in [c.test_id for c in cases]
    assert [c.device for c in bench_cases("quick", 0) if c.bench_id == "gemm_fp32"] == ["cuda:0"]
