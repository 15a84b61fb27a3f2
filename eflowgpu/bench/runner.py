"""Each benchmark in a child process with a hard timeout: a hung GPU fails that benchmark, the run goes on.

:func:`run_isolated` starts ``[sys.executable, "-m", "eflowgpu.bench.worker", ...]`` in a new
session (its own process group), reads its outcome line (:data:`eflowgpu.bench.results.MARKER`)
and, at the hard timeout, kills the whole group (SIGKILL: a process stuck in the driver ignores
gentler signals) and returns a ``hung`` :class:`~eflowgpu.bench.results.BenchFailure`. The parent
never waits on the child without a timeout. Nothing here imports PyTorch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from eflowgpu.bench.levels import Level, resolve_level
from eflowgpu.bench.results import MARKER, BenchFailure, BenchResult, Json
from eflowgpu.bench.workloads import BENCHMARKS, benchmark_info

REAP_S = 5.0
"""After a kill, how long to wait for the pipes to close before giving up on them."""
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
"""The folder holding the ``eflowgpu`` package, put first on the worker's ``PYTHONPATH``."""


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def run_isolated(
    bench_id: str,
    level: str | Level,
    device: str | None = None,
    *,
    timeout_s: float | None = None,
    threads: int | None = None,
    fault: Literal["hang", "crash"] | None = None,
) -> BenchResult | BenchFailure:
    """Run one benchmark in a worker process; its result, or a :class:`BenchFailure` saying why not.

    ``timeout_s`` defaults to the level's :meth:`~Level.hard_timeout` for the benchmark; the worker's
    start-up (Python, torch, the CUDA context) counts against it. ``threads`` (default: the cores
    this process may use) sets torch's thread count and ``OMP_NUM_THREADS`` in the worker unless
    the environment already sets it. ``fault`` is the worker's test seam (``--fault``): ``hang``
    or ``crash`` instead of the benchmark. Failure reasons: ``hung: no result after N s``,
    ``crashed: exit code …, last stderr line …``, ``unavailable: …``, ``failed: …``, ``error: …``.
    """
    benchmark_info(bench_id)  # ValueError for an unknown id, before any process starts
    chosen = resolve_level(level)
    limit = timeout_s if timeout_s is not None else chosen.hard_timeout(bench_id)
    cores = threads if threads is not None else available_cores()
    command = [
        sys.executable,
        "-m",
        "eflowgpu.bench.worker",
        bench_id,
        "--level-json",
        json.dumps(chosen.to_json()),
    ]
    command += ["--threads", str(cores)]
    if device is not None:
        command += ["--device", device]
    if fault is not None:
        command += ["--fault", fault]
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(cores))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=os.name == "posix",
    )
    try:
        stdout, stderr = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        _kill(process)
        return BenchFailure(bench_id, f"hung: no result after {limit:g} s (worker killed)")
    return _outcome(bench_id, process.returncode, stdout, stderr)


def run_many(
    bench_ids: Iterable[str], level: str | Level, *, threads: int | None = None
) -> list[BenchResult | BenchFailure]:
    """:func:`run_isolated` for each id in turn, each on its registry device kind; one outcome per id."""
    return [run_isolated(bench_id, level, threads=threads) for bench_id in bench_ids]


def ids_of_kind(kind: Literal["cuda", "cpu"]) -> tuple[str, ...]:
    """The registry's ids that run on ``kind``, in registry order."""
    return tuple(info.id for info in BENCHMARKS if info.kind == kind)


def _kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL the worker's process group (the worker alone elsewhere), then reap it without hanging."""
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)  # the session leader's pid is the group id
        else:  # pragma: no cover - the benchmarks run in the Linux VM
            process.kill()
    except ProcessLookupError:
        pass
    try:
        process.communicate(timeout=REAP_S)
    except subprocess.TimeoutExpired:  # a grandchild outside the group holds the pipes
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        process.wait(timeout=REAP_S)


def _outcome(bench_id: str, code: int, stdout: str, stderr: str) -> BenchResult | BenchFailure:
    last_err = _last_line(stderr.splitlines())
    lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
    if not lines:
        return BenchFailure(bench_id, f"crashed: {_exit(code)}, no result{_stderr_tail(last_err)}")
    try:
        data = json.loads(lines[-1][len(MARKER) :])
        status = data["status"]
        if status == "ok":
            return BenchResult.from_json(data["result"])
        extra: dict[str, Json] = dict(data.get("extra") or {})
        if status in ("unavailable", "failed", "error"):
            return BenchFailure(bench_id, f"{status}: {data['reason']}", extra)
        raise ValueError(f"unknown status {status!r}")
    except (ValueError, KeyError, TypeError) as exc:
        return BenchFailure(
            bench_id, f"crashed: unreadable result ({exc}), {_exit(code)}{_stderr_tail(last_err)}"
        )


def _exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _last_line(lines: Sequence[str]) -> str:
    for line in reversed(lines):
        if line.strip():
            return line.strip()
    return ""


def _stderr_tail(line: str) -> str:
    return f", last stderr line: {line}" if line else ""
