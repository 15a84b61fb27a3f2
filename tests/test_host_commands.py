"""Host probes, the live collector, collect-host.ps1 and the ``collect-host`` command line.

No Windows and no PowerShell here: the commands are checked against the contract and against
collect-host.ps1 as text, the collector runs against a fake :class:`Runner`, and
:class:`SubprocessRunner` runs real (Python) child processes.
"""

from __future__ import annotations

import base64
import importlib.metadata
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from eflowgpu import cli
from eflowgpu.host import collector, commands
from eflowgpu.host.collector import (
    EXIT_NOT_STARTED,
    EXIT_RUNNER_ERROR,
    EXIT_TIMED_OUT,
    RunResult,
    SubprocessRunner,
    collect_host_snapshot,
    find_powershell,
    write_snapshot,
)
from eflowgpu.host.commands import (
    EPILOGUE,
    HOST_PROBES,
    HOST_SNAPSHOT_FORMAT,
    NVIDIA_SMI_FALLBACKS,
    PACK_PROBES,
    POWERSHELL_FLAGS,
    PRELUDE,
    HostProbe,
    powershell_argv,
    wrap_command,
)

PROJECT = Path(__file__).resolve().parents[1]
CONTRACT = PROJECT.parent / "shared" / "contracts" / "host-snapshot.md"
PS1 = PROJECT / "eflowgpu" / "scripts" / "collect-host.ps1"

EXPECTED_NAMES = (
    "os",
    "os_cim",
    "insider",
    "video_controllers",
    "computer_system",
    "processor",
    "features",
    "disk",
    "vmhost",
    "pci_survey",
    "assignable_devices",
    "partitionable_gpus",
    "hyperv_policy",
    "nvidia_smi",
    "eflow",
    "eflow_host",
    "wsl",
)
DOCUMENTED_EXCEPTIONS = {"pci_survey", "partitionable_gpus"}
WINDOWS_COMMAND_LINE_LIMIT = 32_767
FIXED_TIME = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)


# --- helpers --------------------------------------------------------------------------------------


def _contract_text() -> str:
    if not CONTRACT.is_file():
        pytest.skip(f"contract not found at {CONTRACT} (shared/ is not checked out beside the project)")
    return CONTRACT.read_text(encoding="utf-8")


def _table_rows(section: str) -> list[list[str]]:
    """Cells of the Markdown table rows in ``section`` (``\\|`` inside a cell is a literal ``|``)."""
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            rows.append([cell.strip() for cell in cells])
    return rows


def _contract_probes() -> dict[str, str]:
    """Probe name -> the first code span of its command cell (the cell text when it has none)."""
    text = _contract_text()
    section = text.split("## Probes", 1)[1].split("### `pci_survey`", 1)[0]
    table: dict[str, str] = {}
    for cells in _table_rows(section):
        name = cells[0].strip("`")
        span = re.match(r"`([^`]*)`", cells[1])
        table[name] = span.group(1).replace("\\|", "|") if span else cells[1]
    return table


def _contract_survey_fields() -> list[str]:
    text = _contract_text()
    section = text.split("### `pci_survey`", 1)[1].split("## ", 1)[0]
    fields: list[str] = []
    for cells in _table_rows(section):
        fields.extend(re.findall(r"`([A-Za-z]+)`", cells[0]))
    return fields


def _decode_argv(argv: Sequence[str]) -> str:
    """The script an argument vector from :func:`powershell_argv` runs."""
    assert list(argv[1:-1]) == list(POWERSHELL_FLAGS)
    return base64.b64decode(argv[-1], validate=True).decode("utf-16-le")


def _command_of(argv: Sequence[str]) -> str:
    script = _decode_argv(argv)
    head, tail = PRELUDE + "\n", "\n" + EPILOGUE
    assert script.startswith(head)
    assert script.endswith(tail)
    return script[len(head) : -len(tail)]


class FakeRunner:
    """A :class:`collector.Runner` that answers from a table keyed by probe command."""

    def __init__(
        self,
        responses: dict[str, RunResult | Exception] | None = None,
        default: Callable[[str], RunResult] | None = None,
    ) -> None:
        self.responses = responses or {}
        self.default = default or (lambda command: RunResult(0, f"out of {command[:20]}\n", ""))
        self.calls: list[tuple[list[str], float]] = []

    def run(self, argv: Sequence[str], timeout_s: float) -> RunResult:
        self.calls.append((list(argv), timeout_s))
        command = _command_of(argv)
        response = self.responses.get(command)
        if isinstance(response, Exception):
            raise response
        return response if response is not None else self.default(command)

    @property
    def commands(self) -> list[str]:
        return [_command_of(argv) for argv, _ in self.calls]


def _by_name(name: str) -> HostProbe:
    return next(probe for probe in HOST_PROBES if probe.name == name)


def _ps_strip(text: str) -> str:
    """``text`` with PowerShell comments and string literals removed (for bracket counting)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if text.startswith(("@'\n", '@"\n', "@'\r\n", '@"\r\n'), i):
            closer = "\n" + text[i + 1] + "@"
            end = text.find(closer, i + 2)
            assert end >= 0, f"unterminated here-string at offset {i}"
            i = end + len(closer)
            out.append("''")
            continue
        if text.startswith("<#", i):
            end = text.find("#>", i + 2)
            assert end >= 0, "unterminated block comment"
            i = end + 2
            continue
        if ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch == "'":
            j = i + 1
            while True:
                j = text.index("'", j)
                if text.startswith("''", j):
                    j += 2
                    continue
                break
            i = j + 1
            out.append("''")
            continue
        if ch == '"':
            j = i + 1
            while text[j] != '"' or text.startswith('""', j):
                j += 2 if text[j] == "`" or text.startswith('""', j) else 1
            i = j + 1
            out.append("''")
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _assert_balanced(text: str) -> None:
    stripped = _ps_strip(text)
    stack: list[str] = []
    pairs = {")": "(", "}": "{", "]": "["}
    for ch in stripped:
        if ch in "({[":
            stack.append(ch)
        elif ch in pairs:
            assert stack, f"unbalanced {ch!r}"
            assert stack.pop() == pairs[ch], f"unbalanced {ch!r}"
    assert not stack, f"unclosed {stack}"


def _ps1_text() -> str:
    # Universal newlines: collect-host.ps1 turns CRLF into LF itself (a Windows checkout may have CRLF).
    return PS1.read_text(encoding="utf-8")


def _ps1_here_string(text: str, variable: str) -> str:
    match = re.search(
        rf"^\${variable} = @'\n(.*?)\n'@[ \t]*$",
        text,
        flags=re.MULTILINE | re.DOTALL,
    )
    assert match, f"${variable} here-string not found"
    return match.group(1)


def _ps1_table(text: str, variable: str) -> dict[str, str | list[str]]:
    """Parse ``$Var = [ordered]@{ 'name' = @'…'@ … }`` (values may also be ``@( @'…'@ … )`` lists)."""
    lines = text.split("\n")
    opener = re.compile(rf"^\${variable} = (\[ordered\])?@\{{\s*$")
    start = next((i for i, line in enumerate(lines) if opener.match(line)), None)
    assert start is not None, f"${variable} table not found"
    table: dict[str, str | list[str]] = {}

    def read_here_string(i: int) -> tuple[str, int]:
        body: list[str] = []
        while lines[i] != "'@":
            body.append(lines[i])
            i += 1
        return "\n".join(body), i + 1

    i = start + 1
    while lines[i] != "}":
        single = re.match(r"^\s*'([^']+)' = @'$", lines[i])
        multiple = re.match(r"^\s*'([^']+)' = @\($", lines[i])
        if single:
            table[single.group(1)], i = read_here_string(i + 1)
        elif multiple:
            items: list[str] = []
            i += 1
            while not re.match(r"^\s*\)$", lines[i]):
                assert lines[i] == "@'", f"unexpected line in list: {lines[i]!r}"
                item, i = read_here_string(i + 1)
                items.append(item)
            table[multiple.group(1)] = items
            i += 1
        else:
            assert not lines[i].strip(), f"unexpected line in ${variable}: {lines[i]!r}"
            i += 1
    return table


def _context(
    runner: FakeRunner, powershell: str | None = "pwsh"
) -> tuple[cli.CliContext, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return cli.CliContext(runner=runner, find_powershell=lambda: powershell, stdout=out, stderr=err), out, err


# --- (1) the probe table and the contract ---------------------------------------------------------


def test_probe_names_are_the_contracts_in_order() -> None:
    assert tuple(probe.name for probe in HOST_PROBES) == EXPECTED_NAMES


def test_probe_names_and_order_match_contract_table() -> None:
    contract = tuple(probe.name for probe in HOST_PROBES if probe.name not in PACK_PROBES)
    assert tuple(_contract_probes()) == contract
    assert [probe.name for probe in HOST_PROBES][-len(PACK_PROBES) :] == list(PACK_PROBES)


def test_pack_probes_are_listed_in_readme() -> None:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    for name in PACK_PROBES:
        command = _by_name(name).command
        assert f"`{name}`" in readme and command.splitlines()[0] in readme, name


@pytest.mark.parametrize(
    "probe", [p for p in HOST_PROBES if p.name not in DOCUMENTED_EXCEPTIONS | set(PACK_PROBES)], ids=str
)
def test_command_is_the_contract_text(probe: HostProbe) -> None:
    assert probe.command == _contract_probes()[probe.name]


def test_partitionable_gpus_picks_the_cmdlet_that_exists() -> None:
    contract = _contract_probes()["partitionable_gpus"]
    cmdlet, rest = contract.split(" ", 1)
    assert cmdlet == "Get-VMHostPartitionableGpu"
    command = _by_name("partitionable_gpus").command
    assert command.endswith(" " + rest), "the contract's Select-Object | ConvertTo-Json must follow"
    assert "Get-Command -Name Get-VMHostPartitionableGpu -ErrorAction SilentlyContinue" in command
    assert "'Get-VMHostPartitionableGpu'" in command
    assert "'Get-VMPartitionableGpu'" in command


def test_pci_survey_emits_every_contract_field() -> None:
    fields = _contract_survey_fields()
    assert "InstanceId" in fields
    assert "MmioBytes" in fields
    survey = _by_name("pci_survey").command
    emitted = re.findall(r"^\s{12}([A-Za-z]+) = ", survey, flags=re.MULTILINE)
    assert emitted == fields


def test_pci_survey_follows_surveydda() -> None:
    survey = _by_name("pci_survey").command
    assert "Get-PnpDevice -PresentOnly" in survey
    assert "$_.InstanceId -like 'PCI*'" in survey
    assert "$pciKey = '{3AB22E31-8264-4b4e-9AF5-A8D2D8E33E62}  '" in survey
    for key in ("'3'", "'1'", "'31'", "'34'"):
        assert f"($pciKey + {key})" in survey
    assert "if ($baseClass -ne 3) { continue }" in survey
    for name in (
        "DEVPKEY_Device_LocationPaths",
        "DEVPKEY_Device_DriverProvider",
        "DEVPKEY_Device_DriverInfPath",
        "DEVPKEY_Device_Service",
    ):
        assert f"'{name}'" in survey
    # WMI is read once, before the device loop.
    loop = survey.index("foreach ($device in")
    for wmi_class in ("Win32_PnPAllocatedResource", "Win32_DeviceMemoryAddress"):
        assert survey.count(f"Get-CimInstance -ClassName {wmi_class}") == 1
        assert survey.index(f"Get-CimInstance -ClassName {wmi_class}") < loop
    assert "$number -ge 2147483648 -or $number -lt 0" in survey  # MSI, as SurveyDDA's "IRQNumber=42949"
    assert "[decimal]$range.EndingAddress - [decimal]$range.StartingAddress + 1" in survey
    assert "ConvertTo-Json -InputObject @($results)" in survey
    assert "gwmi" not in survey
    assert "Get-WmiObject" not in survey  # not in PowerShell 7


def test_nvidia_smi_command_is_plain_with_fallbacks() -> None:
    probe = _by_name("nvidia_smi")
    assert probe.command == "nvidia-smi -q -x"
    assert probe.fallbacks == NVIDIA_SMI_FALLBACKS
    assert all(fallback.endswith('nvidia-smi.exe" -q -x') for fallback in probe.fallbacks)
    assert "System32" in probe.fallbacks[0]
    assert all(not p.fallbacks for p in HOST_PROBES if p.name != "nvidia_smi")


@pytest.mark.parametrize("command", [p.command for p in HOST_PROBES] + list(NVIDIA_SMI_FALLBACKS))
def test_command_is_safe_to_embed(command: str) -> None:
    assert command.isascii()
    assert command == command.strip()
    assert "\r" not in command
    for line in command.split("\n"):
        assert not line.startswith(("'@", '"@')), "would end collect-host.ps1's here-string"
    _assert_balanced(wrap_command(command))
    argv = powershell_argv(command, r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe")
    assert len(subprocess.list2cmdline(argv)) < WINDOWS_COMMAND_LINE_LIMIT


def test_host_probe_is_frozen() -> None:
    probe = HostProbe("x", "Get-Date")
    with pytest.raises(AttributeError):
        probe.command = "Remove-Item C:\\"  # type: ignore[misc]
    assert probe.timeout_s == commands.DEFAULT_PROBE_TIMEOUT_S
    assert HOST_SNAPSHOT_FORMAT == "eflow-gpu-host-snapshot/1"


def test_bracket_checker_catches_a_missing_brace() -> None:
    with pytest.raises(AssertionError):
        _assert_balanced(commands.PCI_SURVEY.replace("return 'none'\n}", "return 'none'\n", 1))


# --- (2) collect-host.ps1 holds the same commands ------------------------------------------------


def test_ps1_probe_table_is_host_probes() -> None:
    table = _ps1_table(_ps1_text(), "Probes")
    assert list(table.items()) == [(probe.name, probe.command) for probe in HOST_PROBES]


def test_ps1_wrapping_is_the_python_wrapping() -> None:
    text = _ps1_text()
    assert _ps1_here_string(text, "Prelude") == PRELUDE
    assert _ps1_here_string(text, "Epilogue") == EPILOGUE
    assert '$wrapped = $Prelude + "`n" + $Command + "`n" + $Epilogue' in text
    assert "[Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($wrapped))" in text
    flags = ", ".join(f"'{flag}'" for flag in POWERSHELL_FLAGS)
    assert f"$PowerShellFlags = @({flags})" in text


def test_ps1_fallbacks_are_the_python_fallbacks() -> None:
    fallbacks = _ps1_table(_ps1_text(), "Fallbacks")
    assert fallbacks == {p.name: list(p.fallbacks) for p in HOST_PROBES if p.fallbacks}


def test_ps1_envelope_matches_the_python_collector() -> None:
    text = _ps1_text()
    assert f"$SnapshotFormat = '{HOST_SNAPSHOT_FORMAT}'" in text
    assert "$CollectorName = 'collect-host.ps1 1.0'" in text
    assert f"$ExitTimedOut = {EXIT_TIMED_OUT}" in text
    assert f"$ExitNotStarted = {EXIT_NOT_STARTED}" in text
    assert '"timed out after $Seconds s"' in text
    assert collector.timed_out_message(120.0) == "timed out after 120 s"
    for key in (
        "format",
        "host",
        "captured_at",
        "collector",
        "probes",
        "command",
        "exit_code",
        "stdout",
        "stderr",
    ):
        assert re.search(rf"^\s+{key} = ", text, flags=re.MULTILINE), key
    assert "ConvertTo-Json -InputObject $envelope -Depth 5" in text
    assert "(New-Object System.Text.UTF8Encoding $false)" in text
    assert "\"yyyy-MM-dd'T'HH:mm:ss'Z'\"" in text


def test_ps1_parameters() -> None:
    text = _ps1_text()
    assert '[string]$OutFile = ".\\$env:COMPUTERNAME.json"' in text
    assert "[string]$HostLabel = $env:COMPUTERNAME" in text
    assert "[int]$TimeoutSeconds = 120" in text
    assert commands.DEFAULT_PROBE_TIMEOUT_S == 120


def test_ps1_lint() -> None:
    text = _ps1_text()
    assert text.isascii(), "Windows PowerShell 5.1 reads a BOM-less script as ANSI"
    assert not re.search(r"\b(Invoke-Expression|iex)\b", text, flags=re.IGNORECASE)
    assert not re.search(r"(?<![A-Za-z])-Command\b", text), "probes run with -EncodedCommand only"
    assert "Start-Process" not in text
    # Here-strings: every opener at a line end is closed by a terminator at a line start.
    open_quote: str | None = None
    for number, line in enumerate(text.split("\n"), 1):
        if open_quote is None:
            if line.rstrip().endswith(("@'", '@"')):
                open_quote = line.rstrip()[-1]
            else:
                assert not line.startswith(("'@", '"@')), f"line {number}: terminator without opener"
        elif line.startswith(open_quote + "@"):
            open_quote = None
    assert open_quote is None, "unterminated here-string"
    _assert_balanced(text)


def test_ps1_parses_with_tree_sitter() -> None:
    import tree_sitter as ts  # dev dependency, only this test needs it
    import tree_sitter_powershell as grammar

    parser = ts.Parser(ts.Language(grammar.language()))
    # The grammar cannot parse `Select-Object A, B` argument lists, so only the script itself, the
    # survey and the fallbacks (none of which has one) are checked.
    for source in (_ps1_text(), wrap_command(commands.PCI_SURVEY), *map(wrap_command, NVIDIA_SMI_FALLBACKS)):
        assert not parser.parse(source.encode("utf-8")).root_node.has_error


# --- (3) powershell_argv ---------------------------------------------------------------------------


@pytest.mark.parametrize("probe", HOST_PROBES, ids=str)
def test_powershell_argv_encodes_the_wrapped_command(probe: HostProbe) -> None:
    argv = powershell_argv(probe.command, "pwsh")
    assert argv[:-1] == ["pwsh", *POWERSHELL_FLAGS]
    assert re.fullmatch(r"[A-Za-z0-9+/]+=*", argv[-1])
    assert all(probe.command not in arg for arg in argv)
    script = _decode_argv(argv)
    assert script == PRELUDE + "\n" + probe.command + "\n" + EPILOGUE == wrap_command(probe.command)


def test_powershell_argv_flags() -> None:
    assert powershell_argv("Get-Date", "powershell.exe")[:8] == [
        "powershell.exe",
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-OutputFormat",
        "Text",
        "-EncodedCommand",
    ]


def test_powershell_argv_keeps_hostile_text_out_of_the_command_line() -> None:
    hostile = 'Write-Output "x"; Remove-Item -Recurse C:\\ # \' " `\n& calc.exe | iex'
    argv = powershell_argv(hostile, "pwsh")
    assert len(argv) == 9
    for fragment in ("Remove-Item", "calc.exe", '"', "'", "\n", ";", "&", "|"):
        assert all(fragment not in arg for arg in argv)
    assert _command_of(argv) == hostile


def test_prelude_and_epilogue() -> None:
    assert "$ProgressPreference = 'SilentlyContinue'" in PRELUDE
    assert "[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false" in PRELUDE
    assert PRELUDE.endswith("try {")
    assert EPILOGUE.startswith("$eflowgpuProbeOk = $?\n} catch {")
    assert "[Console]::Error.WriteLine(" in EPILOGUE
    catch_block = EPILOGUE.split("} catch {", 1)[1].split("\n}", 1)[0]
    assert catch_block.strip().endswith("exit 1")
    assert "if ($LASTEXITCODE) { exit $LASTEXITCODE }" in EPILOGUE
    assert "if (-not $eflowgpuProbeOk) { exit 1 }" in EPILOGUE
    assert EPILOGUE.endswith("exit 0")


# --- (4) the collector -----------------------------------------------------------------------------


def test_collector_builds_the_exact_envelope() -> None:
    runner = FakeRunner()
    snapshot = collect_host_snapshot(runner, host="LAB-T4-01", powershell="pwsh", clock=lambda: FIXED_TIME)
    version = importlib.metadata.version("eflowgpu")
    assert snapshot == {
        "format": "eflow-gpu-host-snapshot/1",
        "host": "LAB-T4-01",
        "captured_at": "2026-11-20T10:00:00Z",
        "collector": f"eflowgpu {version} (python)",
        "probes": {
            probe.name: {
                "command": probe.command,
                "exit_code": 0,
                "stdout": f"out of {probe.command[:20]}\n",
                "stderr": "",
            }
            for probe in HOST_PROBES
        },
    }
    assert list(snapshot) == ["format", "host", "captured_at", "collector", "probes"]
    assert list(snapshot["probes"]) == list(EXPECTED_NAMES)
    assert list(snapshot["probes"]["os"]) == ["command", "exit_code", "stdout", "stderr"]
    assert runner.commands == [probe.command for probe in HOST_PROBES]
    assert all(argv[0] == "pwsh" for argv, _ in runner.calls)
    assert [timeout for _, timeout in runner.calls] == [probe.timeout_s for probe in HOST_PROBES]
    json.dumps(snapshot)


def test_captured_at_is_utc_with_z() -> None:
    from datetime import timedelta, timezone

    local = datetime(2026, 11, 20, 11, 30, 5, 999999, tzinfo=timezone(timedelta(hours=1, minutes=30)))
    snapshot = collect_host_snapshot(FakeRunner(), host="h", powershell="pwsh", clock=lambda: local)
    assert snapshot["captured_at"] == "2026-11-20T10:00:05Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        collect_host_snapshot(FakeRunner(), host="h", powershell="pwsh", clock=lambda: datetime(2026, 1, 1))


def test_timeout_is_a_failed_probe_and_the_others_still_run() -> None:
    vmhost = _by_name("vmhost").command
    runner = FakeRunner({vmhost: RunResult(EXIT_TIMED_OUT, "", "timed out after 120 s", timed_out=True)})
    snapshot = collect_host_snapshot(runner, host="h", powershell="pwsh", clock=lambda: FIXED_TIME)
    record = snapshot["probes"]["vmhost"]
    assert record["exit_code"] == EXIT_TIMED_OUT != 0
    assert "timed out" in record["stderr"]
    assert record["command"] == vmhost
    assert list(snapshot["probes"]) == list(EXPECTED_NAMES)
    assert len(runner.calls) == len(HOST_PROBES)
    assert snapshot["probes"]["pci_survey"]["exit_code"] == 0


def test_failed_probe_is_recorded_as_it_failed() -> None:
    insider = _by_name("insider").command
    failure = RunResult(1, "", "Cannot find path ... [PathNotFound,...]\n")
    snapshot = collect_host_snapshot(
        FakeRunner({insider: failure}), host="h", powershell="pwsh", clock=lambda: FIXED_TIME
    )
    assert snapshot["probes"]["insider"] == {
        "command": insider,
        "exit_code": 1,
        "stdout": "",
        "stderr": failure.stderr,
    }


def test_a_crashing_runner_costs_one_probe() -> None:
    disk = _by_name("disk").command
    runner = FakeRunner({disk: RuntimeError("pipe broke")})
    snapshot = collect_host_snapshot(runner, host="h", powershell="pwsh", clock=lambda: FIXED_TIME)
    assert snapshot["probes"]["disk"]["exit_code"] == EXIT_RUNNER_ERROR
    assert "pipe broke" in snapshot["probes"]["disk"]["stderr"]
    assert snapshot["probes"]["vmhost"]["exit_code"] == 0


def test_stdout_is_recorded_verbatim_bom_and_crlf_included() -> None:
    raw = '\ufeff{\r\n    "ProductName":  "Windows 10 Pro",\r\n    "UBR":  "3693"\r\n}\r\n'
    runner = FakeRunner({_by_name("os").command: RunResult(0, raw, "warn\r\n")})
    snapshot = collect_host_snapshot(runner, host="h", powershell="pwsh", clock=lambda: FIXED_TIME)
    assert snapshot["probes"]["os"]["stdout"] == raw
    assert snapshot["probes"]["os"]["stderr"] == "warn\r\n"


def test_no_probe_output_ever_reaches_an_argv() -> None:
    def leaky(command: str) -> RunResult:
        marker = f"LEAK{abs(hash(command))}"
        return RunResult(1, f"{marker} $(Remove-Item C:\\)", f"{marker}'; calc", False)

    runner = FakeRunner(default=leaky)
    snapshot = collect_host_snapshot(runner, host="h", powershell="pwsh", clock=lambda: FIXED_TIME)
    known = {probe.command for probe in HOST_PROBES} | set(NVIDIA_SMI_FALLBACKS)
    records = snapshot["probes"].values()
    outputs = [r["stdout"] for r in records] + [r["stderr"] for r in records]
    for argv, _ in runner.calls:
        script = _decode_argv(argv)
        assert _command_of(argv) in known
        for text in outputs:
            marker = text.split(" ", 1)[0].split("'", 1)[0]
            assert marker not in script
            assert all(marker not in arg for arg in argv)


def test_host_snapshot_label_defaults_to_computername(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPUTERNAME", "LAB-A2-07")
    snapshot = collect_host_snapshot(FakeRunner(), powershell="pwsh", clock=lambda: FIXED_TIME)
    assert snapshot["host"] == "LAB-A2-07"
    monkeypatch.delenv("COMPUTERNAME")
    monkeypatch.setattr("platform.node", lambda: "lab-node")
    snapshot = collect_host_snapshot(FakeRunner(), powershell="pwsh", clock=lambda: FIXED_TIME)
    assert snapshot["host"] == "lab-node"


def test_collector_label_falls_back_without_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr("importlib.metadata.version", missing)
    assert collector.collector_label() == "eflowgpu 0+unknown (python)"


def test_duplicate_probe_names_are_refused() -> None:
    probes = (HostProbe("os", "Get-Date"), HostProbe("os", "Get-Host"))
    with pytest.raises(ValueError, match="duplicate probe names: os"):
        collect_host_snapshot(FakeRunner(), host="h", probes=probes, powershell="pwsh")


def test_custom_probes_and_timeouts() -> None:
    runner = FakeRunner()
    probes = (HostProbe("a", "Get-Date", timeout_s=3.5), HostProbe("b", "Get-Host", timeout_s=7))
    snapshot = collect_host_snapshot(runner, host="h", probes=probes, powershell="powershell.exe")
    assert list(snapshot["probes"]) == ["a", "b"]
    assert [(argv[0], timeout) for argv, timeout in runner.calls] == [
        ("powershell.exe", 3.5),
        ("powershell.exe", 7),
    ]


class TestNvidiaSmiFallback:
    primary = "nvidia-smi -q -x"

    def _snapshot(self, responses: dict[str, RunResult | Exception]) -> tuple[dict[str, Any], FakeRunner]:
        runner = FakeRunner(responses)
        return collect_host_snapshot(runner, host="h", powershell="pwsh", clock=lambda: FIXED_TIME), runner

    def test_not_tried_when_nvidia_smi_works(self) -> None:
        snapshot, runner = self._snapshot({})
        assert snapshot["probes"]["nvidia_smi"]["command"] == self.primary
        assert not set(NVIDIA_SMI_FALLBACKS) & set(runner.commands)

    def test_records_the_fallback_that_worked(self) -> None:
        not_found = RunResult(1, "", "The term 'nvidia-smi' is not recognized [CommandNotFoundException]")
        xml = '<?xml version="1.0" ?>\r\n<nvidia_smi_log></nvidia_smi_log>\r\n'
        snapshot, runner = self._snapshot(
            {
                self.primary: not_found,
                NVIDIA_SMI_FALLBACKS[0]: RunResult(1, "", "not recognized"),
                NVIDIA_SMI_FALLBACKS[1]: RunResult(0, xml, ""),
            }
        )
        assert snapshot["probes"]["nvidia_smi"] == {
            "command": NVIDIA_SMI_FALLBACKS[1],
            "exit_code": 0,
            "stdout": xml,
            "stderr": "",
        }
        start = runner.commands.index(self.primary)
        assert runner.commands[start : start + 3] == [self.primary, *NVIDIA_SMI_FALLBACKS]

    def test_keeps_the_primary_failure_when_no_fallback_works(self) -> None:
        failure = RunResult(9, "", "NVIDIA-SMI has failed because it couldn't communicate with the driver")
        snapshot, _ = self._snapshot(
            {self.primary: failure, **{f: RunResult(1, "", "not recognized") for f in NVIDIA_SMI_FALLBACKS}}
        )
        assert snapshot["probes"]["nvidia_smi"] == {
            "command": self.primary,
            "exit_code": 9,
            "stdout": "",
            "stderr": failure.stderr,
        }

    def test_not_tried_after_a_timeout(self) -> None:
        timed_out = RunResult(EXIT_TIMED_OUT, "", "timed out after 120 s", timed_out=True)
        snapshot, runner = self._snapshot({self.primary: timed_out})
        assert snapshot["probes"]["nvidia_smi"]["exit_code"] == EXIT_TIMED_OUT
        assert not set(NVIDIA_SMI_FALLBACKS) & set(runner.commands)


# --- SubprocessRunner with real child processes ----------------------------------------------------


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_subprocess_runner_decodes_bytes_verbatim() -> None:
    code = (
        "import sys; sys.stdout.buffer.write(b'\\xef\\xbb\\xbf{\\r\\n}\\r\\n\\xff');"
        " sys.stderr.buffer.write(b'caf\\xc3\\xa9'); sys.exit(3)"
    )
    result = SubprocessRunner().run(_python(code), 30)
    assert result == RunResult(3, "\ufeff{\r\n}\r\n\ufffd", "caf\u00e9", False)


def test_subprocess_runner_gives_no_stdin() -> None:
    result = SubprocessRunner().run(_python("import sys; print(repr(sys.stdin.read()))"), 30)
    assert result.stdout.strip() == "''"


def test_subprocess_runner_times_out() -> None:
    started = time.monotonic()
    result = SubprocessRunner().run(_python("import time; time.sleep(60)"), 0.5)
    assert time.monotonic() - started < 20
    assert result == RunResult(EXIT_TIMED_OUT, "", "timed out after 0.5 s", True)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")
def test_subprocess_runner_kills_grandchildren(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    result = SubprocessRunner(kill_grace_s=5).run(_python(code), 2)
    assert result.timed_out
    assert time.monotonic() - started < 15, "a grandchild holding the pipes must not block the runner"
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("grandchild still running")


def test_subprocess_runner_reports_a_missing_executable(tmp_path: Path) -> None:
    result = SubprocessRunner().run([str(tmp_path / "no-such-pwsh"), "-NoProfile"], 5)
    assert result.exit_code == EXIT_NOT_STARTED
    assert "could not start" in result.stderr
    assert not result.timed_out


def test_find_powershell_prefers_windows_powershell() -> None:
    def which_from(found: dict[str, str]) -> Callable[[str], str | None]:
        return found.get

    both = {"pwsh": "/p/pwsh", "powershell.exe": "/w/ps.exe"}
    assert find_powershell(which=which_from(both)) == "/w/ps.exe"
    assert find_powershell(which=which_from({"pwsh": "/p/pwsh"})) == "/p/pwsh"
    assert find_powershell(which=which_from({"powershell.exe": "C:/ps.exe"})) == "C:/ps.exe"
    assert find_powershell(which=which_from({"powershell": "/w/powershell"})) == "/w/powershell"
    assert find_powershell(which=which_from({})) is None


# --- (5) the command line --------------------------------------------------------------------------


def test_cli_collect_host_writes_a_snapshot(tmp_path: Path) -> None:
    out_file = tmp_path / "LAB-T4-01.json"
    insider = _by_name("insider").command
    runner = FakeRunner({insider: RunResult(1, "", "not enrolled")})
    context, out, err = _context(runner)
    code = cli.main(["collect-host", "--out", str(out_file), "--host", "LAB-T4-01"], context=context)
    assert code == 0, err.getvalue()
    snapshot = json.loads(out_file.read_text(encoding="utf-8"))
    assert snapshot["format"] == HOST_SNAPSHOT_FORMAT
    assert snapshot["host"] == "LAB-T4-01"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", snapshot["captured_at"])
    assert snapshot["collector"].startswith("eflowgpu ")
    assert {name: record["command"] for name, record in snapshot["probes"].items()} == {
        probe.name: probe.command for probe in HOST_PROBES
    }
    assert snapshot["probes"]["insider"]["exit_code"] == 1
    assert all(timeout == commands.DEFAULT_PROBE_TIMEOUT_S for _, timeout in runner.calls)
    assert (
        f"wrote {out_file}: {len(HOST_PROBES)} probes, 1 with a non-zero exit code (insider)"
        in out.getvalue()
    )


def test_cli_timeout_applies_to_every_probe(tmp_path: Path) -> None:
    runner = FakeRunner()
    context, _, _ = _context(runner)
    argv = ["collect-host", "--out", str(tmp_path / "s.json"), "--timeout", "7.5"]
    assert cli.main(argv, context=context) == 0
    assert {timeout for _, timeout in runner.calls} == {7.5}


def test_cli_without_powershell_exits_2(tmp_path: Path) -> None:
    runner = FakeRunner()
    context, _, err = _context(runner, powershell=None)
    out_file = tmp_path / "s.json"
    assert cli.main(["collect-host", "--out", str(out_file)], context=context) == 2
    assert "PowerShell not found: run this on the Windows host, or use collect-host.ps1" in err.getvalue()
    assert not out_file.exists()
    assert runner.calls == []


def test_cli_missing_directory_exits_2(tmp_path: Path) -> None:
    runner = FakeRunner()
    context, _, err = _context(runner)
    assert cli.main(["collect-host", "--out", str(tmp_path / "no" / "s.json")], context=context) == 2
    assert "directory does not exist" in err.getvalue()
    assert runner.calls == []


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["collect-host"],
        ["collect-host", "--out", "x.json", "--timeout", "0"],
        ["collect-host", "--out", "x.json", "--timeout", "-3"],
        ["collect-host", "--out", "x.json", "--timeout", "nan"],
        ["collect-host", "--out", "x.json", "--timeout", "soon"],
        ["no-such-command"],
    ],
)
def test_cli_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    context, _, _ = _context(FakeRunner())
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv, context=context)
    assert exit_info.value.code == 2
    assert "usage: eflowgpu" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in PowerShell is a POSIX script")
def test_cli_end_to_end_with_a_stand_in_powershell(tmp_path: Path) -> None:
    """The real finder, runner and writer, with a ``pwsh`` that decodes its command and echoes it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "pwsh"
    stand_in.write_text(
        f"#!{sys.executable}\n"
        "import base64, sys\n"
        f"assert sys.argv[1:-1] == {list(POWERSHELL_FLAGS)!r}, sys.argv\n"
        "script = base64.b64decode(sys.argv[-1], validate=True).decode('utf-16-le')\n"
        f"command = script[{len(PRELUDE) + 1}:-{len(EPILOGUE) + 1}]\n"
        "sys.stdout.buffer.write(b'\\xef\\xbb\\xbf' + command.encode('utf-8') + b'\\r\\n')\n"
        "sys.stderr.write('stderr of ' + command[:10])\n"
        "sys.exit(1 if 'nvidia-smi' in command else 0)\n",
        encoding="utf-8",
    )
    stand_in.chmod(0o755)
    out_file = tmp_path / "snap.json"
    run = subprocess.run(
        [sys.executable, "-m", "eflowgpu", "collect-host", "--out", str(out_file), "--host", "LAB"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": str(bin_dir)},
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert f"{len(HOST_PROBES)} probes, 1 with a non-zero exit code (nvidia_smi)" in run.stdout
    snapshot = json.loads(out_file.read_text(encoding="utf-8"))
    assert snapshot["host"] == "LAB"
    for probe in HOST_PROBES:
        record = snapshot["probes"][probe.name]
        assert record["command"] == probe.command
        assert record["stdout"] == "\ufeff" + probe.command + "\r\n"
        assert record["stderr"] == "stderr of " + probe.command[:10]
    assert snapshot["probes"]["nvidia_smi"]["exit_code"] == 1


def test_python_dash_m_without_powershell(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}
    env.pop("COMPUTERNAME", None)
    help_run = subprocess.run(
        [sys.executable, "-m", "eflowgpu", "--help"], capture_output=True, text=True, env=env, check=False
    )
    assert help_run.returncode == 0
    assert "collect-host" in help_run.stdout
    out_file = tmp_path / "s.json"
    run = subprocess.run(
        [sys.executable, "-m", "eflowgpu", "collect-host", "--out", str(out_file)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 2
    assert "PowerShell not found: run this on the Windows host, or use collect-host.ps1" in run.stderr
    assert not out_file.exists()


# --- (6) write_snapshot ----------------------------------------------------------------------------


def test_write_snapshot_writes_utf8_json(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    snapshot = {
        "format": HOST_SNAPSHOT_FORMAT,
        "probes": {"os": {"stdout": '\ufeff{"Caption": "Ünïcode"}\r\n'}},
    }
    write_snapshot(snapshot, path)
    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf{")
    assert data.endswith(b"}\n")
    assert json.loads(data.decode("utf-8")) == snapshot
    assert data.decode("utf-8") == json.dumps(snapshot, indent=2, ensure_ascii=False) + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap.json"]


def test_write_snapshot_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    path.write_text("old", encoding="utf-8")
    write_snapshot({"host": "new"}, path)
    assert json.loads(path.read_text(encoding="utf-8")) == {"host": "new"}


def test_write_snapshot_leaves_nothing_when_serialisation_fails(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    with pytest.raises(TypeError):
        write_snapshot({"probes": {"os": object()}}, path)
    assert list(tmp_path.iterdir()) == []
    path.write_text("previous", encoding="utf-8")
    with pytest.raises(TypeError):
        write_snapshot({"probes": {"os": object()}}, path)
    assert path.read_text(encoding="utf-8") == "previous"
    assert list(tmp_path.iterdir()) == [path]


def test_write_snapshot_leaves_nothing_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "snap.json"
    path.write_text("previous", encoding="utf-8")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_snapshot({"host": "h"}, path)
    assert path.read_text(encoding="utf-8") == "previous"
    assert list(tmp_path.iterdir()) == [path]
