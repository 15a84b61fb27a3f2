"""The EFLOW transport: the in-VM pack as a container in the EFLOW VM, driven from the Windows host.

Every step is one EFLOW PowerShell function with documented parameters only (EFLOW's PowerShell
reference, 2021-2022): ``Get-Module -ListAvailable -Name``, ``Get-EflowVm``, ``Verify-EflowVm``,
``Invoke-EflowVmCommand -command … [-ignoreError]``. The steps, in order:

1. the AzureEFLOW module is installed;
2. the VM runs: ``Get-EflowVm``'s ``VmPowerState`` (a string, or a number if ``ConvertTo-Json``
   serialises the enum), or, on EFLOW 1.1 whose ``Get-EflowVm`` has no ``VmPowerState``,
   ``Verify-EflowVm`` and a command that answers inside the VM; memory is checked against the
   pack's recommendation, with a ``Set-EflowVM`` remedy that keeps the VM's other settings;
3. the report folder is created, owned by the image's user (UID 10001, deploy/Dockerfile) and
   emptied of an earlier run's results; its owner is read back, so a folder the container cannot
   write is a clear error, not a missing snapshot later;
4. the VM's own answers to the container-describing probes are recorded (``vm_os_release``,
   ``vm_container_runtime``, ``vm_container_toolkit``: contract revision 2);
5. the image is in the VM's docker (else "the image is missing", before anything runs);
6. the container runs (``--gpus all``, ``NVIDIA_DISABLE_REQUIRE=1`` for both passthrough types: the
   pack judges the driver); ``-ignoreError`` and an echoed ``__eflowgpu_rc=$?`` marker keep docker's
   exit status, so "checks failed" (pytest 1) is told from "the container did not start" (docker
   125, 126, 127);
7. the VM snapshot and the in-VM report are read back (from their first ``{``: ``sudo`` may print
   "unable to resolve host" before them on EFLOW 1.1), and the VM's own probes merged in.

Linux commands travel inside one single-quoted PowerShell string (``'`` doubled); none is built
from a snapshot, a report or anything a machine printed: the variable parts are the image (checked
against an image-reference pattern), the level and the passthrough type (fixed choices).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eflowgpu import __version__
from eflowgpu.host import psjson
from eflowgpu.host.collector import Runner, RunResult, SubprocessRunner
from eflowgpu.host.commands import powershell_argv
from eflowgpu.orchestrate.base import Level, TransportError, VmRun, check_options, json_object, tail
from eflowgpu.rules.vm import set_eflow_vm
from eflowgpu.vm.commands import VM_NAMESPACE_PROBES

__all__ = [
    "DEFAULT_IMAGE",
    "IMAGE_UID",
    "REPORTS_IN_VM",
    "EflowTransport",
    "eflow_commands",
    "power_state",
    "split_rc",
]

REPORTS_IN_VM = "/var/eflowgpu/reports"
"""The VM's report folder (``/var`` is writable in EFLOW; its root file system is not)."""
IMAGE_UID = 10001
"""The user the image runs as (deploy/Dockerfile ``USER 10001:10001``; tests/test_deploy.py checks)."""
DEFAULT_IMAGE = f"eflowgpu:{__version__}"
"""The in-VM pack's image as deploy/Dockerfile labels it (built or pulled into the EFLOW VM)."""
RC_MARKER = "__eflowgpu_rc="
"""Printed after a Linux command with its exit status: ``Invoke-EflowVmCommand`` keeps only output."""
OWNER_MARKER = "__eflowgpu_owner="
ALIVE_MARKER = "__eflowgpu_alive"
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$")
_RC_LINE = re.compile(rf"^{RC_MARKER}(\d+)\s*$")
_HYPERV_STATES = {1: "Other", 2: "Running", 3: "Off", 4: "Stopping", 6: "Saved", 9: "Paused", 10: "Starting"}
"""Hyper-V's ``VMState`` numbers, in case ``VmPowerState`` is serialised as its enum's number
(whether EFLOW's property is that enum is not documented: string and number are both accepted)."""
_DOCKER_DID_NOT_START = {
    125: "docker could not create or start the container",
    126: "the container's command could not be invoked",
    127: "the container's command was not found",
}
_PYTEST_EXITS = {0: "all checks passed", 1: "some checks failed"}


def _ps_quote(text: str) -> str:
    """``text`` as a PowerShell single-quoted string (``'`` doubled; nothing inside is expanded)."""
    return "'" + text.replace("'", "''") + "'"


def invoke(linux: str, *, ignore_error: bool = False) -> str:
    """The ``Invoke-EflowVmCommand`` call that runs the Linux command ``linux`` in the VM."""
    return f"Invoke-EflowVmCommand -command {_ps_quote(linux)}" + (" -ignoreError" if ignore_error else "")


def with_rc(linux: str) -> str:
    """``linux`` with its output merged and its exit status echoed after it (:data:`RC_MARKER`)."""
    return f'{linux} 2>&1; echo "{RC_MARKER}$?"'


def split_rc(output: str) -> tuple[int | None, str]:
    """The exit status echoed by :func:`with_rc` and the output before it; None when missing."""
    lines = output.replace("\r\n", "\n").split("\n")
    for index in range(len(lines) - 1, -1, -1):
        match = _RC_LINE.match(lines[index].strip())
        if match:
            return int(match.group(1)), "\n".join(lines[:index]).strip("\n") + ("\n" if index else "")
    return None, output


def eflow_commands(image: str, level: Level, passthrough: str | None) -> dict[str, str]:
    """The PowerShell commands :class:`EflowTransport` may run, by step (a test checks them).

    ``vm_probe:<name>`` are the VM-namespace probes; ``alive`` and ``verify`` are EFLOW 1.1's
    fallback when ``Get-EflowVm`` has no ``VmPowerState``.
    """
    if not _IMAGE.match(image):
        raise TransportError(f"not a container image reference: {image!r}")
    check_options(level, passthrough)
    docker = (
        f"sudo docker run --rm --gpus all -e NVIDIA_DISABLE_REQUIRE=1 -e EFLOWGPU_SCOPE=container "
        f"-v {REPORTS_IN_VM}:/reports {image} --level {level}"
    )
    if passthrough:
        docker += f" --expect-passthrough {passthrough}"
    results = f"{REPORTS_IN_VM}/vm-snapshot.json {REPORTS_IN_VM}/compat-report.json"
    prepare = (
        f"sudo mkdir -p {REPORTS_IN_VM} && sudo chown {IMAGE_UID}:{IMAGE_UID} {REPORTS_IN_VM} "
        f'&& sudo rm -f {results}; echo "{OWNER_MARKER}$(stat -c %u {REPORTS_IN_VM})"'
    )
    commands = {
        "module": "Get-Module -ListAvailable -Name AzureEFLOW | Select-Object -First 1 Name, Version "
        "| ConvertTo-Json",
        "vm": "Get-EflowVm | Select-Object VmPowerState, SystemStatistics, VmConfiguration "
        "| ConvertTo-Json -Depth 6",
        "verify": "Verify-EflowVm | ConvertTo-Json",
        "alive": invoke(f"echo {ALIVE_MARKER}", ignore_error=True),
        "prepare": invoke(prepare, ignore_error=True),
    }
    for probe in VM_NAMESPACE_PROBES:
        commands[f"vm_probe:{probe.name}"] = invoke(with_rc(probe.command), ignore_error=True)
    commands["image"] = invoke(
        with_rc(f"sudo docker image inspect --format '{{{{.Id}}}}' {image}"), ignore_error=True
    )
    commands["run"] = invoke(with_rc(docker), ignore_error=True)
    commands["snapshot"] = invoke(f"sudo cat {REPORTS_IN_VM}/vm-snapshot.json")
    commands["report"] = invoke(f"sudo cat {REPORTS_IN_VM}/compat-report.json")
    return commands


def power_state(value: Any) -> str | None:
    """``VmPowerState`` as a name: ``"Running"`` as printed, or Hyper-V's enum number (2)."""
    number = psjson.to_int(value)
    if number is not None:
        return _HYPERV_STATES.get(number, f"state {number}")
    if isinstance(value, dict):  # ConvertTo-Json of an enum object: {"value": 2, "Value": "Running"}
        return power_state(value.get("value"))
    return psjson.to_text(value)


@dataclass(frozen=True)
class _VmInfo:
    """What ``Get-EflowVm`` says about the VM's size (for remedies that keep its settings)."""

    memory_mb: int | None = None
    cpu_count: int | None = None
    gpu_count: int | None = None


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
        self._check_vm(commands, expect_passthrough)
        self._prepare_reports(commands["prepare"])
        vm_probes = {
            probe.name: self._vm_probe(probe.command, commands[f"vm_probe:{probe.name}"])
            for probe in VM_NAMESPACE_PROBES
        }
        self._check_image(commands["image"])
        ran = self._ps(commands["run"], timeout_s)
        if ran.timed_out:
            raise TransportError(f"the in-VM pack did not finish within {timeout_s:g} s inside the EFLOW VM")
        rc, output = split_rc(ran.stdout)
        log = tail(RunResult(ran.exit_code, output, ran.stderr), 20)
        if rc is None:
            raise TransportError(
                f"Invoke-EflowVmCommand did not run the container (PowerShell exit {ran.exit_code}): "
                f"{tail(ran)}"
            )
        if rc in _DOCKER_DID_NOT_START:
            raise TransportError(_did_not_start(rc, output))
        snapshot = self._ps(commands["snapshot"], 120)
        if snapshot.exit_code != 0 or "{" not in snapshot.stdout:
            raise TransportError(
                f"the in-VM pack left no VM snapshot (pytest exit {rc}: "
                f"{_PYTEST_EXITS.get(rc, 'the run broke off')}): {tail(RunResult(rc, output, ''))}"
            )
        data = json_object(snapshot.stdout, "the VM snapshot")
        probes = data.setdefault("probes", {})
        if not isinstance(probes, dict):
            raise TransportError("the VM snapshot's probes are not a JSON object")
        probes.update(vm_probes)
        data.setdefault("scope", "container")
        report = self._ps(commands["report"], 120)
        in_vm = (
            json_object(report.stdout, "the in-VM report")
            if report.exit_code == 0 and "{" in report.stdout
            else None
        )
        return VmRun(data, in_vm, log)

    # --- steps ------------------------------------------------------------------------------------

    def _check_vm(self, commands: Mapping[str, str], passthrough: str | None) -> None:
        result = self._ps(commands["vm"], 120)
        if result.exit_code != 0:
            raise TransportError(
                f"Get-EflowVm failed: {tail(result, 2)}; is the EFLOW VM deployed (Deploy-Eflow)?"
            )
        try:
            vm = psjson.one(psjson.parse(result.stdout[result.stdout.find("{") :])) or {}
        except psjson.PsJsonError as exc:
            raise TransportError(f"Get-EflowVm printed {exc}") from exc
        info = _vm_info(vm)
        state = power_state(vm.get("vmpowerstate"))
        if state is None:  # EFLOW 1.1: Get-EflowVm has no VmPowerState
            self._check_alive(commands)
        elif state.casefold() != "running":
            raise TransportError(f"the EFLOW VM is not running (VmPowerState {state}): Start-EflowVm")
        if info.memory_mb is not None and info.memory_mb < self.min_memory_mb * 0.9:
            raise TransportError(
                f"the EFLOW VM has {info.memory_mb} MB of memory, too little for GPU work: "
                + set_eflow_vm(
                    self.min_memory_mb,
                    cpu_count=info.cpu_count,
                    passthrough=passthrough,
                    gpu_count=info.gpu_count,
                )
            )

    def _check_alive(self, commands: Mapping[str, str]) -> None:
        verify = self._ps(commands["verify"], 60)
        try:
            exists = psjson.to_bool(psjson.parse(verify.stdout)) if verify.exit_code == 0 else None
        except psjson.PsJsonError:
            exists = None
        if exists is False:
            raise TransportError(
                "there is no EFLOW VM on this host (Verify-EflowVm): deploy it (Deploy-Eflow)"
            )
        alive = self._ps(commands["alive"], 120)
        if ALIVE_MARKER not in alive.stdout:
            raise TransportError(
                f"the EFLOW VM does not answer (Invoke-EflowVmCommand: {tail(alive, 2) or 'no output'}): "
                "Start-EflowVm"
            )

    def _prepare_reports(self, command: str) -> None:
        result = self._ps(command, 120)
        owner = next(
            (
                line.strip()[len(OWNER_MARKER) :]
                for line in result.stdout.splitlines()
                if line.strip().startswith(OWNER_MARKER)
            ),
            None,
        )
        if owner != str(IMAGE_UID):
            said = tail(
                RunResult(result.exit_code, result.stdout.replace(f"{OWNER_MARKER}{owner}", ""), ""), 2
            )
            raise TransportError(
                f"the report folder {REPORTS_IN_VM} in the EFLOW VM is owned by UID {owner or 'unknown'}, "
                f"and the container runs as UID {IMAGE_UID}, which cannot write it"
                + (f" ({said})" if said else "")
                + f': Invoke-EflowVmCommand "sudo chown {IMAGE_UID}:{IMAGE_UID} {REPORTS_IN_VM}"'
            )

    def _vm_probe(self, command: str, invocation: str) -> dict[str, Any]:
        result = self._ps(invocation, 120)
        rc, output = split_rc(result.stdout)
        if rc is None:
            return {"command": command, "exit_code": 1, "stdout": "", "stderr": tail(result, 3)}
        if rc == 0:
            return {"command": command, "exit_code": 0, "stdout": output, "stderr": ""}
        return {"command": command, "exit_code": rc, "stdout": "", "stderr": output}

    def _check_image(self, command: str) -> None:
        result = self._ps(command, 120)
        rc, output = split_rc(result.stdout)
        if rc != 0:
            said = " ".join(output.split())[:200]
            raise TransportError(
                f"the image {self.image} is not in the EFLOW VM's docker"
                + (f" ({said})" if said else "")
                + f": load it there (sudo docker pull <registry>/{self.image}, then docker tag it "
                f"{self.image}), or pass the image the VM has"
            )


def _vm_info(vm: Mapping[str, Any]) -> _VmInfo:
    stats = psjson.one(vm.get("systemstatistics")) or {}
    config = psjson.one(vm.get("vmconfiguration")) or {}
    hardware = psjson.one((psjson.one(config.get("properties")) or {}).get("hardwareprofile")) or {}
    size = psjson.one(hardware.get("customsize")) or {}
    return _VmInfo(
        psjson.to_int(stats.get("totalmemmb")) or psjson.to_int(size.get("memorymb")),
        psjson.to_int(size.get("cpucount")),
        psjson.to_int(size.get("gpucount")),
    )


def _did_not_start(rc: int, output: str) -> str:
    said = " | ".join(line.strip() for line in output.strip().splitlines()[-3:] if line.strip())
    what = f"the in-VM pack's container did not start (docker exit {rc}: {_DOCKER_DID_NOT_START[rc]})"
    if "requirement error" in output:
        hint = (
            "NVIDIA's container hook refused the driver for the image's CUDA requirement: run the image "
            "with NVIDIA_DISABLE_REQUIRE=1 (this transport does) or rebuild it from deploy/Dockerfile"
        )
    elif "Unable to find image" in output or "pull access denied" in output:
        hint = "the image is missing from the EFLOW VM: load it there (sudo docker pull)"
    elif "could not select device driver" in output or "nvidia-container-cli" in output:
        hint = "the VM's NVIDIA container toolkit could not give the GPU to the container: check vm.toolkit"
    else:
        hint = "see the docker output"
    return f"{what}: {said or 'no output'}; {hint}"
