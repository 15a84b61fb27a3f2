"""The in-VM benchmark tests: each runs one benchmark in an isolated worker with a hard timeout,
judges its figure against the matrix's reference, and hands its samples to pytest-benchmark.

pytest-benchmark times a callable itself; here the figures come from CUDA events (or
``perf_counter`` on the CPU) in the worker, so :class:`ReplayTimer` replays the measured sample
durations as pytest-benchmark's timer (its public ``timer`` marker option). ``--benchmark-save``,
``--benchmark-compare`` and ``--benchmark-compare-fail`` then gate regressions on the real samples.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from eflowgpu.bench.results import BenchFailure, BenchmarkUnavailable, BenchResult
from eflowgpu.bench.stats import per_operation
from eflowgpu.criteria import Status
from eflowgpu.matrix import CatalogGpu, Matrix
from eflowgpu.rules.benchmarks import judge_figure

PROPERTY = "eflowgpu_benchmark"
"""The JUnit/report property that carries a benchmark's report entry to the xdist controller."""


@dataclass
class ReplayTimer:
    """A pytest-benchmark timer that replays measured sample durations, one per round."""

    samples: list[float] = field(default_factory=list)
    _now: float = 0.0
    _pending: float | None = None

    def load(self, samples: tuple[float, ...]) -> None:
        """The durations the next ``benchmark.pedantic`` rounds report, in order."""
        self.samples = list(samples)
        self._pending = None

    def __call__(self) -> float:
        """pytest-benchmark calls the timer before and after each round."""
        if self._pending is None:
            self._pending = self.samples.pop(0) if self.samples else 0.0
            return self._now
        self._now += self._pending
        self._pending = None
        return self._now


@dataclass(frozen=True)
class BenchCase:
    """One benchmark of the in-VM suite."""

    bench_id: str
    device: str
    unit: str
    what: str
    level: str
    timer: ReplayTimer = field(default_factory=ReplayTimer, compare=False)

    def __repr__(self) -> str:
        return f"{self.bench_id} ({self.device}, {self.level})"

    @property
    def gpu_index(self) -> int | None:
        """The GPU this case measures (``cuda:N``), or None for a CPU case."""
        return int(self.device.partition(":")[2] or 0) if self.device.startswith("cuda") else None

    @property
    def test_id(self) -> str:
        """The test id: ``gemm_fp32-cuda0``, ``cpu_gemm_fp32``."""
        return (
            f"{self.bench_id}-{self.device.replace(':', '')}" if self.gpu_index is not None else self.bench_id
        )


def bench_cases(level: str, gpus: int) -> list[BenchCase]:
    """Every benchmark of the registry at ``level``: the CUDA ones once per GPU (``cuda:N``, at
    least ``cuda:0``, which skips with the reason on a machine without one), the CPU ones once."""
    from eflowgpu.bench.workloads import BENCHMARKS

    cases = []
    for index in range(max(1, gpus)):
        cases += [
            BenchCase(info.id, f"cuda:{index}", info.unit, info.measures, level)
            for info in BENCHMARKS
            if info.kind == "cuda"
        ]
    cases += [
        BenchCase(info.id, info.kind, info.unit, info.measures, level)
        for info in BENCHMARKS
        if info.kind != "cuda"
    ]
    return cases


LOCK_NAME = "eflowgpu-benchmarks.lock"


@contextmanager
def machine_lock(folder: Path | None = None) -> Iterator[None]:
    """Hold the machine's benchmark lock: one benchmark at a time on this machine, whichever
    process (xdist worker, another run) runs it. Waits for the holder to finish."""
    path = (folder or Path(tempfile.gettempdir())) / LOCK_NAME
    with path.open("a+b") as handle:
        if sys.platform == "win32":  # pragma: no cover - Windows only
            import msvcrt

            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:  # LK_LOCK gives up after 10 s; keep waiting
                    continue
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@dataclass(frozen=True)
class GpuContext:
    """What the figure is judged against: the VM's GPU product and passthrough type."""

    model: CatalogGpu | None
    passthrough: str


def report_entry(
    matrix: Matrix, case: BenchCase, outcome: BenchResult | BenchFailure, gpu: GpuContext
) -> dict[str, Any]:
    """The report's ``vm.benchmarks[]`` object for an outcome."""
    if isinstance(outcome, BenchFailure):
        status = Status.SKIP if outcome.kind == "unavailable" else Status.FAIL
        return {
            "id": case.bench_id,
            "value": None,
            "unit": case.unit,
            "reference": None,
            "threshold": None,
            "ratio": None,
            "status": status.value,
            "samples": 0,
            "cv": None,
            "device": case.device,
            "level": case.level,
            "detail": outcome.reason,
        }
    model = gpu.model if case.device.startswith("cuda") else None
    judged = judge_figure(matrix, model, gpu.passthrough, case.bench_id, outcome.value, outcome.unit)
    return {
        "id": case.bench_id,
        "value": round(outcome.value, 4),
        "unit": outcome.unit,
        "reference": judged.reference,
        "threshold": judged.threshold,
        "ratio": judged.ratio,
        "status": judged.status.value,
        "samples": outcome.n,
        "cv": round(outcome.cv, 5),
        "median_s": outcome.median_s,
        "spread": list(outcome.spread),
        "stopped_because": outcome.stopped_because,
        "device": case.device,
        "level": case.level,
        "note": outcome.note,
        "extra": dict(outcome.extra),
        "detail": judged.detail,
    }


def run_case(
    case: BenchCase,
    benchmark: Any,
    record_property: Callable[[str, object], None],
    *,
    matrix: Matrix,
    gpu: GpuContext,
    run: Callable[[BenchCase], BenchResult | BenchFailure],
) -> None:
    """Run, judge, record and replay one benchmark; fail, skip or pass as its outcome says."""
    outcome = run(case)
    entry = report_entry(matrix, case, outcome, gpu)
    record_property(PROPERTY, json.dumps(entry, sort_keys=True))
    if isinstance(outcome, BenchFailure):
        if outcome.kind == "unavailable":
            pytest.skip(f"{case.bench_id}: {outcome.reason}")
        pytest.fail(f"{case.bench_id}: {outcome.reason}", pytrace=False)
    benchmark.extra_info.update({k: v for k, v in entry.items() if k not in ("spread", "extra")})
    case.timer.load(per_operation(outcome.samples, outcome.extra.get("repeats_per_sample")))
    benchmark.pedantic(_nothing, rounds=max(1, outcome.n), iterations=1)
    if entry["status"] == Status.FAIL.value:
        pytest.fail(f"{case.bench_id}: {entry['detail']}", pytrace=False)


def _nothing() -> None:
    """The round body pytest-benchmark times; the replayed timer gives the measured duration."""


def isolated_runner() -> Callable[[BenchCase], BenchResult | BenchFailure]:
    """Run a case in a worker process with the level's hard timeout (a hung GPU fails that test only).

    A PyTorch without CUDA support (the CPU build) makes every CUDA case unavailable at once,
    without starting a worker per case; CUDA itself is only ever initialised in the workers.
    """
    from eflowgpu.bench.levels import LEVELS
    from eflowgpu.bench.runner import run_isolated

    def run(case: BenchCase) -> BenchResult | BenchFailure:
        if case.gpu_index is not None and (reason := _no_cuda_build()) is not None:
            return BenchFailure(case.bench_id, f"unavailable: CUDA is not available: {reason}")
        level = LEVELS[case.level]
        return run_isolated(
            case.bench_id, case.level, case.device, timeout_s=level.hard_timeout(case.bench_id)
        )

    return run


def _no_cuda_build() -> str | None:
    """Why this PyTorch cannot use CUDA at all (a CPU-only build, or none installed), else None."""
    try:
        from eflowgpu.bench.torchlib import torch
    except BenchmarkUnavailable as exc:
        return str(exc)
    if torch.version.cuda is None:
        return f"this PyTorch build has no CUDA support (torch {torch.__version__})"
    return None


def check_remote(
    case: BenchCase, entry: dict[str, Any] | None, record_property: Callable[[str, object], None]
) -> None:
    """A benchmark that ran inside the VM (through a transport): pass, fail or skip as it did there."""
    if entry is None:
        pytest.skip(f"{case.bench_id}: the in-VM run reported no figure for it")
    record_property(PROPERTY, json.dumps(entry, sort_keys=True))
    detail = str(entry.get("detail") or "")
    if entry.get("status") == Status.FAIL.value:
        pytest.fail(f"{case.bench_id} (in the VM): {detail}", pytrace=False)
    if entry.get("status") in (Status.SKIP.value, Status.UNKNOWN.value) and entry.get("value") is None:
        pytest.skip(f"{case.bench_id} (in the VM): {detail}")
