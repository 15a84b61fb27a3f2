"""VM probes, the live VM collector, the ``collect-vm`` command line and the sample VM snapshots.

The commands are checked against the contract's table as text, the collector runs against a fake
:class:`Runner` and once for real on this machine (a Linux machine, usually without a GPU), and the
sample lab in fixtures/vms/ is checked for shape, determinism and its joins to fixtures/hosts/.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from eflowgpu import cli
from eflowgpu.errors import SnapshotError
from eflowgpu.host.collector import EXIT_RUNNER_ERROR, EXIT_TIMED_OUT, RunResult, SubprocessRunner
from eflowgpu.matrix import Matrix
from eflowgpu.nvsmi import NvidiaSmiError, parse_nvidia_smi
from eflowgpu.snapshot import read_snapshot
from eflowgpu.vm import collector as vm_collector
from eflowgpu.vm.collector import collect_vm_snapshot
from eflowgpu.vm.commands import (
    DEFAULT_PROBE_TIMEOUT_S,
    NVIDIA_SMI_FALLBACKS,
    SHELL,
    VM_NAMESPACE_PROBES,
    VM_PROBES,
    VM_SNAPSHOT_FORMAT,
    VmProbe,
    shell_argv,
)

from vm_expectations import EXPECTED

PROJECT = Path(__file__).resolve().parents[1]
CONTRACT = PROJECT.parent / "shared" / "contracts" / "vm-snapshot.md"
VMS = PROJECT / "fixtures" / "vms"
HOSTS = PROJECT / "fixtures" / "hosts"

EXPECTED_NAMES = (
    "os_release",
    "kernel",
    "pci_devices",
    "dev_nodes",
    "wsl_libs",
    "nvidia_driver",
    "nvidia_smi",
    "meminfo",
    "container_runtime",
    "container_toolkit",
    "loader_libs",
)
WSL_SMI = "/usr/lib/wsl/lib/nvidia-smi -q -x"
FIXED_TIME = datetime(2026, 11, 20, 10, 5, 0, tzinfo=UTC)
PCI_LINE = re.compile(r"^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]( 0x[0-9a-f]{4}){4} 0x[0-9a-f]{6}$")


# --- helpers --------------------------------------------------------------------------------------


def _contract_probes() -> dict[str, list[str]]:
    """Probe name -> the code spans of its command cell (the command, then its GPU-PV form)."""
    if not CONTRACT.is_file():
        pytest.skip(f"contract not found at {CONTRACT} (shared/ is not checked out beside the project)")
    text = CONTRACT.read_text(encoding="utf-8")
    section = text.split("## Probes", 1)[1].split("\n## ", 1)[0]
    table: dict[str, list[str]] = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
            table[cells[0].strip("`")] = [
                span.replace("\\|", "|") for span in re.findall(r"`([^`]*)`", cells[1])
            ]
    return table


class FakeRunner:
    """A :class:`Runner` that answers from a table keyed by the probe's shell command."""

    def __init__(
        self,
        responses: dict[str, RunResult | Exception] | None = None,
        default: Callable[[str], RunResult] | None = None,
    ) -> None:
        self.responses = responses or {}
        self.default = default or (lambda command: RunResult(0, f"out of {command[:12]}\n", ""))
        self.calls: list[tuple[list[str], float]] = []

    def run(self, argv: Sequence[str], timeout_s: float) -> RunResult:
        self.calls.append((list(argv), timeout_s))
        assert list(argv[:2]) == [SHELL, "-c"]
        assert len(argv) == 3
        response = self.responses.get(argv[2])
        if isinstance(response, Exception):
            raise response
        return response if response is not None else self.default(argv[2])

    @property
    def commands(self) -> list[str]:
        return [argv[2] for argv, _ in self.calls]


def _by_name(name: str) -> VmProbe:
    return next(probe for probe in VM_PROBES if probe.name == name)


@pytest.fixture(autouse=True)
def _probes_run_in_the_vm_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine may itself be a container: state the scope so that envelopes are the same
    everywhere (scope detection has its own tests)."""
    monkeypatch.setenv("EFLOWGPU_SCOPE", "vm")


def _snapshot(runner: FakeRunner, **kwargs: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"host": "LAB-T4-01", "vm": "LAB-T4-01-EFLOW", "clock": lambda: FIXED_TIME}
    options.update(kwargs)
    return collect_vm_snapshot(runner, **options)


def _context(runner: FakeRunner) -> tuple[cli.CliContext, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return cli.CliContext(runner=runner, find_powershell=lambda: None, stdout=out, stderr=err), out, err


# --- (1) the probe table and the contract ---------------------------------------------------------


def test_probe_names_are_the_contracts_in_order() -> None:
    assert tuple(probe.name for probe in VM_PROBES) == EXPECTED_NAMES


def test_probe_names_and_order_match_contract_table() -> None:
    assert tuple(_contract_probes()) == tuple(probe.name for probe in VM_PROBES)


@pytest.mark.parametrize("probe", VM_PROBES, ids=lambda p: p.name)
def test_command_is_the_contract_text(probe: VmProbe) -> None:
    spans = _contract_probes()[probe.name]
    assert probe.command == spans[0]
    assert probe.fallbacks == tuple(spans[1:])


def test_nvidia_smi_falls_back_to_the_wsl_copy_only() -> None:
    probe = _by_name("nvidia_smi")
    assert probe.command == "nvidia-smi -q -x"
    assert probe.fallbacks == NVIDIA_SMI_FALLBACKS == (WSL_SMI,)
    assert all(not p.fallbacks for p in VM_PROBES if p.name != "nvidia_smi")


def test_the_commands_the_brief_names() -> None:
    commands = {p.name: p.command for p in VM_PROBES}
    assert commands["dev_nodes"] == "ls -1 /dev/nvidia* /dev/dxg"
    assert commands["container_runtime"] == "docker info --format '{{json .Runtimes}}'"
    assert commands["pci_devices"] == (
        'for d in /sys/bus/pci/devices/*; do echo "$(basename $d) $(cat $d/vendor) $(cat $d/device) '
        '$(cat $d/subsystem_vendor) $(cat $d/subsystem_device) $(cat $d/class)"; done'
    )


@pytest.mark.parametrize("command", [p.command for p in VM_PROBES] + list(NVIDIA_SMI_FALLBACKS))
def test_command_is_a_plain_constant(command: str) -> None:
    assert command.isascii()
    assert command == command.strip()
    assert "\n" not in command
    assert "\r" not in command
    assert shell_argv(command) == ["/bin/sh", "-c", command]


def test_vm_probe_is_frozen() -> None:
    probe = VmProbe("x", "true")
    with pytest.raises(AttributeError):
        probe.command = "rm -rf /"  # type: ignore[misc]
    assert probe.timeout_s == DEFAULT_PROBE_TIMEOUT_S
    assert probe.fallbacks == ()
    assert VM_SNAPSHOT_FORMAT == "eflow-gpu-vm-snapshot/1"


# --- (2) the collector -----------------------------------------------------------------------------


def test_collector_builds_the_exact_envelope() -> None:
    runner = FakeRunner()
    snapshot = _snapshot(runner)
    version = importlib.metadata.version("eflowgpu")
    assert snapshot == {
        "format": "eflow-gpu-vm-snapshot/1",
        "host": "LAB-T4-01",
        "vm": "LAB-T4-01-EFLOW",
        "captured_at": "2026-11-20T10:05:00Z",
        "collector": f"eflowgpu {version} (python)",
        "probes": {
            probe.name: {
                "command": probe.command,
                "exit_code": 0,
                "stdout": f"out of {probe.command[:12]}\n",
                "stderr": "",
            }
            for probe in VM_PROBES
        },
    }
    assert list(snapshot) == ["format", "host", "vm", "captured_at", "collector", "probes"]
    assert list(snapshot["probes"]) == list(EXPECTED_NAMES)
    assert list(snapshot["probes"]["kernel"]) == ["command", "exit_code", "stdout", "stderr"]
    assert runner.commands == [probe.command for probe in VM_PROBES]
    assert [timeout for _, timeout in runner.calls] == [DEFAULT_PROBE_TIMEOUT_S] * len(VM_PROBES)
    json.dumps(snapshot)


def test_host_is_left_out_for_a_plain_linux_machine() -> None:
    snapshot = _snapshot(FakeRunner(), host=None, vm="build-agent-07")
    assert "host" not in snapshot
    assert list(snapshot) == ["format", "vm", "captured_at", "collector", "probes"]
    assert snapshot["vm"] == "build-agent-07"


def test_vm_label_defaults_to_the_host_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platform.node", lambda: "LAB-T4-01-EFLOW")
    snapshot = collect_vm_snapshot(FakeRunner(), host="LAB-T4-01", clock=lambda: FIXED_TIME)
    assert snapshot["vm"] == "LAB-T4-01-EFLOW"
    monkeypatch.setattr("platform.node", lambda: "")
    assert collect_vm_snapshot(FakeRunner(), host=None)["vm"] == "unknown-vm"


@pytest.mark.parametrize(("host", "vm"), [("", "v"), ("  ", "v"), ("h", ""), ("h", "\t")])
def test_blank_labels_are_refused(host: str, vm: str) -> None:
    with pytest.raises(ValueError, match="must not be blank"):
        collect_vm_snapshot(FakeRunner(), host=host, vm=vm)


def test_captured_at_is_utc_with_z() -> None:
    local = datetime(2026, 11, 20, 11, 35, 0, 999999, tzinfo=timezone(timedelta(hours=1, minutes=30)))
    assert _snapshot(FakeRunner(), clock=lambda: local)["captured_at"] == "2026-11-20T10:05:00Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        _snapshot(FakeRunner(), clock=lambda: datetime(2026, 1, 1))


def test_timeout_is_a_failed_probe_and_the_others_still_run() -> None:
    docker = _by_name("container_runtime").command
    runner = FakeRunner({docker: RunResult(EXIT_TIMED_OUT, "", "timed out after 60 s", timed_out=True)})
    snapshot = _snapshot(runner)
    record = snapshot["probes"]["container_runtime"]
    assert record == {
        "command": docker,
        "exit_code": EXIT_TIMED_OUT,
        "stdout": "",
        "stderr": "timed out after 60 s",
    }
    assert list(snapshot["probes"]) == list(EXPECTED_NAMES)
    assert len(runner.calls) == len(VM_PROBES)
    assert snapshot["probes"]["container_toolkit"]["exit_code"] == 0


def test_failed_probe_is_recorded_as_it_failed() -> None:
    nodes = _by_name("dev_nodes").command
    failure = RunResult(2, "/dev/dxg\n", "ls: cannot access '/dev/nvidia*': No such file or directory\n")
    snapshot = _snapshot(FakeRunner({nodes: failure}))
    assert snapshot["probes"]["dev_nodes"] == {
        "command": nodes,
        "exit_code": 2,
        "stdout": "/dev/dxg\n",
        "stderr": failure.stderr,
    }


def test_a_crashing_runner_costs_one_probe() -> None:
    meminfo = _by_name("meminfo").command
    snapshot = _snapshot(FakeRunner({meminfo: OSError("pipe broke")}))
    assert snapshot["probes"]["meminfo"]["exit_code"] == EXIT_RUNNER_ERROR
    assert "pipe broke" in snapshot["probes"]["meminfo"]["stderr"]
    assert snapshot["probes"]["container_runtime"]["exit_code"] == 0


def test_custom_probes_and_timeouts() -> None:
    runner = FakeRunner()
    probes = (VmProbe("a", "true", timeout_s=3.5), VmProbe("b", "uname -m", 7))
    snapshot = collect_vm_snapshot(runner, host=None, vm="v", probes=probes)
    assert list(snapshot["probes"]) == ["a", "b"]
    assert runner.calls == [([SHELL, "-c", "true"], 3.5), ([SHELL, "-c", "uname -m"], 7)]


def test_duplicate_probe_names_are_refused() -> None:
    probes = (VmProbe("kernel", "uname -r"), VmProbe("kernel", "uname -a"))
    with pytest.raises(ValueError, match="duplicate probe names: kernel"):
        collect_vm_snapshot(FakeRunner(), host=None, vm="v", probes=probes)


def test_no_probe_output_ever_reaches_an_argv() -> None:
    def leaky(command: str) -> RunResult:
        marker = f"LEAK{abs(hash(command))}"
        return RunResult(1, f"{marker} $(rm -rf /)", f"{marker}'; reboot", False)

    runner = FakeRunner(default=leaky)
    snapshot = _snapshot(runner, host="LAB-$(reboot)", vm="`id`")
    known = {probe.command for probe in VM_PROBES} | set(NVIDIA_SMI_FALLBACKS)
    records = snapshot["probes"].values()
    markers = [r["stdout"].split(" ", 1)[0] for r in records]
    for argv, _ in runner.calls:
        assert argv[2] in known
        for text in [*markers, "reboot", "`id`"]:
            assert all(text not in arg for arg in argv)


class TestNvidiaSmiFallback:
    primary = "nvidia-smi -q -x"

    def test_not_tried_when_nvidia_smi_works(self) -> None:
        runner = FakeRunner()
        snapshot = _snapshot(runner)
        assert snapshot["probes"]["nvidia_smi"]["command"] == self.primary
        assert WSL_SMI not in runner.commands

    def test_records_the_wsl_copy_when_nvidia_smi_is_not_found(self) -> None:
        xml = '<?xml version="1.0" ?>\n<nvidia_smi_log></nvidia_smi_log>\n'
        runner = FakeRunner(
            {
                self.primary: RunResult(127, "", "/bin/sh: line 1: nvidia-smi: command not found\n"),
                WSL_SMI: RunResult(0, xml, ""),
            }
        )
        snapshot = _snapshot(runner)
        assert snapshot["probes"]["nvidia_smi"] == {
            "command": WSL_SMI,
            "exit_code": 0,
            "stdout": xml,
            "stderr": "",
        }
        start = runner.commands.index(self.primary)
        assert runner.commands[start : start + 2] == [self.primary, WSL_SMI]
        assert runner.calls[start + 1][1] == _by_name("nvidia_smi").timeout_s

    def test_keeps_the_primary_failure_when_the_wsl_copy_fails_too(self) -> None:
        failure = RunResult(
            9, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n", ""
        )
        runner = FakeRunner(
            {
                self.primary: failure,
                WSL_SMI: RunResult(127, "", "/bin/sh: line 1: /usr/lib/wsl/lib/nvidia-smi: No such file\n"),
            }
        )
        snapshot = _snapshot(runner)
        assert snapshot["probes"]["nvidia_smi"] == {
            "command": self.primary,
            "exit_code": 9,
            "stdout": failure.stdout,
            "stderr": "",
        }
        assert WSL_SMI in runner.commands

    def test_not_tried_after_a_timeout(self) -> None:
        timed_out = RunResult(EXIT_TIMED_OUT, "", "timed out after 60 s", timed_out=True)
        runner = FakeRunner({self.primary: timed_out})
        snapshot = _snapshot(runner)
        assert snapshot["probes"]["nvidia_smi"]["exit_code"] == EXIT_TIMED_OUT
        assert WSL_SMI not in runner.commands

    def test_a_crashing_fallback_keeps_the_primary_failure(self) -> None:
        runner = FakeRunner({self.primary: RunResult(127, "", "not found\n"), WSL_SMI: RuntimeError("boom")})
        snapshot = _snapshot(runner)
        assert snapshot["probes"]["nvidia_smi"]["exit_code"] == 127
        assert snapshot["probes"]["nvidia_smi"]["command"] == self.primary


def test_the_host_collectors_runner_is_reused() -> None:
    assert vm_collector.SubprocessRunner is SubprocessRunner
    assert vm_collector.Runner.__module__ == "eflowgpu.host.collector"


# --- (3) one real run on this machine --------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the VM probes are Linux shell commands")
def test_real_run_on_this_machine() -> None:
    snapshot = collect_vm_snapshot(SubprocessRunner(), host=None, vm="this-machine", clock=lambda: FIXED_TIME)
    assert list(snapshot) == ["format", "vm", "captured_at", "collector", "probes"]
    assert snapshot["format"] == VM_SNAPSHOT_FORMAT
    assert snapshot["vm"] == "this-machine"
    assert snapshot["captured_at"] == "2026-11-20T10:05:00Z"
    probes = snapshot["probes"]
    assert list(probes) == list(EXPECTED_NAMES)
    for name, record in probes.items():
        assert list(record) == ["command", "exit_code", "stdout", "stderr"], name
        if name not in ("nvidia_smi", "container_runtime"):  # the two that may wait on a daemon or driver
            assert record["exit_code"] != EXIT_TIMED_OUT, f"{name}: {record['stderr']}"
    assert {name: r["command"] for name, r in probes.items() if name != "nvidia_smi"} == {
        p.name: p.command for p in VM_PROBES if p.name != "nvidia_smi"
    }
    assert probes["os_release"]["exit_code"] == 0
    assert re.search(r"^ID=", probes["os_release"]["stdout"], flags=re.MULTILINE)
    assert probes["kernel"]["stdout"].strip() == platform.release()
    assert re.search(r"^MemTotal: +\d+ kB$", probes["meminfo"]["stdout"], flags=re.MULTILINE)

    pci = probes["pci_devices"]
    functions = sorted(p.name for p in Path("/sys/bus/pci/devices").glob("*"))
    if not functions:
        pytest.skip("this machine has no PCI functions in sysfs")
    assert pci["exit_code"] == 0, pci["stderr"]
    lines = pci["stdout"].splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == functions
    for line in lines:
        assert PCI_LINE.match(line), line

    nodes = probes["dev_nodes"]
    all_there = any(Path("/dev").glob("nvidia*")) and Path("/dev/dxg").exists()
    assert (nodes["exit_code"] == 0) == all_there
    if not Path("/dev/dxg").exists():
        assert "/dev/dxg" in nodes["stderr"]

    smi = probes["nvidia_smi"]
    if shutil.which("nvidia-smi") is None and not Path("/usr/lib/wsl/lib/nvidia-smi").exists():
        assert smi["exit_code"] != 0
        assert smi["command"] == "nvidia-smi -q -x"
    if not Path("/proc/driver/nvidia/version").exists():
        assert probes["nvidia_driver"]["exit_code"] != 0


# --- (4) the command line --------------------------------------------------------------------------


def test_cli_collect_vm_writes_a_snapshot(tmp_path: Path) -> None:
    out_file = tmp_path / "LAB-T4-01-EFLOW.json"
    nodes = _by_name("dev_nodes").command
    runner = FakeRunner({nodes: RunResult(2, "/dev/nvidia0\n", "ls: cannot access '/dev/dxg'")})
    context, out, err = _context(runner)
    argv = ["collect-vm", "--out", str(out_file), "--host", "LAB-T4-01", "--vm", "LAB-T4-01-EFLOW"]
    assert cli.main(argv, context=context) == 0, err.getvalue()
    snapshot = json.loads(out_file.read_text(encoding="utf-8"))
    assert snapshot["format"] == VM_SNAPSHOT_FORMAT
    assert snapshot["host"] == "LAB-T4-01"
    assert snapshot["vm"] == "LAB-T4-01-EFLOW"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", snapshot["captured_at"])
    assert {name: r["command"] for name, r in snapshot["probes"].items()} == {
        p.name: p.command for p in VM_PROBES
    }
    assert all(timeout == DEFAULT_PROBE_TIMEOUT_S for _, timeout in runner.calls)
    assert f"wrote {out_file}: 11 probes, 1 with a non-zero exit code (dev_nodes)" in out.getvalue()


def test_cli_collect_vm_without_host_leaves_it_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platform.node", lambda: "ci-runner")
    out_file = tmp_path / "s.json"
    context, out, _ = _context(FakeRunner())
    assert cli.main(["collect-vm", "--out", str(out_file), "--timeout", "2.5"], context=context) == 0
    snapshot = json.loads(out_file.read_text(encoding="utf-8"))
    assert "host" not in snapshot
    assert snapshot["vm"] == "ci-runner"
    assert out.getvalue().endswith("11 probes, 0 with a non-zero exit code\n")


def test_cli_collect_vm_timeout_applies_to_every_probe(tmp_path: Path) -> None:
    runner = FakeRunner()
    context, _, _ = _context(runner)
    assert (
        cli.main(["collect-vm", "--out", str(tmp_path / "s.json"), "--timeout", "7.5"], context=context) == 0
    )
    assert {timeout for _, timeout in runner.calls} == {7.5}


def test_cli_collect_vm_missing_directory_exits_2(tmp_path: Path) -> None:
    runner = FakeRunner()
    context, _, err = _context(runner)
    assert cli.main(["collect-vm", "--out", str(tmp_path / "no" / "s.json")], context=context) == 2
    assert "directory does not exist" in err.getvalue()
    assert runner.calls == []


def test_cli_collect_vm_cannot_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", disk_full)
    context, _, err = _context(FakeRunner())
    assert cli.main(["collect-vm", "--out", str(tmp_path / "s.json")], context=context) == 1
    assert "cannot write" in err.getvalue()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["collect-vm"],
        ["collect-vm", "--out", "x.json", "--timeout", "0"],
        ["collect-vm", "--out", "x.json", "--timeout", "inf"],
        ["collect-vm", "--out", "x.json", "--host", " "],
        ["collect-vm", "--out", "x.json", "--vm", ""],
    ],
)
def test_cli_collect_vm_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    runner = FakeRunner()
    context, _, _ = _context(runner)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv, context=context)
    assert exit_info.value.code == 2
    assert "usage: eflowgpu" in capsys.readouterr().err
    assert runner.calls == []


def test_cli_help_lists_both_collectors() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "eflowgpu", "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert run.returncode == 0
    assert "collect-host" in run.stdout
    assert "collect-vm" in run.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the VM probes are Linux shell commands")
def test_cli_collect_vm_end_to_end(tmp_path: Path) -> None:
    out_file = tmp_path / "vm.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "eflowgpu",
            "collect-vm",
            "--out",
            str(out_file),
            "--vm",
            "e2e",
            "--timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        env={**os.environ},
        check=False,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"wrote {out_file}: 11 probes, ")
    snapshot = read_snapshot(out_file, VM_SNAPSHOT_FORMAT)
    assert not snapshot.host_given
    assert snapshot.extra["vm"] == "e2e"


# --- (5) the sample VM snapshots (fixtures/vms) ----------------------------------------------------


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_make_vms", VMS / "_make_vms.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def _vm_files() -> list[Path]:
    return sorted(VMS.glob("*.json"))


def _host_labels() -> set[str]:
    labels = set()
    for path in HOSTS.glob("*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("host"), str):
            labels.add(data["host"])
    return labels


def test_generator_is_deterministic_and_matches_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _generator().main(tmp_path)
    assert "wrote 14 files" in capsys.readouterr().out
    written = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    stored = {p.name: p.read_bytes() for p in _vm_files()}
    assert written == stored, "fixtures/vms is stale: run python fixtures/vms/_make_vms.py"


def test_every_sample_has_an_expectation() -> None:
    assert sorted(p.stem for p in _vm_files()) == sorted(EXPECTED)


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_sample_reads_as_expected(stem: str) -> None:
    path = VMS / f"{stem}.json"
    expected = EXPECTED[stem]
    if expected["status"] == "error":
        with pytest.raises(SnapshotError):
            read_snapshot(path, VM_SNAPSHOT_FORMAT)
        return
    snapshot = read_snapshot(path, VM_SNAPSHOT_FORMAT)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["collector"] == "example: written from reference facts, not captured (eflowgpu sample lab)"
    assert data.get("host") == expected["host"]
    assert snapshot.host_given == (expected["host"] is not None)
    in_container = data.get("scope") == "container"
    # Revision-1 recordings predate loader_libs; container ones add the VM's own answers (vm_*).
    names = [n for n in EXPECTED_NAMES if n != "loader_libs" or "loader_libs" in data["probes"]]
    if in_container:
        names += [p.name for p in VM_NAMESPACE_PROBES]
    assert list(snapshot.probes) == names
    for probe in VM_PROBES + VM_NAMESPACE_PROBES:
        if probe.name in snapshot.probes:
            allowed = {probe.command, *probe.fallbacks}
            assert snapshot.probes[probe.name].command in allowed, probe.name


def test_samples_join_hosts_of_the_lab() -> None:
    labels = _host_labels()
    joined = {stem: e["host"] for stem, e in EXPECTED.items() if e["host"] is not None}
    assert len(joined) >= 9
    for stem, host in joined.items():
        assert host in labels, f"{stem}: no host snapshot has host {host!r}"
        data = json.loads((VMS / f"{stem}.json").read_text(encoding="utf-8"))
        assert data["vm"] == f"{host}-EFLOW"


def _raw_view(stem: str) -> dict[str, Any]:
    """What the contract's passthrough rules read from a sample's raw probe output (independently)."""
    probes = json.loads((VMS / f"{stem}.json").read_text(encoding="utf-8"))["probes"]
    functions = [
        line.split() for line in probes["pci_devices"]["stdout"].splitlines() if PCI_LINE.match(line)
    ]
    nvidia = [f for f in functions if f[1] == "0x10de" and f[5].startswith("0x03")]
    nodes = set(probes["dev_nodes"]["stdout"].split())
    libs = set(probes["wsl_libs"]["stdout"].split()) if probes["wsl_libs"]["exit_code"] == 0 else set()
    loader = probes.get("loader_libs", {"stdout": ""})["stdout"]
    linked = any(line.split()[:1] == ["libcuda.so.1"] and "=>" in line for line in loader.splitlines())
    return {
        "nvidia": nvidia,
        "dxg": "/dev/dxg" in nodes,
        "libcuda": "libcuda.so.1" in libs or linked,
        "nvidia0": "/dev/nvidia0" in nodes,
        "nvrm": probes["nvidia_driver"]["exit_code"] == 0,
        "smi": probes["nvidia_smi"],
    }


@pytest.mark.parametrize("stem", sorted(s for s, e in EXPECTED.items() if e["status"] == "ok"))
def test_sample_follows_the_contracts_passthrough_rules(stem: str) -> None:
    expected = EXPECTED[stem]
    seen = _raw_view(stem)
    if seen["nvidia"]:
        passthrough = "DDA"
    elif seen["dxg"] and seen["libcuda"]:
        passthrough = "GPU-PV"
    else:
        passthrough = "none"
    assert expected["passthrough"] == passthrough
    smi = seen["smi"]
    if passthrough == "DDA":
        assert [f"{f[1][2:]}:{f[2][2:]}".upper() for f in seen["nvidia"]] == [
            g["pci_id"] for g in expected["gpus"]
        ]
        works = seen["nvidia0"] and seen["nvrm"] and smi["exit_code"] == 0
        if not works:
            assert expected["gpu_visible"] == "fail"
    if passthrough == "GPU-PV":
        assert smi["command"] in ("nvidia-smi -q -x", WSL_SMI)
    if passthrough == "none":
        assert expected["gpus"] == []
        assert expected["gpu_visible"] == "skip"
    if smi["exit_code"] == 0:
        try:
            log = parse_nvidia_smi(smi["stdout"])
        except NvidiaSmiError:
            assert expected["gpu_visible"] == "fail"
            assert all(g["driver_version"] is None for g in expected["gpus"])
        else:
            assert [g["driver_version"] for g in expected["gpus"]] == [log.driver_version] * len(log.gpus)
            assert [g["cuda_version"] for g in expected["gpus"]] == [log.cuda_version] * len(log.gpus)


def test_expected_models_are_catalog_keys(matrix: Matrix) -> None:
    models = {g["model"] for e in EXPECTED.values() for g in e["gpus"] if g["model"] is not None}
    assert models
    assert models <= set(matrix.gpus)


def test_unusable_xml_samples_fail_safely() -> None:
    truncated = json.loads((VMS / "vm-t4-partial-truncated-xml.json").read_text(encoding="utf-8"))
    hostile = json.loads((VMS / "vm-t4-win10pro-hostile-xml.json").read_text(encoding="utf-8"))
    assert truncated["probes"]["nvidia_smi"]["exit_code"] == 0
    assert hostile["probes"]["nvidia_smi"]["exit_code"] == 0
    assert "<!ENTITY lol9" in hostile["probes"]["nvidia_smi"]["stdout"]
    for sample in (truncated, hostile):
        with pytest.raises(NvidiaSmiError):
            parse_nvidia_smi(sample["probes"]["nvidia_smi"]["stdout"])


# --- contract revision 2: scope and the VM's own probes ---------------------------------------------


@pytest.mark.parametrize(
    ("environ", "markers", "scope"),
    [
        ({}, set(), "vm"),
        ({}, {"/.dockerenv"}, "container"),
        ({}, {"/run/.containerenv"}, "container"),
        ({"EFLOWGPU_SCOPE": "container"}, set(), "container"),  # deploy/Dockerfile sets it
        ({"EFLOWGPU_SCOPE": "vm"}, {"/.dockerenv"}, "vm"),
        ({"EFLOWGPU_SCOPE": "bogus"}, set(), "vm"),
    ],
)
def test_scope_detection(environ: dict[str, str], markers: set[str], scope: str) -> None:
    assert vm_collector.detect_scope(environ, exists=markers.__contains__) == scope


def test_container_scope_is_recorded_before_the_probes() -> None:
    snapshot = _snapshot(FakeRunner(), scope="container")
    assert list(snapshot) == ["format", "host", "vm", "captured_at", "collector", "scope", "probes"]
    assert snapshot["scope"] == "container"
    with pytest.raises(ValueError, match="unknown scope 'host'"):
        _snapshot(FakeRunner(), scope="host")


def test_vm_namespace_probes_are_the_contracts_commands_in_the_vm() -> None:
    contract = _contract_probes()
    for probe in VM_NAMESPACE_PROBES:
        base = probe.name.removeprefix("vm_")
        assert probe.command.removeprefix("sudo ") == contract[base][0]
    assert "`vm_os_release`, `vm_container_runtime` and `vm_container_toolkit`" in CONTRACT.read_text(
        encoding="utf-8"
    )


def test_loader_libs_reads_ldconfig(matrix: Matrix) -> None:
    from eflowgpu.vm.facts import vm_facts

    snapshot = read_snapshot(VMS / "vm-rtxa2000-w11-gpupv-container.json", VM_SNAPSHOT_FORMAT)
    facts = vm_facts(snapshot)
    assert facts.scope == "container"
    assert facts.loader_path("libcuda.so.1") == "/usr/lib/x86_64-linux-gnu/libcuda.so.1"
    assert facts.loader_path("libnvidia-ml.so.1") == "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"
    assert facts.wsl_libs == frozenset() and facts.render_device is not None  # no /usr/lib/wsl/lib
