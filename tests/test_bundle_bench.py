"""Benchmark figures in a package: not re-measurable, so checked against the pytest-benchmark samples.

The data is a real CPU-only in-VM run (``pytest suites/vm --benchmark-json``): its
``benchmark.json`` as pytest-benchmark wrote it (with the raw samples), and the report's
``vm.benchmarks`` entries of the same run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eflowgpu.bundle.benchcheck import check_benchmarks

from helpers import PROJECT

DATA = PROJECT / "tests" / "data" / "bundle"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def files(document: Any) -> dict[str, bytes]:
    return {"report/benchmark.json": json.dumps(document).encode()}


def entries(report: dict[str, Any]) -> list[dict[str, Any]]:
    benchmarks: list[dict[str, Any]] = report["systems"][0]["vm"]["benchmarks"]
    return benchmarks


def test_the_recorded_run_is_consistent_and_says_what_was_not_re_measured() -> None:
    report, recorded = load("cpu-report-benchmarks.json"), load("cpu-benchmark.json")
    result = check_benchmarks(report, files(recorded))
    assert result.problems == []
    assert result.checked == 2  # cpu_gemm_fp32 and cpu_resnet50_fp32; the GPU ones did not run here
    assert result.notes == [
        "benchmark figures cannot be re-measured from snapshots: 2 figure(s) are checked for consistency "
        "with the packaged pytest-benchmark samples instead"
    ]


def test_an_edited_figure_or_sample_is_caught() -> None:
    report, recorded = load("cpu-report-benchmarks.json"), load("cpu-benchmark.json")
    gemm = next(e for e in entries(report) if e["id"] == "cpu_gemm_fp32")
    gemm["value"] = round(gemm["value"] * 3, 4)
    result = check_benchmarks(report, files(recorded))
    assert len(result.problems) == 1
    assert result.problems[0].startswith("benchmark cpu_gemm_fp32 (report/benchmark.json): the report says ")

    report = load("cpu-report-benchmarks.json")
    samples = recorded["benchmarks"][0]["stats"]["data"]
    recorded["benchmarks"][0]["stats"]["data"] = [s / 2 for s in samples]
    result = check_benchmarks(report, files(recorded))
    assert any("the recorded samples' median is" in p for p in result.problems)

    recorded = load("cpu-benchmark.json")
    recorded["benchmarks"][1]["stats"]["rounds"] += 1
    result = check_benchmarks(report, files(recorded))
    assert any("samples in the report" in p and "rounds recorded" in p for p in result.problems)


def test_figures_without_a_record_or_without_any_benchmark_json() -> None:
    report, recorded = load("cpu-report-benchmarks.json"), load("cpu-benchmark.json")
    recorded["benchmarks"] = recorded["benchmarks"][:1]
    result = check_benchmarks(report, files(recorded))
    assert result.problems == [
        "benchmark cpu_resnet50_fp32: in the report, but in no pytest-benchmark record"
    ]
    result = check_benchmarks(report, {})
    assert result.problems == []
    assert "the package has no pytest-benchmark JSON: the figures are not checked" in result.notes
    assert check_benchmarks({"systems": []}, {}).notes == ["the report has no measured benchmark figures"]


def test_the_data_is_what_pytest_benchmark_wrote() -> None:
    recorded = load("cpu-benchmark.json")
    assert {"machine_info", "commit_info", "benchmarks", "datetime", "version"} <= set(recorded)
    assert Path(DATA / "cpu-benchmark.json").stat().st_size < 64 * 1024
