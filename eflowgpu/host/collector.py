"""The live host collector: run the host probes through PowerShell and build a host snapshot.

The envelope is ``shared/contracts/host-snapshot.md``'s ``eflow-gpu-host-snapshot/1``; it is the same
structure whether it is written to a file (:func:`write_snapshot`) or evaluated in memory.

Execution sits behind the :class:`Runner` protocol. :class:`SubprocessRunner` is the real one; tests
use a fake that implements the same protocol. A probe's stdout is recorded exactly as PowerShell
printed it (a UTF-8 BOM and CRLF line ends included): coping with them is the parsers' job.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from eflowgpu.host.commands import HOST_PROBES, HOST_SNAPSHOT_FORMAT, HostProbe, powershell_argv

__all__ = [
    "EXIT_NOT_STARTED",
    "EXIT_RUNNER_ERROR",
    "EXIT_TIMED_OUT",
    "RunResult",
    "Runner",
    "SubprocessRunner",
    "collect_host_snapshot",
    "collector_label",
    "default_host_label",
    "find_powershell",
    "probe_record",
    "write_snapshot",
]

EXIT_TIMED_OUT = 124
"""Exit code recorded for a probe killed at its time limit (as coreutils ``timeout``)."""

EXIT_RUNNER_ERROR = 125
"""Exit code recorded when the runner itself failed on a probe."""

EXIT_NOT_STARTED = 127
"""Exit code recorded when the PowerShell executable could not be started."""


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one command did: exit code, decoded stdout and stderr, and whether it was killed."""

    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool = False


class Runner(Protocol):
    """Runs one argument vector (no shell) with a wall-clock limit."""

    def run(self, argv: Sequence[str], timeout_s: float) -> RunResult:
        """Run ``argv`` and return its result; a command past ``timeout_s`` is killed."""
        ...


def timed_out_message(timeout_s: float) -> str:
    """Return the stderr recorded for a probe killed at ``timeout_s`` (``collect-host.ps1`` matches)."""
    return f"timed out after {timeout_s:g} s"


def _decode(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")


def _signed_exit_code(code: int) -> int:
    # Windows exit codes are DWORDs; .NET (collect-host.ps1) reads them as Int32. Match it.
    return code - (1 << 32) if code > 0x7FFFFFFF else code


class SubprocessRunner:
    """The real runner: :mod:`subprocess`, no shell, stdin from the null device.

    stdout and stderr are captured as bytes and decoded as UTF-8 with ``errors="replace"``,
    without touching a BOM or line ends. At the time limit the whole process tree is killed
    (``taskkill /T /F`` on Windows, the process group on POSIX), so a grandchild such as
    ``nvidia-smi`` cannot keep the pipes open; the result then has exit code
    :data:`EXIT_TIMED_OUT`, empty stdout and ``"timed out after N s"`` as stderr.
    """

    def __init__(self, *, kill_grace_s: float = 10.0) -> None:
        """``kill_grace_s``: how long to wait for the pipes to close after a kill."""
        self._kill_grace_s = kill_grace_s

    def run(self, argv: Sequence[str], timeout_s: float) -> RunResult:
        """Run ``argv`` for at most ``timeout_s`` seconds."""
        try:
            proc = self._start(list(argv))
        except OSError as exc:
            return RunResult(EXIT_NOT_STARTED, "", f"could not start {argv[0]!r}: {exc}")
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._kill_tree(proc)
            try:
                # Reap the process and its reader threads; the partial output is not recorded.
                proc.communicate(timeout=self._kill_grace_s)
            except subprocess.TimeoutExpired:
                self._abandon(proc)
            return RunResult(EXIT_TIMED_OUT, "", timed_out_message(timeout_s), timed_out=True)
        return RunResult(_signed_exit_code(proc.returncode), _decode(out), _decode(err))

    @staticmethod
    def _start(argv: list[str]) -> subprocess.Popen[bytes]:
        if sys.platform == "win32":
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                creationflags=subprocess.CREATE_NO_WINDOW,
            )
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    @staticmethod
    def _abandon(proc: subprocess.Popen[bytes]) -> None:
        # Something outside the killed tree still holds the pipes. On POSIX close our ends; on
        # Windows the reader threads own them and end when the holder exits.
        if sys.platform != "win32":
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()

    @staticmethod
    def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
        if sys.platform == "win32":
            taskkill = Path(os.environ.get("SYSTEMROOT", r"C:\Windows"), "System32", "taskkill.exe")
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(
                    [str(taskkill), "/T", "/F", "/PID", str(proc.pid)],
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=30,
                    check=False,
                    creationflags=subprocess.CREATE_NO_WINDOW,
                )
        else:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            proc.kill()


def find_powershell(*, which: Callable[[str], str | None] = shutil.which) -> str | None:
    """Return the path of a PowerShell: Windows PowerShell first, then ``pwsh``; ``None`` if none.

    Windows PowerShell 5.1 comes first because ``collect-host.ps1`` runs its probes in it too, and
    the Hyper-V and AzureEFLOW modules are Windows PowerShell modules: both collectors then record
    the same output (PowerShell 5.1 dates and all).
    """
    for name in ("powershell.exe", "powershell", "pwsh"):
        path = which(name)
        if path:
            return path
    return None


def collector_label() -> str:
    """Return the envelope's ``collector`` field: ``"eflowgpu <version> (python)"``."""
    try:
        version = importlib.metadata.version("eflowgpu")
    except importlib.metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"eflowgpu {version} (python)"


def default_host_label() -> str:
    """Return the host label: ``COMPUTERNAME`` (as ``collect-host.ps1``), else the node name."""
    return os.environ.get("COMPUTERNAME") or platform.node() or "unknown-host"


def utc_now() -> datetime:
    """The default clock of the collectors."""
    return datetime.now(UTC)


def format_utc(moment: datetime) -> str:
    """``captured_at``: UTC, ISO-8601 with ``Z``; a naive ``moment`` is refused."""
    if moment.tzinfo is None:
        raise ValueError("clock() must return a timezone-aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def probe_record(command: str, result: RunResult) -> dict[str, Any]:
    """Return one entry of the envelope's ``probes``: command, exit_code, stdout, stderr."""
    return {
        "command": command,
        "exit_code": result.exit_code,
        "stdout": result.stdout,
        "stderr": result.stderr,
    }


class ProbeSpec(Protocol):
    """What the collectors need of a probe (host and VM probes both have it)."""

    @property
    def name(self) -> str: ...
    @property
    def command(self) -> str: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def fallbacks(self) -> tuple[str, ...]: ...


def run_probes(
    runner: Runner, probes: Sequence[ProbeSpec], argv: Callable[[str], list[str]]
) -> dict[str, dict[str, Any]]:
    """Run each probe (``argv`` turns its constant command into an argument vector) and record it.

    A probe that exits non-zero (not one that timed out) is tried again with its fallbacks in
    order; the first that exits 0 is recorded with its own command. A runner that raises costs
    that probe only. Duplicate probe names are refused.
    """
    names = [probe.name for probe in probes]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"duplicate probe names: {', '.join(duplicates)}")

    def run(command: str, timeout_s: float) -> RunResult:
        try:
            return runner.run(argv(command), timeout_s)
        except Exception as exc:  # a crashing runner costs this probe only
            return RunResult(EXIT_RUNNER_ERROR, "", f"runner error: {type(exc).__name__}: {exc}")

    def record(probe: ProbeSpec) -> dict[str, Any]:
        result = run(probe.command, probe.timeout_s)
        if result.exit_code != 0 and not result.timed_out:
            for fallback in probe.fallbacks:
                alternative = run(fallback, probe.timeout_s)
                if alternative.exit_code == 0:
                    return probe_record(fallback, alternative)
        return probe_record(probe.command, result)

    return {probe.name: record(probe) for probe in probes}


def collect_host_snapshot(
    runner: Runner,
    *,
    host: str | None = None,
    probes: Sequence[HostProbe] = HOST_PROBES,
    powershell: str,
    clock: Callable[[], datetime] = utc_now,
) -> dict[str, Any]:
    """Run every probe through ``powershell`` and return the host snapshot envelope.

    Probes run one after another, each with its own time limit; a probe that fails or times out
    is recorded with its non-zero exit code and the next one still runs. ``captured_at`` is the
    ``clock()`` reading taken before the first probe. Only the constant probe commands ever reach
    an argument vector; nothing a probe printed does.
    """
    captured_at = format_utc(clock())
    records = run_probes(runner, probes, lambda command: powershell_argv(command, powershell))
    return {
        "format": HOST_SNAPSHOT_FORMAT,
        "host": host or default_host_label(),
        "captured_at": captured_at,
        "collector": collector_label(),
        "probes": records,
    }


def write_snapshot(snapshot: Mapping[str, Any], path: Path) -> None:
    """Write ``snapshot`` to ``path`` as UTF-8 JSON (indent 2), atomically.

    The JSON goes to a temporary file in the same directory, which then replaces ``path``; if
    anything fails (serialisation included) ``path`` is left as it was and the temporary file is
    removed.
    """
    text = json.dumps(snapshot, indent=2, ensure_ascii=False) + "\n"
    data = text.encode("utf-8")
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if sys.platform != "win32":
            tmp.chmod(0o644)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
