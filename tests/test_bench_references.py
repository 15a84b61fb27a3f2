"""Benchmark references from the matrix and their judgement (DCGM: a fraction of a known-good figure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eflowgpu.criteria import Status
from eflowgpu.errors import MatrixError
from eflowgpu.matrix import Matrix, load_matrix
from eflowgpu.rules.benchmarks import judge_figure


def test_measured_reference_wins_and_is_per_passthrough(matrix: Matrix) -> None:
    t4 = matrix.gpus["t4"]
    dda = matrix.benchmarks.reference(t4, "DDA", "gemm_fp32")
    assert dda is not None and dda.value == 5.5 and "DCGM" in dda.source
    gpupv = matrix.benchmarks.reference(t4, "GPU-PV", "gemm_fp32")  # no measured GPU-PV figure: derived
    assert gpupv is not None and gpupv.value == pytest.approx(8.1 * 0.55) and "of the spec" in gpupv.source


def test_derived_references_state_their_factor(matrix: Matrix) -> None:
    ref = matrix.benchmarks.reference(matrix.gpus["rtx3060"], "GPU-PV", "h2d_pinned")
    assert ref is not None and ref.value == pytest.approx(0.8 * 1.969 * 16, rel=1e-3)
    assert ref.source.startswith("0.8 x PCIe Gen4 x16")
    assert (
        matrix.benchmarks.reference(matrix.gpus["gtx1650"], "GPU-PV", "gemm_fp16") is None
    )  # no tensor cores
    assert matrix.benchmarks.reference(None, "DDA", "d2d") is None


def test_judge_higher_and_lower_is_better(matrix: Matrix) -> None:
    t4 = matrix.gpus["t4"]
    good = judge_figure(matrix, t4, "DDA", "h2d_pinned", 12.0, "GB/s")
    assert good.status is Status.PASS and good.reference == 12.3 and good.threshold == pytest.approx(9.225)
    slow = judge_figure(matrix, t4, "DDA", "h2d_pinned", 6.2, "GB/s")  # a link trained at x8
    assert slow.status is Status.FAIL and slow.ratio == pytest.approx(6.2 / 12.3, rel=1e-3)
    unjudged = judge_figure(matrix, t4, "DDA", "launch_latency", 8.0, "us")
    assert unjudged.status is Status.SKIP and "not judged" in unjudged.detail
    cpu = judge_figure(matrix, None, "none", "cpu_gemm_fp32", 0.1, "TFLOP/s")
    assert cpu.status is Status.SKIP and "speedup" in cpu.detail


def test_bad_benchmark_entries_name_line_and_field(tmp_path: Path, project_root: Path) -> None:
    text = (project_root / "matrix.yaml").read_text(encoding="utf-8")
    for old, new, field in [
        (
            "        gemm_fp32: {value: 5.5,",
            "        gemm_fp33: {value: 5.5,",
            "benchmarks.measured[0].values.gemm_fp33",
        ),
        (
            "    - gpu: t4\n      passthrough: DDA\n      values:",
            "    - gpu: t5\n      passthrough: DDA\n      values:",
            "benchmarks.measured[0].gpu",
        ),
        ("  threshold: 0.75", "  threshold: 1.75", "benchmarks.threshold"),
    ]:
        assert old in text, old
        path = tmp_path / "matrix.yaml"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        with pytest.raises(MatrixError) as caught:
            load_matrix(path)
        assert caught.value.field == field
        assert caught.value.line is not None
