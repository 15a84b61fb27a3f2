"""Transports that run the in-VM suite somewhere and bring its results back.

:class:`VmTransport` is the protocol. :class:`LocalTransport` runs the in-VM suite on this machine
in a child pytest (the orchestration's end-to-end test path); :class:`EflowTransport`
(:mod:`eflowgpu.orchestrate.eflow`) runs the in-VM pack as a container inside the EFLOW VM through
EFLOW's PowerShell functions (``Invoke-EflowVmCommand``) and returns the results through the
command's output.

No string from a snapshot or a report ever reaches a command: the only variable parts are the
container image (from the pack's own settings), the level and the passthrough type (both checked
against fixed choices).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eflowgpu.host.collector import Runner, SubprocessRunner
from eflowgpu.orchestrate.base import (
    LEVELS,
    PASSTHROUGH,
    Level,
    TransportError,
    VmRun,
    VmTransport,
    check_options,
    json_object,
    tail,
)
from eflowgpu.orchestrate.eflow import DEFAULT_IMAGE, REPORTS_IN_VM, EflowTransport, eflow_commands

__all__ = [
    "DEFAULT_IMAGE",
    "LEVELS",
    "PASSTHROUGH",
    "REPORTS_IN_VM",
    "EflowTransport",
    "Level",
    "LocalTransport",
    "TransportError",
    "VmRun",
    "VmTransport",
    "eflow_commands",
    "transport_names",
]


@dataclass
class LocalTransport:
    """Runs ``pytest suites/vm`` on this machine in a child process (no EFLOW needed)."""

    project: Path
    runner: Runner = field(default_factory=SubprocessRunner)
    python: str = sys.executable
    name: str = "local"

    def command(self, report_dir: Path, level: Level, expect_passthrough: str | None) -> list[str]:
        """The child pytest's argument vector (the project's ini and rootdir, whatever the cwd)."""
        argv = [
            self.python,
            "-m",
            "pytest",
            str(self.project / "suites" / "vm"),
            "-c",
            str(self.project / "pytest.ini"),
            "--rootdir",
            str(self.project),
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
            "-q",
            "--report-dir",
            str(report_dir),
            "--level",
            level,
        ]
        return argv + (["--expect-passthrough", expect_passthrough] if expect_passthrough else [])

    def run(self, *, level: Level, expect_passthrough: str | None, timeout_s: float) -> VmRun:
        """Run the in-VM suite locally and read back its VM snapshot and report."""
        check_options(level, expect_passthrough)
        with tempfile.TemporaryDirectory(prefix="eflowgpu-vm-") as tmp:
            out = Path(tmp)
            argv = self.command(out, level, expect_passthrough)
            result = self.runner.run(
                ["/bin/sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", str(self.project), *argv], timeout_s
            )
            if result.timed_out:
                raise TransportError(f"the in-VM suite did not finish within {timeout_s:g} s")
            snapshot_file, report_file = out / "vm-snapshot.json", out / "compat-report.json"
            if not snapshot_file.is_file():
                raise TransportError(
                    f"the in-VM suite wrote no VM snapshot (exit {result.exit_code}): {tail(result)}"
                )
            snapshot = json_object(snapshot_file.read_text(encoding="utf-8"), "the VM snapshot")
            report = (
                json_object(report_file.read_text(encoding="utf-8"), "the in-VM report")
                if report_file.is_file()
                else None
            )
            return VmRun(snapshot, report, tail(result, 20))


def transport_names() -> Sequence[str]:
    """The transports the ``--vm-transport`` option accepts."""
    return ("local", "eflow")
