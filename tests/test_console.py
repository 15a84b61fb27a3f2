"""The pack's terminal summary: counts first, then one actionable line per blocking criterion."""

from __future__ import annotations

from typing import Any

from eflowgpu.evaluate import evaluate_host_files
from eflowgpu.matrix import Matrix
from eflowgpu.report.console import summary_lines
from eflowgpu.report.model import build_report

from helpers import PROJECT


def lab_report(matrix: Matrix) -> dict[str, Any]:
    files = sorted((PROJECT / "fixtures" / "hosts").glob("*.json"))
    profile = matrix.profile("ga-2022-06")
    return build_report(matrix, profile, evaluate_host_files(matrix, profile, files))


def test_summary_lines_over_the_lab(matrix: Matrix) -> None:
    report = lab_report(matrix)
    lines = summary_lines(report)
    assert lines[0].startswith(f"profile ga-2022-06: {len(report['systems'])} system(s): ")
    assert "2 error" in lines[0]
    assert any(line.startswith("ERROR corrupt-truncated: not valid JSON") for line in lines)
    disk = [line for line in lines if "LAB-1650-LOWDISK /" in line]
    assert disk == [disk[0]] and "host.disk fail" in disk[0] and "To fix: free at least 10 GB" in disk[0]
    assert "SYSTEM NOT-ELIGIBLE LAB-1650-LOWDISK" in lines
    assert not any("LAB-T4-SRV2022 " in line for line in lines)  # eligible systems are not listed
    assert all("\n" not in line for line in lines)


def test_summary_lines_are_capped(matrix: Matrix) -> None:
    lines = summary_lines(lab_report(matrix), limit=3)
    assert len(lines) == 5
    assert lines[-1].startswith("... and ") and "see report.md" in lines[-1]


def test_strict_line_says_what_the_run_decides(matrix: Matrix) -> None:
    report = lab_report(matrix)
    rejected = sum(s["verdict"] not in ("eligible", "eligible-with-warnings") for s in report["systems"])
    assert (
        summary_lines(report, strict=True)[-1]
        == f"--strict: {rejected} system(s) not eligible: the run fails"
    )
    assert not any(line.startswith("--strict") for line in summary_lines(report))


def test_vm_criteria_and_benchmarks_are_listed_with_detail() -> None:
    report = {
        "matrix": {"profile": "p"},
        "systems": [
            {
                "host": "H",
                "status": "ok",
                "verdict": "not-eligible",
                "gpus": [],
                "vm": {
                    "vm": "H-EFLOW",
                    "status": "ok",
                    "criteria": [
                        {"id": "vm.driver", "status": "fail", "required": True, "detail": "470 < 525",
                         "remedy": "install 525 or newer"},
                        {"id": "vm.memory", "status": "warn", "required": False, "detail": "1024 MiB"},
                    ],
                    "benchmarks": [
                        {"id": "h2d_pinned", "device": "cuda:1", "status": "fail", "detail": "6 < 9"}
                    ],
                },
            }
        ],
    }  # fmt: skip
    lines = summary_lines(report)
    assert "SYSTEM NOT-ELIGIBLE H" in lines
    assert "VM H / VM H-EFLOW / vm.driver fail: 470 < 525. To fix: install 525 or newer" in lines
    assert "BENCHMARK H / VM H-EFLOW / h2d_pinned (cuda:1) fail: 6 < 9" in lines
    assert not any("vm.memory" in line for line in lines)  # a warning does not block
