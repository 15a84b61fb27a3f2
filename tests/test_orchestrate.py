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
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from eflowgpu.host.collector import RunResult
from eflowgpu.matrix import Matrix
from eflowgpu.orchestrate.eflow import IMAGE_UID, power_state, split_rc
from eflowgpu.orchestrate.transport import EflowTransport, TransportError, VmRun, eflow_commands
from eflowgpu.vm.evaluate import judge_record, read_vm_data

from helpers import PROJECT

DOCKERFILE = PROJECT / "deploy" / "Dockerfile"
VMS = PROJECT / "fixtures" / "vms"

# EFLOW's PowerShell functions and their documented parameters (EFLOW PowerShell reference, revisions
# of 06/2021 and 07/2022, as real-world-review.md section 2.1 lists them).
EFLOW_SIGNATURES = {
    "Invoke-EflowVmCommand": {"command", "ignoreError"},
    "Get-EflowVm": set(),
    "Verify-EflowVm": set(),
    "Set-EflowVM": {"cpuCount", "memoryInMB", "gpuName", "gpuPassthroughType", "gpuCount", "headless"},
    "Get-Module": {"ListAvailable", "Name"},
}
MARINER = 'NAME="Common Base Linux Mariner"\nVERSION="1.0.20210628"\nID=mariner\nVERSION_ID="1.0"\n'
SNAPSHOT = {"format": "eflow-gpu-vm-snapshot/1", "vm": "3f2a9c", "scope": "container", "probes": {}}
REPORT = {"format": "eflow-gpu-report/1", "systems": []}
SUDO_NOISE = "sudo: unable to resolve host LAB-T4-01-EFLOW: Name or service not known\n"


@dataclass
class FakeEflow:
    """A Runner that behaves like EFLOW's PowerShell module and its VM (not a mock).

    It decodes the script as PowerShell would get it, finds the EFLOW function, and for
    ``Invoke-EflowVmCommand`` runs a small model of the VM: a report folder with an owner and files,
    docker with its images, the NVIDIA container toolkit. EFLOW 1.1's ``Get-EflowVm`` has no
    ``VmPowerState`` and its ``sudo`` prints "unable to resolve host" (Azure/iotedge-eflow#30, #49);
    without ``-ignoreError`` a non-zero Linux exit makes the function fail (exit 1).
    """

    release: str = "1.4"
    power: object = "Running"
    memory_mb: int = 7950
    cpu_count: int = 4
    gpu_count: int = 1
    image_present: bool = True
    docker_rc: int = 1
    docker_output: str = "FAILED suites/vm/test_vm.py::test_vm_criterion[x-vm.driver]\n1 failed, 8 passed\n"
    chown_works: bool = True
    writes_results: bool = True
    toolkit: str | None = "cli-version: 1.17.8\nlib-version: 1.17.8\n"
    files: dict[str, str] = field(default_factory=dict)
    owner: int = 0
    scripts: list[str] = field(default_factory=list)

    def run(self, argv: Sequence[str], timeout_s: float) -> RunResult:
        script = base64.b64decode(argv[-1]).decode("utf-16-le")
        self.scripts.append(script)
        command = script.splitlines()[5]
        if command.startswith("Get-Module"):
            return RunResult(0, json.dumps({"Name": "AzureEFLOW", "Version": {"Major": 1}}), "")
        if command.startswith("Get-EflowVm"):
            vm: dict[str, object] = {
                "SystemStatistics": {"TotalMemMb": self.memory_mb},
                "VmConfiguration": {
                    "properties": {
                        "hardwareProfile": {
                            "customsize": {
                                "cpucount": self.cpu_count,
                                "gpucount": self.gpu_count,
                                "memorymb": self.memory_mb,
                            }
                        }
                    }
                },
            }
            if self.release != "1.1":
                vm["VmPowerState"] = self.power
            return RunResult(0, json.dumps(vm), "")
        if command.startswith("Verify-EflowVm"):
            return RunResult(0, "true", "")
        match = re.fullmatch(r"Invoke-EflowVmCommand -command '((?:[^']|'')*)'( -ignoreError)?", command)
        if match is None:
            return RunResult(1, "", f"unexpected command: {command}")
        rc, output = self._linux(match.group(1).replace("''", "'"))
        if rc != 0 and not match.group(2):
            return RunResult(1, "", f"Invoke-EflowVmCommand : Command failed with exit code {rc}")
        return RunResult(0, output, "")

    def _sudo(self, text: str) -> str:
        return (SUDO_NOISE if self.release == "1.1" else "") + text

    def _linux(self, line: str) -> tuple[int, str]:
        """The VM's shell, for the commands the transport sends."""
        suffix = ' 2>&1; echo "__eflowgpu_rc=$?"'
        if line.endswith(suffix):
            rc, output = self._linux(line[: -len(suffix)])
            return 0, f"{output}__eflowgpu_rc={rc}\n"
        if line == "echo __eflowgpu_alive":
            return 0, "__eflowgpu_alive\n"
        if line.startswith("sudo mkdir -p /var/eflowgpu/reports"):
            if self.chown_works:
                self.owner = 10001
            removed = line.split("sudo rm -f ", 1)[1].split(";")[0].split() if "sudo rm -f " in line else []
            for path in removed:
                self.files.pop(path, None)
            return 0, self._sudo(f"__eflowgpu_owner={self.owner}\n")
        if line == "cat /etc/os-release":
            return 0, MARINER
        if line.startswith("sudo docker info"):
            return 0, self._sudo('{"nvidia":{"path":"nvidia-container-runtime"},"runc":{"path":"runc"}}\n')
        if line == "nvidia-container-cli --version":
            return (
                (0, self.toolkit)
                if self.toolkit
                else (127, "bash: nvidia-container-cli: command not found\n")
            )
        if line.startswith("sudo docker image inspect"):
            if self.image_present:
                return 0, self._sudo("sha256:" + "ab" * 32 + "\n")
            return 1, self._sudo("Error: No such image: eflowgpu:0.1.0\n")
        if line.startswith("sudo docker run"):
            return self._docker_run(line)
        if line.startswith("sudo cat "):
            path = line.split()[-1]
            if path in self.files:
                return 0, self._sudo(self.files[path])
            return 1, self._sudo(f"cat: {path}: No such file or directory\n")
        return 127, f"bash: {line.split()[0]}: command not found\n"

    def _docker_run(self, line: str) -> tuple[int, str]:
        assert "-v /var/eflowgpu/reports:/reports" in line and "NVIDIA_DISABLE_REQUIRE=1" in line
        if self.docker_rc not in (125, 126, 127) and self.writes_results and self.owner == 10001:
            self.files["/var/eflowgpu/reports/vm-snapshot.json"] = json.dumps(SNAPSHOT)
            self.files["/var/eflowgpu/reports/compat-report.json"] = json.dumps(REPORT)
        return self.docker_rc, self._sudo(self.docker_output)

    def functions(self) -> list[str]:
        return [s.splitlines()[5].split()[0] for s in self.scripts]


def run_eflow(fake: FakeEflow, passthrough: str | None = "DDA") -> VmRun:
    return EflowTransport("powershell.exe", runner=fake).run(
        level="quick", expect_passthrough=passthrough, timeout_s=60
    )


def used_parameters(command: str) -> tuple[str, set[str]]:
    """The EFLOW function a command calls and the parameters it passes (outside quoted strings)."""
    outside = re.sub(r"'(?:[^']|'')*'|\"[^\"]*\"|<[^>]*>", "''", command.split("|")[0])
    function = outside.split()[0]
    return function, set(re.findall(r"(?<=\s)-([A-Za-z]+)\b", " " + outside))


@pytest.mark.parametrize("passthrough", ["DDA", "GPU-PV", None])
def test_commands_use_documented_eflow_parameters_only(passthrough: str | None) -> None:
    commands = eflow_commands("eflowgpu-vm:0.1.0", "quick", passthrough)
    for command in commands.values():
        function, used = used_parameters(command)
        assert function in EFLOW_SIGNATURES, command
        assert used <= EFLOW_SIGNATURES[function], (function, used)
    run = commands["run"]
    assert run.startswith("Invoke-EflowVmCommand -command 'sudo docker run --rm --gpus all ")
    assert run.endswith(" -ignoreError") and '__eflowgpu_rc=$?"' in run
    assert "-v /var/eflowgpu/reports:/reports eflowgpu-vm:0.1.0 --level quick" in run
    assert "NVIDIA_DISABLE_REQUIRE=1" in run  # both types: the pack judges the driver
    assert "sudo chown 10001:10001 /var/eflowgpu/reports" in commands["prepare"]
    for command in commands.values():  # one single-quoted Linux command, quotes inside doubled
        if command.startswith("Invoke-EflowVmCommand"):
            body = command.split(" -command ", 1)[1].removesuffix(" -ignoreError")
            assert body.startswith("'") and body.endswith("'")
            assert "'" not in body[1:-1].replace("''", "")


def test_image_uid_is_the_dockerfiles_user() -> None:
    users = [line.split()[1] for line in DOCKERFILE.read_text().splitlines() if line.startswith("USER ")]
    assert users[-1] == f"{IMAGE_UID}:{IMAGE_UID}"


@pytest.mark.parametrize("image", ["x'; Remove-Item C:\\ -Recurse; '", "eflowgpu vm", "$(whoami)"])
def test_hostile_image_or_level_is_refused(image: str) -> None:
    with pytest.raises(TransportError, match="not a container image"):
        eflow_commands(image, "quick", None)
    with pytest.raises(TransportError, match="unknown level"):
        eflow_commands("eflowgpu-vm:1", "forever", None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("release", "power"),
    [("1.4", "Running"), ("1.4", 2), ("1.1", None)],
    ids=["1.4-string-state", "1.4-enum-number", "1.1-no-power-state"],
)
def test_eflow_transport_brings_the_results_back(release: str, power: object) -> None:
    fake = FakeEflow(release=release, power=power)
    run = run_eflow(fake)
    assert run.report == REPORT and "1 failed, 8 passed" in run.log  # checks failed: results still back
    assert run.snapshot["format"] == "eflow-gpu-vm-snapshot/1" and run.snapshot["scope"] == "container"
    probes = run.snapshot["probes"]
    assert probes["vm_os_release"] == {
        "command": "cat /etc/os-release",
        "exit_code": 0,
        "stdout": MARINER,
        "stderr": "",
    }
    assert probes["vm_container_toolkit"]["stdout"].startswith("cli-version: 1.17.8")
    assert '"nvidia"' in probes["vm_container_runtime"]["stdout"]
    functions = fake.functions()
    assert functions[:2] == ["Get-Module", "Get-EflowVm"]
    if release == "1.1":  # no VmPowerState: Verify-EflowVm and a command that answers
        assert functions[2:4] == ["Verify-EflowVm", "Invoke-EflowVmCommand"]
    assert set(functions[2:]) <= {"Verify-EflowVm", "Invoke-EflowVmCommand"}


def test_the_vms_probes_join_the_snapshot_and_are_judged(matrix: Matrix) -> None:
    fake = FakeEflow(toolkit="cli-version: 1.13.0\nlib-version: 1.13.0\n")
    run = run_eflow(fake, "GPU-PV")
    data = json.loads((VMS / "vm-rtxa2000-w11-gpupv-container.json").read_text(encoding="utf-8"))
    data["probes"].update(run.snapshot["probes"])  # the in-VM pack's probes and the VM's own
    record = read_vm_data(matrix, data, "merged")
    assert record.facts is not None and record.facts.toolkit_version == "1.13.0"
    assert record.facts.os_name == "Common Base Linux Mariner 1.0"
    judged = judge_record(matrix, record, None)
    assert judged is not None
    toolkit = {c.id: c for c in judged.criteria}["vm.toolkit"]
    assert toolkit.status.value == "warn" and "GPU access blocked" in toolkit.detail


def test_missing_toolkit_in_the_vm_is_recorded_as_not_found() -> None:
    run = run_eflow(FakeEflow(toolkit=None))
    probe = run.snapshot["probes"]["vm_container_toolkit"]
    assert probe["exit_code"] == 127 and "command not found" in probe["stderr"]


@pytest.mark.parametrize(
    ("fake", "words"),
    [
        (FakeEflow(power="Off"), "not running (VmPowerState Off): Start-EflowVm"),
        (FakeEflow(power=3), "not running (VmPowerState Off)"),
        (
            FakeEflow(memory_mb=1024, cpu_count=2),
            "Set-EflowVM -cpuCount 2 -memoryInMB 4096 -gpuPassthroughType "
            'DirectDeviceAssignment -gpuName "<the GPU\'s name>" -gpuCount 1',
        ),
        (FakeEflow(chown_works=False), "owned by UID 0, and the container runs as UID 10001"),
        (FakeEflow(image_present=False), "the image eflowgpu:0.1.0 is not in the EFLOW VM's docker"),
        (
            FakeEflow(
                docker_rc=125,
                docker_output="docker: Error response from daemon: failed to create task for container: "
                "OCI runtime create failed: nvidia-container-cli: requirement error: unsatisfied "
                "condition: cuda>=12.4, please update your driver to a newer version: unknown.\n",
            ),
            "did not start (docker exit 125: docker could not create or start the container)",
        ),
        (
            FakeEflow(docker_rc=127, docker_output='exec: "/bin/sh": stat /bin/sh: no such file\n'),
            "did not start (docker exit 127",
        ),
        (
            # an earlier run's snapshot is removed first: it is never taken for this run's
            FakeEflow(
                docker_rc=2,
                writes_results=False,
                files={"/var/eflowgpu/reports/vm-snapshot.json": json.dumps(SNAPSHOT)},
            ),
            "left no VM snapshot (pytest exit 2: the run broke off)",
        ),
    ],
    ids=[
        "off",
        "off-enum",
        "memory",
        "root-owned-folder",
        "no-image",
        "docker-125",
        "docker-127",
        "no-snapshot",
    ],
)
def test_eflow_transport_errors_say_what_to_do(fake: FakeEflow, words: str) -> None:
    with pytest.raises(TransportError, match=re.escape(words)) as caught:
        run_eflow(fake)
    message = str(caught.value)
    assert "\n" not in message  # one line
    function, used = (
        used_parameters(message[message.index("Set-EflowVM") :]) if "Set-EflowVM" in message else ("", set())
    )
    if function:
        assert used <= EFLOW_SIGNATURES["Set-EflowVM"]
    if fake.docker_rc == 125:
        assert "NVIDIA_DISABLE_REQUIRE=1" in message
    if fake.memory_mb == 1024:
        assert "Start-EflowVm first: Set-EflowVM cannot resize a stopped VM" in message


def test_a_gpupv_memory_remedy_has_no_gpu_count() -> None:
    with pytest.raises(TransportError) as caught:
        run_eflow(FakeEflow(memory_mb=1024, cpu_count=4), "GPU-PV")
    assert "-gpuPassthroughType ParaVirtualization" in str(caught.value) and "-gpuCount" not in str(
        caught.value
    )


def test_eflow_transport_timeout_and_broken_invoke() -> None:
    class Slow(FakeEflow):
        def run(self, argv: Sequence[str], timeout_s: float) -> RunResult:
            if "docker run" in base64.b64decode(argv[-1]).decode("utf-16-le"):
                return RunResult(124, "", "", timed_out=True)
            return super().run(argv, timeout_s)

    with pytest.raises(TransportError, match="did not finish"):
        run_eflow(Slow())

    class NoSsh(FakeEflow):
        def run(self, argv: Sequence[str], timeout_s: float) -> RunResult:
            if "docker run" in base64.b64decode(argv[-1]).decode("utf-16-le"):
                return RunResult(1, "", "ssh: connect to host 172.25.78.57 port 22: Connection timed out")
            return super().run(argv, timeout_s)

    with pytest.raises(TransportError, match=r"did not run the container.*Connection timed out"):
        run_eflow(NoSsh())


def test_eflow_11_without_a_vm_or_answer() -> None:
    class Gone(FakeEflow):
        def run(self, argv: Sequence[str], timeout_s: float) -> RunResult:
            script = base64.b64decode(argv[-1]).decode("utf-16-le")
            if "Verify-EflowVm" in script:
                return RunResult(0, "false", "")
            return super().run(argv, timeout_s)

    with pytest.raises(TransportError, match=r"no EFLOW VM on this host \(Verify-EflowVm\)"):
        run_eflow(Gone(release="1.1"))


@pytest.mark.parametrize(
    ("output", "rc", "before"),
    [
        ("a\nb\n__eflowgpu_rc=1\n", 1, "a\nb\n"),
        ("__eflowgpu_rc=0\r\n", 0, ""),
        ("no marker", None, "no marker"),
        ("x\n__eflowgpu_rc=125\nnoise after\n", 125, "x\n"),
    ],
)
def test_split_rc(output: str, rc: int | None, before: str) -> None:
    assert split_rc(output) == (rc, before)


@pytest.mark.parametrize(
    ("value", "state"), [("Running", "Running"), (2, "Running"), ("3", "Off"), (None, None)]
)
def test_power_state_as_string_or_enum_number(value: object, state: str | None) -> None:
    assert power_state(value) == state


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
    assert [k for k, v in criteria.items() if v == "fail"] == ["vm.passthrough", "vm.gpu_visible"]
    # Exactly those two, plus a CPU benchmark that ran into its hard time limit on a loaded machine
    # (it says so in the report: status fail or error), if any.
    broken = [b["id"] for b in vm["benchmarks"] if b["status"] in ("fail", "error")]
    assert f"{2 + len(broken)} failed" in done.stdout, (broken, done.stdout[-600:])
    assert done.returncode == 1  # the VM disagrees with the host: failed criteria
