"""The pack's terminal summary: counts first, then one actionable line per blocking criterion."""

from __future__ import annotations

from eflowgpu.evaluate import evaluate_host_files
from eflowgpu.matrix import Matrix
from eflowgpu.report.console import summary_lines

from helpers import PROJECT


def test_summary_lines_over_the_lab(matrix: Matrix) -> None:
    files = sorted((PROJECT / "fixtures" / "hosts").glob("*.json"))
    systems = evaluate_host_files(matrix, matrix.profile("ga-2022-06"), files)
    lines = summary_lines(systems, "ga-2022-06")
    assert lines[0].startswith(f"profile ga-2022-06: {len(systems)} system(s)")
    assert "2 system(s) in error" in lines[0]
    assert any(line.startswith("ERROR corrupt-truncated: not valid JSON") for line in lines)
    disk = [line for line in lines if "LAB-1650-LOWDISK" in line]
    assert disk == [disk[0]] and "host.disk fail" in disk[0] and "To fix: free at least 10 GB" in disk[0]
    assert not any("LAB-T4-SRV2022 " in line for line in lines)  # eligible GPUs are not listed
    assert all("\n" not in line for line in lines)


def test_summary_lines_are_capped(matrix: Matrix) -> None:
    files = sorted((PROJECT / "fixtures" / "hosts").glob("*.json"))
    systems = evaluate_host_files(matrix, matrix.profile("ga-2022-06"), files)
    lines = summary_lines(systems, "ga-2022-06", limit=3)
    assert len(lines) == 5
    assert lines[-1].startswith("... and ") and "see report.md" in lines[-1]
