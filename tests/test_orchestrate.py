"""One run from the host into the VM: the EFLOW transport's commands and errors, and the local
transport end to end (the in-VM suite run in a child pytest, its results joined to the host's)."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from eflowgpu.host.collector import RunResult
from eflowgpu.orchestrate.transport import EflowTransport, TransportError, eflow_commands

from helpers import PROJECT

# EFLOW's PowerShell functions and their documented parameters (reference: eflow-gpu-facts.md §2).
EFLOW_SIGNATURES = {
    "Invoke-EflowVmCommand": {"command", "ignoreError"},
    "Get-EflowVm": set(),
    "Get-Module": {"ListAvailable", "Name"},
}


class FakePowerShell:
    """A Runner that answers the transport's PowerShell commands from a table (not a mock)."""

    def __init__(self, answers: dict[str, RunResult]) -> None:
        self.answers = answers
        self.scripts: list[str] = []

    def run(self, argv: Sequence[str], timeout_s: float) -> RunResult:
        script = base64.b64decode(argv[-1]).decode("utf-16-le")
        self.scripts.append(script)
        for key, answer in self.answers.items():
            if key in script:
                return answer
        return RunResult(1, "", "unexpected command")


def ok(stdout: str) -> RunResult:
    return RunResult(0, stdout, "")


VM_RUNNING = ok(json.dumps({"VmPowerState": "Running", "SystemStatistics": {"TotalMemMb": 7950}}))
MODULE = ok(json.dumps({"Name": "AzureEFLOW", "Version": {"Major": 1, "Minor": 5}}))
SNAPSHOT = {"format": "eflow-gpu-vm-snapshot/1", "vm": "3f2a9c", "probes": {}}


@pytest.mark.parametrize("passthrough", ["DDA", "GPU-PV", None])
def test_commands_use_documented_eflow_parameters_only(passthrough: str | None) -> None:
    commands = eflow_commands("eflowgpu-vm:0.1.0", "quick", passthrough)
    assert list(commands) == ["module", "vm", "run", "snapshot", "report"]
    for command in commands.values():
        for function, allowed in EFLOW_SIGNATURES.items():
            if command.startswith(function):
                used = set(
                    re.findall(r"(?<=\s)-([A-Za-z]+)(?=\s)", command.split("|")[0].split("'")[0] + " ")
                )
                assert used <= allowed, (function, used)
    run = commands["run"]
    assert run.startswith(
        "Invoke-EflowVmCommand -command 'sudo mkdir -p /var/eflowgpu/reports && sudo docker run"
    )
    assert "--gpus all" in run and "-v /var/eflowgpu/reports:/reports eflowgpu-vm:0.1.0 --level quick" in run
    assert ("NVIDIA_DISABLE_REQUIRE=1" in run) == (passthrough == "GPU-PV")
    assert run.count("'") == 2  # one single-quoted Linux command, nothing that could close it early


@pytest.mark.parametrize("image", ["x'; Remove-Item C:\\ -Recurse; '", "eflowgpu vm", "$(whoami)"])
def test_hostile_image_or_level_is_refused(image: str) -> None:
    with pytest.raises(TransportError, match="not a container image"):
        eflow_commands(image, "quick", None)
    with pytest.raises(TransportError, match="unknown level"):
        eflow_commands("eflowgpu-vm:1", "forever", None)  # type: ignore[arg-type]


def test_eflow_transport_brings_the_results_back() -> None:
    report = {"format": "eflow-gpu-report/1", "systems": []}
    fake = FakePowerShell(
        {
            "Get-Module": MODULE,
            "Get-EflowVm": VM_RUNNING,
            "docker run": ok("1 passed"),
            "vm-snapshot.json": ok(json.dumps(SNAPSHOT)),
            "compat-report.json": ok(json.dumps(report)),
        }
    )
    run = EflowTransport("powershell.exe", runner=fake).run(
        level="quick", expect_passthrough="DDA", timeout_s=60
    )
    assert run.snapshot == SNAPSHOT and run.report == report
    assert [s.splitlines()[5].split()[0] for s in fake.scripts] == [
        "Get-Module",
        "Get-EflowVm",
        "Invoke-EflowVmCommand",
        "Invoke-EflowVmCommand",
        "Invoke-EflowVmCommand",
    ]


@pytest.mark.parametrize(
    ("answers", "words"),
    [
        ({"Get-Module": ok("")}, "EFLOW is not installed"),
        ({"Get-Module": MODULE, "Get-EflowVm": ok(json.dumps({"VmPowerState": "Off"}))}, "not running"),
        (
            {
                "Get-Module": MODULE,
                "Get-EflowVm": ok(
                    json.dumps({"VmPowerState": "Running", "SystemStatistics": {"TotalMemMb": 1009}})
                ),
            },
            "Set-EflowVM -memoryInMB 4096",
        ),
        (
            {
                "Get-Module": MODULE,
                "Get-EflowVm": VM_RUNNING,
                "docker run": RunResult(125, "", "Unable to find image"),
                "vm-snapshot.json": RunResult(1, "", "No such file"),
            },
            "left no VM snapshot",
        ),
        (
            {
                "Get-Module": MODULE,
                "Get-EflowVm": VM_RUNNING,
                "docker run": RunResult(124, "", "", timed_out=True),
            },
            "did not finish",
        ),
    ],
)
def test_eflow_transport_errors_say_what_to_do(answers: dict[str, RunResult], words: str) -> None:
    with pytest.raises(TransportError, match=re.escape(words)):
        EflowTransport("powershell.exe", runner=FakePowerShell(answers)).run(
            level="quick", expect_passthrough=None, timeout_s=60
        )


def test_local_transport_end_to_end(tmp_path: Path) -> None:
    """The host suite and the in-VM suite in one run: the VM's results join the host's entry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "--host-snapshot",
            "fixtures/hosts/lab-t4-srv2022.json",
            "--profile",
            "ga-2022-06",
            "--vm-transport",
            "local",
            "--report-dir",
            str(tmp_path),
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert "running the in-VM suite through the local transport" in done.stdout + done.stderr
    report = json.loads((tmp_path / "compat-report.json").read_text())
    (system,) = report["systems"]
    assert system["host"] == "LAB-T4-SRV2022" and system["gpus"][0]["model"] == "t4"
    vm = system["vm"]
    assert vm["vm"] == "LAB-T4-SRV2022-EFLOW" and vm["passthrough"] == "none"  # this machine has no GPU
    criteria = {c["id"]: c["status"] for c in vm["criteria"]}
    assert (
        criteria["vm.passthrough"] == "fail" and criteria["vm.gpu_visible"] == "fail"
    )  # the host predicts DDA
    figures = {b["id"]: b for b in vm["benchmarks"]}
    assert figures["cpu_gemm_fp32"]["value"] > 0 and figures["cpu_gemm_fp32"]["cv"] is not None
    assert "2 failed" in done.stdout  # exactly vm.passthrough and vm.gpu_visible; the CPU benchmarks passed
    assert done.returncode == 1  # the VM disagrees with the host: failed criteria
