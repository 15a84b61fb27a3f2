"""Transports that run the in-VM suite somewhere and bring its results back.

:class:`VmTransport` is the protocol. :class:`LocalTransport` runs the in-VM suite on this machine
in a child pytest (the orchestration's end-to-end test path); :class:`EflowTransport` runs the
in-VM pack as a container inside the EFLOW VM through EFLOW's PowerShell functions
(``Invoke-EflowVmCommand``) and returns the results through the command's output.

No string from a snapshot or a report ever reaches a command: the only variable parts are the
container image (from the pack's own settings), the level and the passthrough type (both checked
against fixed choices).
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from eflowgpu import __version__
from eflowgpu.errors import EflowGpuError
from eflowgpu.host import psjson
from eflowgpu.host.collector import Runner, RunResult, SubprocessRunner
from eflowgpu.host.commands import powershell_argv

Level = Literal["quick", "standard", "long"]
LEVELS: tuple[Level, ...] = ("quick", "standard", "long")
PASSTHROUGH = ("DDA", "GPU-PV")
REPORTS_IN_VM = "/var/eflowgpu/reports"
DEFAULT_IMAGE = f"eflowgpu:{__version__}"
"""The in-VM pack's image as deploy/Dockerfile labels it (built or pulled into the EFLOW VM)."""
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$")


class TransportError(EflowGpuError):
    """The in-VM suite could not be run or its results could not be brought back (one line)."""


@dataclass(frozen=True)
class VmRun:
    """What came back: the VM snapshot, the in-VM run's report (benchmarks), and its output."""

    snapshot: dict[str, Any]
    report: dict[str, Any] | None
    log: str = ""


class VmTransport(Protocol):
    """Runs the in-VM suite and returns its results."""

    name: str

    def run(self, *, level: Level, expect_passthrough: str | None, timeout_s: float) -> VmRun:
        """Run the in-VM suite; raise :class:`TransportError` with what to do when it cannot."""
        ...


def _check(level: str, expect_passthrough: str | None) -> None:
    if level not in LEVELS:
        raise TransportError(f"unknown level {level!r} (expected one of {', '.join(LEVELS)})")
    if expect_passthrough is not None and expect_passthrough not in PASSTHROUGH:
        raise TransportError(f"unknown passthrough type {expect_passthrough!r}")


def _json(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except ValueError as exc:
        raise TransportError(f"{what} is not JSON: {str(exc)[:120]}") from exc
    if not isinstance(data, dict):
        raise TransportError(f"{what} is not a JSON object")
    return data


def _tail(result: RunResult, lines: int = 5) -> str:
    text = (result.stdout + "\n" + result.stderr).strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:] if line.strip())


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
        _check(level, expect_passthrough)
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
                    f"the in-VM suite wrote no VM snapshot (exit {result.exit_code}): {_tail(result)}"
                )
            snapshot = _json(snapshot_file.read_text(encoding="utf-8"), "the VM snapshot")
            report = (
                _json(report_file.read_text(encoding="utf-8"), "the in-VM report")
                if report_file.is_file()
                else None
            )
            return VmRun(snapshot, report, _tail(result, 20))


def eflow_commands(image: str, level: Level, passthrough: str | None) -> dict[str, str]:
    """The PowerShell commands :class:`EflowTransport` runs, in order (a test checks them)."""
    if not _IMAGE.match(image):
        raise TransportError(f"not a container image reference: {image!r}")
    _check(level, passthrough)
    gpu = "--gpus all" + (" -e NVIDIA_DISABLE_REQUIRE=1" if passthrough == "GPU-PV" else "")
    docker = (
        f"sudo mkdir -p {REPORTS_IN_VM} && sudo docker run --rm {gpu} "
        f"-v {REPORTS_IN_VM}:/reports {image} --level {level}"
    )
    if passthrough:
        docker += f" --expect-passthrough {passthrough}"
    return {
        "module": "Get-Module -ListAvailable -Name AzureEFLOW | Select-Object -First 1 Name, Version "
        "| ConvertTo-Json",
        "vm": "Get-EflowVm | Select-Object VmPowerState, SystemStatistics | ConvertTo-Json -Depth 3",
        "run": f"Invoke-EflowVmCommand -command '{docker}'",
        "snapshot": f"Invoke-EflowVmCommand -command 'sudo cat {REPORTS_IN_VM}/vm-snapshot.json'",
        "report": f"Invoke-EflowVmCommand -command 'sudo cat {REPORTS_IN_VM}/compat-report.json'",
    }


@dataclass
class EflowTransport:
    """Runs the in-VM pack as a container in the EFLOW VM through EFLOW's PowerShell functions."""

    powershell: str
    runner: Runner = field(default_factory=SubprocessRunner)
    image: str = DEFAULT_IMAGE
    min_memory_mb: int = 4096
    name: str = "eflow"

    def _ps(self, command: str, timeout_s: float) -> RunResult:
        return self.runner.run(powershell_argv(command, self.powershell), timeout_s)

    def run(self, *, level: Level, expect_passthrough: str | None, timeout_s: float) -> VmRun:
        """Check EFLOW and its VM, run the in-VM pack in the VM, and read its results back."""
        commands = eflow_commands(self.image, level, expect_passthrough)
        module = self._ps(commands["module"], 60)
        if module.exit_code != 0 or not module.stdout.strip():
            raise TransportError(
                "EFLOW is not installed on this host (no AzureEFLOW PowerShell module): "
                "install Azure IoT Edge for Linux on Windows and deploy its VM"
            )
        self._check_vm(self._ps(commands["vm"], 120))
        ran = self._ps(commands["run"], timeout_s)
        if ran.timed_out:
            raise TransportError(f"the in-VM pack did not finish within {timeout_s:g} s inside the EFLOW VM")
        snapshot = self._ps(commands["snapshot"], 120)
        if snapshot.exit_code != 0 or not snapshot.stdout.strip():
            raise TransportError(
                f"the in-VM pack left no VM snapshot (docker exit {ran.exit_code}): {_tail(ran)}"
            )
        report = self._ps(commands["report"], 120)
        in_vm = (
            _json(report.stdout, "the in-VM report")
            if report.exit_code == 0 and report.stdout.strip()
            else None
        )
        return VmRun(_json(snapshot.stdout, "the VM snapshot"), in_vm, _tail(ran, 20))

    def _check_vm(self, result: RunResult) -> None:
        if result.exit_code != 0:
            raise TransportError(
                f"Get-EflowVm failed: {_tail(result, 2)}; is the EFLOW VM deployed (Deploy-Eflow)?"
            )
        try:
            vm = psjson.one(psjson.parse(result.stdout)) or {}
        except psjson.PsJsonError as exc:
            raise TransportError(f"Get-EflowVm printed {exc}") from exc
        state = psjson.to_text(vm.get("vmpowerstate"))
        if state is None or state.casefold() != "running":
            raise TransportError(
                f"the EFLOW VM is not running (VmPowerState {state or 'unknown'}): Start-EflowVm"
            )
        stats = psjson.one(vm.get("systemstatistics")) or {}
        memory = psjson.to_int(stats.get("totalmemmb"))
        if memory is not None and memory < self.min_memory_mb * 0.9:
            raise TransportError(
                f"the EFLOW VM has {memory} MB of memory, too little for GPU work: Set-EflowVM -memoryInMB "
                f"{self.min_memory_mb} (give the GPU options again: Set-EflowVM resets what is not specified)"
            )


def transport_names() -> Sequence[str]:
    """The transports the ``--vm-transport`` option accepts."""
    return ("local", "eflow")
