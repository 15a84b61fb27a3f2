"""The regression gate told by the pack: pytest-benchmark's findings become one line and a report entry."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from eflowgpu.report.gate import (
    GateCheck,
    apply_gate,
    bench_id_of,
    exit_status,
    gate_checks,
    gate_outcome,
    take_from_pytest_benchmark,
)

# pytest-benchmark 5.x's message (utils.RegressionCheck.fails), as the failed run printed it
MESSAGE = "Field 'median' has failed PercentageRegressionCheck: 91.812345678 > 10.000000000"
NAME = "test_benchmark[cpu_gemm_fp32]"


class PercentageRegressionCheck:
    """Stands in for pytest_benchmark.utils.PercentageRegressionCheck: the same two attributes."""

    def __init__(self, field: str, threshold: float) -> None:
        self.field = field
        self.threshold = threshold


@dataclass
class FakeBenchmarkSession:
    """The two attributes of pytest-benchmark's session the pack reads and empties."""

    compare_fail: list[object] = field(default_factory=list)
    performance_regressions: list[tuple[str, str]] = field(default_factory=list)
    compared_mapping: dict[str, dict[str, Any]] = field(default_factory=dict)


def _report(cv: float, *others: dict[str, Any]) -> dict[str, Any]:
    entry = {"id": "cpu_gemm_fp32", "value": 0.2, "unit": "TFLOP/s", "status": "skip", "cv": cv}
    return {"systems": [{"host": "vm", "vm": {"benchmarks": [entry, *others]}}], "run": {"mode": "none"}}


def test_a_precise_figure_that_moved_is_a_regression_with_one_line() -> None:
    checks = gate_checks([PercentageRegressionCheck("median", 10)])
    assert checks == [GateCheck("median", 10.0, True)] and checks[0].text == "median:10%"
    (failure,) = gate_outcome([(NAME, MESSAGE)], checks, {"cpu_gemm_fp32": {"cv": 0.008}})
    assert failure.gated and failure.bench_id == "cpu_gemm_fp32"
    assert failure.message == (
        "REGRESSION cpu_gemm_fp32: median sample time +91.8% against the baseline, past the gate's median:10%"
    )
    assert "\n" not in failure.message
    assert exit_status([failure]) == 1


def test_a_figure_noisier_than_the_tolerance_is_reported_not_gated() -> None:
    checks = [GateCheck("median", 10.0)]
    (failure,) = gate_outcome([(NAME, MESSAGE)], checks, {"cpu_gemm_fp32": {"cv": 0.42}})
    assert not failure.gated
    assert failure.message.startswith("NOT GATED cpu_gemm_fp32")
    assert "CV 0.42" in failure.message
    assert exit_status([failure]) is None


def test_the_report_records_the_gate_and_marks_noisy_figures() -> None:
    report = _report(0.008, {"id": "h2d_pinned", "value": 9.0, "cv": 0.3}, {"id": "d2d", "cv": 0.01})
    before = copy.deepcopy(report)
    failures = gate_outcome([(NAME, MESSAGE)], [GateCheck("median", 10.0)], {"cpu_gemm_fp32": {"cv": 0.008}})
    apply_gate(report, failures, [GateCheck("median", 10.0)])
    assert report != before
    gate = report["run"]["regression_gate"]
    assert gate["checks"] == ["median:10%"]
    assert gate["failures"][0]["gated"] is True and gate["failures"][0]["message"].startswith("REGRESSION")
    gemm, h2d, d2d = report["systems"][0]["vm"]["benchmarks"]
    assert gemm["gate"]["status"] == "fail"
    assert h2d["gate"] == {
        "gated": False,
        "status": "noisy",
        "detail": "spread (CV 0.30) wider than the gate's median:10%: not gated as a precise figure",
    }
    assert d2d["gate"] == {"gated": True, "status": "pass", "detail": None}


def test_pytest_benchmarks_list_is_taken_over_so_it_raises_no_traceback() -> None:
    session = FakeBenchmarkSession([PercentageRegressionCheck("median", 10)], [(NAME, MESSAGE)])
    report = _report(0.01)
    failures = take_from_pytest_benchmark(session, report)
    assert [f.gated for f in failures] == [True]
    assert session.performance_regressions == []  # check_regressions() then has nothing to raise
    assert report["run"]["regression_gate"]["failures"][0]["id"] == "cpu_gemm_fp32"


def test_without_a_comparison_nothing_is_recorded() -> None:
    for session in (None, FakeBenchmarkSession(), FakeBenchmarkSession([], [(NAME, MESSAGE)])):
        report = _report(0.01)
        assert take_from_pytest_benchmark(session, report) == []
        assert "regression_gate" not in report["run"]


def test_unparsable_messages_and_names_are_kept() -> None:
    assert bench_id_of("test_benchmark[d2d]") == "d2d" and bench_id_of("plain") == "plain"
    (failure,) = gate_outcome([("x", "something else")], [GateCheck("mean", 5.0)], {})
    assert failure.gated and failure.bench_id == "x" and failure.field == "mean"


def test_the_baseline_spread_decides_precision_when_the_saved_run_has_one() -> None:
    """A degraded run is noisier than its baseline: the baseline's spread (unchanged hardware) counts."""
    saved = {"history/0001_baseline.json": {NAME: {"extra_info": {"cv": 0.01}, "stats": {}}}}
    session = FakeBenchmarkSession([PercentageRegressionCheck("median", 10)], [(NAME, MESSAGE)], saved)
    report = _report(0.4)  # this run is noisy, the baseline was not
    (failure,) = take_from_pytest_benchmark(session, report)
    assert failure.gated and failure.cv == 0.01
    noisy_baseline = {"h": {NAME: {"extra_info": {"cv": 0.3}}}}
    session = FakeBenchmarkSession(
        [PercentageRegressionCheck("median", 10)], [(NAME, MESSAGE)], noisy_baseline
    )
    (failure,) = take_from_pytest_benchmark(session, _report(0.01))
    assert not failure.gated and "spread on unchanged hardware (CV 0.30)" in failure.message
