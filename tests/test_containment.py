"""Nothing lost, nothing injected (issue 8): the library's side of the promise, unit by unit.

The pack-level behaviour (a lab with every kind of bad input, SIGTERM, report folders, a full disk,
the fleet command) is in ``test_faults.py``; the fuzz campaign is ``test_fuzz_containment.py``.
"""

from __future__ import annotations

import copy
import errno
import json
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eflowgpu.contain import MAX_GPUS, contained
from eflowgpu.errors import MatrixError
from eflowgpu.evaluate import evaluate_host_data, evaluate_host_file
from eflowgpu.fleet.load import load_report, parse_timestamp
from eflowgpu.fuzz import with_nvml_probe
from eflowgpu.matrix import Matrix, load_matrix
from eflowgpu.report.write import dumps_strict, write_json_atomic, write_text_atomic
from eflowgpu.rules.context import powershell_quote, why_unquotable
from eflowgpu.rules.judge import deploy_hint
from eflowgpu.snapshot import snapshot_files
from eflowgpu.textsafe import neutral, readable, strict_json
from eflowgpu.vm.evaluate import attach_vms, read_vm_data
from eflowgpu.vm.serialize import gpus_from_nvml_probe

from helpers import PROJECT, probe, ps

VM_T4 = PROJECT / "fixtures" / "vms" / "vm-t4-srv2022-dda.json"


def _strict(raw: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(name)

    return json.loads(raw, parse_constant=refuse)


# --- text: readable and neutral --------------------------------------------------------------------


def test_readable_keeps_lone_surrogates_as_escape_text() -> None:
    name = os.fsdecode(b"LAB-caf\xe9")  # a Latin-1 file name, as Python decodes it
    assert readable(name) == "LAB-caf\\xe9"
    assert readable("a\ud800b") == "a\\ud800b"
    assert readable("café ✓") == "café ✓"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("::error file=a::x", "\\x3a:error file=a::x"),
        ("  ::add-mask::secret", "  \\x3a:add-mask::secret"),
        ("host ##vso[task.setvariable variable=x]1", "host \\x23#vso[task.setvariable variable=x]1"),
        ("##[error]boom", "\\x23#[error]boom"),
        ("\x1b[31mred\x07", "\\x1b[31mred\\x07"),
        ("a\r\nb\u2028c\u202e", "a\\x0d\\x0ab\\u2028c\\u202e"),
        ("NVIDIA T4 a::b", "NVIDIA T4 a::b"),
    ],
)
def test_neutral_breaks_ci_commands_and_control_characters(text: str, shown: str) -> None:
    assert neutral(text) == shown


def test_strict_json_has_no_nan_or_infinity_and_encodes() -> None:
    document = {"v": [float("nan"), float("inf"), -float("inf"), 1.5], "\udc80": "x\udce9"}
    text = dumps_strict(document)
    assert _strict(text) == {"v": [None, None, None, 1.5], "\\x80": "x\\xe9"}
    text.encode("utf-8")
    assert strict_json(("a", 1)) == ["a", 1]


# --- report files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_report_files_are_created_by_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        write_json_atomic(tmp_path / "r.json", {"a": 1})
        write_text_atomic(tmp_path / "r.html", "<p>\udc80</p>")
    finally:
        os.umask(old)
    for name in ("r.json", "r.html"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == "<p>\\x80</p>"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# --- lab folders: special files -------------------------------------------------------------------


def _special_lab(folder: Path) -> dict[str, str]:
    """A folder with a FIFO, a dangling link, a link to a device and a folder named *.json."""
    folder.mkdir()
    os.mkfifo(folder / "fifo.json")
    (folder / "dangling.json").symlink_to(folder / "gone.json")
    (folder / "device.json").symlink_to("/dev/zero")
    (folder / "folder.json").mkdir()
    return {
        "fifo": "not a regular file but a FIFO (named pipe)",
        "dangling": "a dangling symbolic link: its target does not exist",
        "device": "not a regular file but a character device",
    }


def test_special_files_in_a_folder_are_error_systems_without_hanging(tmp_path: Path, matrix: Matrix) -> None:
    expected = _special_lab(tmp_path / "lab")
    files = snapshot_files([tmp_path / "lab"])
    assert sorted(p.name for p in files) == ["dangling.json", "device.json", "fifo.json"]
    results: list[Any] = []
    worker = threading.Thread(
        target=lambda: results.extend(evaluate_host_file(matrix, matrix.profile(None), p) for p in files),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "reading a special file hung"
    assert {r.host: r.error for r in results} == expected
    assert all(r.status == "error" for r in results)


def test_a_fifo_given_by_name_is_an_error_system(tmp_path: Path, matrix: Matrix) -> None:
    os.mkfifo(tmp_path / "pipe.json")
    start = time.monotonic()
    result = evaluate_host_file(matrix, matrix.profile(None), tmp_path / "pipe.json")
    assert time.monotonic() - start < 5
    assert (result.status, result.error) == ("error", "not a regular file but a FIFO (named pipe)")


def test_an_unreadable_file_is_an_error_system(
    tmp_path: Path, matrix: Matrix, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secret.json"
    path.write_text("{}", encoding="utf-8")
    path.chmod(0)
    if os.geteuid() == 0:  # root reads files whatever their mode: the kernel's answer to others, then
        real_open = os.open

        def refuse(file: object, flags: int, *args: object) -> int:
            if Path(str(file)) == path:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
            return real_open(file, flags, *args)  # type: ignore[arg-type]

        monkeypatch.setattr("eflowgpu.snapshot.os.open", refuse)
    result = evaluate_host_file(matrix, matrix.profile(None), path)
    assert result.error == "cannot read the file: Permission denied"


# --- one containment boundary ----------------------------------------------------------------------


def test_contained_tells_bad_input_from_an_internal_error() -> None:
    def broken() -> str:
        raise KeyError("row")

    said = contained("judging X", broken, lambda reason: reason)
    assert (
        said
        == "internal error in the pack while judging X (KeyError: 'row'); please report it with the snapshot"
    )
    with pytest.raises(KeyboardInterrupt):
        contained("x", lambda: (_ for _ in ()).throw(KeyboardInterrupt()), lambda r: r)


def test_a_400_digit_disk_size_is_bad_input_not_an_internal_error(
    matrix: Matrix, make_snapshot: Callable[..., dict[str, Any]]
) -> None:
    disk = probe(ps({"DeviceID": "C:", "FreeSpace": 10**400, "Size": 1}).replace("E+400", "0"))
    disk["stdout"] = '{"DeviceID": "C:", "FreeSpace": ' + "9" * 400 + ', "Size": 1}'
    result = evaluate_host_data(matrix, matrix.profile(None), make_snapshot(disk=disk), "mem")
    assert result.status == "ok"
    crit = next(c for c in result.gpus[0].criteria if c.id == "host.disk")
    assert crit.status.value == "unknown"
    assert "a number out of range (400 digits)" in crit.detail
    assert "internal error" not in crit.detail


def test_a_host_over_the_gpu_limit_is_an_error_not_thousands_of_tests(
    matrix: Matrix, make_snapshot: Callable[..., dict[str, Any]]
) -> None:
    controllers = [
        {"Name": "NVIDIA T4", "PNPDeviceID": f"PCI\\VEN_10DE&DEV_1EB8&SUBSYS_12A210DE&REV_A1\\4&{i}"}
        for i in range(MAX_GPUS + 1)
    ]
    snapshot = make_snapshot(video_controllers=probe(ps(controllers)))
    result = evaluate_host_data(matrix, matrix.profile(None), snapshot, "mem")
    assert result.status == "error"
    assert result.error == f"{MAX_GPUS + 2} GPUs, over the pack's limit of 64 per system"  # + the RTX 3060


def _vm(**changes: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = with_nvml_probe(json.loads(VM_T4.read_text(encoding="utf-8")))
    for change in changes.values():
        change(data)
    return data


def _smi(data: dict[str, Any], old: str, new: str) -> None:
    stdout = data["probes"]["nvidia_smi"]["stdout"]
    assert old in stdout
    data["probes"]["nvidia_smi"]["stdout"] = stdout.replace(old, new)
    del data["probes"]["nvml"]


def _nvml(data: dict[str, Any], key: str, value: Any) -> None:
    record = json.loads(data["probes"]["nvml"]["stdout"])
    record["gpus"][0][key] = value
    data["probes"]["nvml"]["stdout"] = json.dumps(record)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: _smi(d, "<cuda_version>12.2</cuda_version>", "<cuda_version>1\u00b2.2</cuda_version>"),
        lambda d: _nvml(d, "memory_total_mib", "15360"),
        lambda d: _nvml(d, "power_draw_w", float("inf")),
        lambda d: _nvml(d, "power_draw_w", 10**400),  # seed 8 vm#3944: no float holds it
        lambda d: _nvml(d, "pcie", {"gen_max": "3"}),
        lambda d: _smi(d, "</nvidia_smi_log>", "<gpu/>" * 5000 + "</nvidia_smi_log>"),
    ],
    ids=[
        "cuda-superscript",
        "nvml-string-memory",
        "nvml-infinity",
        "nvml-huge-float-field",
        "nvml-nested-type",
        "xml-5000-gpus",
    ],
)
def test_vm_snapshots_from_the_issue_are_judged_or_contained(matrix: Matrix, change: Any) -> None:
    data = _vm(change=change)
    record = read_vm_data(matrix, data, "vm.json")
    systems = attach_vms(matrix, [], [record])
    assert len(systems) == 1
    system = systems[0]
    error = system.error or getattr(system.vm, "error", None)
    assert error is None or not error.startswith("internal error"), error
    from eflowgpu.report.model import build_report

    _strict(dumps_strict(build_report(matrix, matrix.profile(None), systems)))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("15360", "gpus[0].memory_total_mib must be an integer, not a string"),
        (True, "gpus[0].memory_total_mib must be an integer, not a boolean"),
        (-5, "gpus[0].memory_total_mib is -5, out of range"),
        (10**60, "gpus[0].memory_total_mib is 10000000000000000000…, out of range"),
    ],
)
def test_nvml_probe_values_are_checked_by_type_and_range(value: Any, message: str) -> None:
    record = {
        "driver_version": "535",
        "cuda_version": "12.2",
        "gpus": [{"index": 0, "memory_total_mib": value}],
    }
    with pytest.raises(ValueError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        gpus_from_nvml_probe(json.dumps(record))


def test_nvml_probe_reads_back_what_it_wrote() -> None:
    record = {
        "gpus": [
            {
                "index": 0,
                "name": "Tesla T4",
                "memory_total_mib": 15360,
                "power_draw_w": 30,
                "pcie": {"gen_max": 3},
                "not_supported": ["ecc"],
                "clocks_event_reasons": ["gpu_idle"],
            }
        ]
    }
    driver, cuda, gpus = gpus_from_nvml_probe(json.dumps(record))
    assert (driver, cuda) == (None, None)
    assert gpus[0].memory_total_mib == 15360 and gpus[0].power_draw_w == 30.0 and gpus[0].pcie.gen_max == 3
    assert gpus[0].not_supported == frozenset({"ecc"}) and gpus[0].clocks_event_reasons == ("gpu_idle",)


def test_pairing_gpus_with_pci_functions_is_linear(matrix: Matrix) -> None:
    data = json.loads(VM_T4.read_text(encoding="utf-8"))
    lines = [f"{i:04x}:00:00.0 0x8086 0x1234 0x8086 0x0000 0x060000" for i in range(4000)]
    data["probes"]["pci_devices"]["stdout"] += "\n".join(lines) + "\n"
    start = time.perf_counter()
    record = read_vm_data(matrix, data, "vm.json")
    assert time.perf_counter() - start < 5
    assert record.seen is not None and len(record.seen.gpus) == 1


def test_a_vm_over_the_gpu_limit_is_an_error(matrix: Matrix) -> None:
    data = json.loads(VM_T4.read_text(encoding="utf-8"))
    lines = [f"{i:04x}:00:00.0 0x10de 0x1eb8 0x10de 0x12a2 0x030200" for i in range(MAX_GPUS + 1)]
    data["probes"]["pci_devices"]["stdout"] = "\n".join(lines) + "\n"
    record = read_vm_data(matrix, data, "vm.json")
    assert record.error == "65 NVIDIA GPU functions, over the pack's limit of 64 per system"


# --- PowerShell quoting ----------------------------------------------------------------------------

SINGLE = "'\u2018\u2019\u201a\u201b"


def _read_powershell_argument(text: str) -> tuple[str, str]:
    """What PowerShell reads as the string argument at the start of ``text``, and what is left.

    A model of PowerShell's tokenizer for the two forms the pack prints: a single-quoted string
    (any of ``'`` U+2018-U+201B opens and closes it; two in a row are one literal quote) and a
    double-quoted string of plain characters.
    """
    if text[0] in SINGLE:
        out, i = [], 1
        while i < len(text):
            ch = text[i]
            if ch in SINGLE:
                if i + 1 < len(text) and text[i + 1] in SINGLE:
                    out.append(text[i + 1])
                    i += 2
                    continue
                return "".join(out), text[i + 1 :]
            out.append(ch)
            i += 1
        raise AssertionError("unterminated string")
    assert text[0] == '"'
    end = text.index('"', 1)
    inner = text[1:end]
    assert not set(inner) & set('`$"\u201c\u201d\u201e')
    return inner, text[end + 1 :]


@pytest.mark.parametrize(
    "name",
    [
        "NVIDIA Tesla T4",
        "NVIDIA Tesla T4\u2019; Start-Process calc; #",
        "NVIDIA Tesla T4'; Start-Process calc; #",
        "A\u2018B\u201aC\u201bD''E",
        'x"; Start-Process calc; "',
        "x\u201c; Start-Process calc; \u201d",
        "$(Start-Process calc)",
        "`$env:PATH",
        "GeForce RTX\u2122 3060 caf\u00e9",
    ],
)
def test_deploy_hint_quotes_any_name_by_powershells_rules(name: str) -> None:
    hint = deploy_hint("DDA", name)
    assert hint is not None
    prefix = "Deploy-Eflow -gpuPassthroughType DirectDeviceAssignment -gpuName "
    assert hint.startswith(prefix)
    value, rest = _read_powershell_argument(hint[len(prefix) :])
    assert value == name
    assert rest == " -gpuCount 1"


@pytest.mark.parametrize("name", ["a\nStart-Process calc", "x\x1b[2J", "", "x" * 300, "a\u2028b"])
def test_a_name_that_cannot_be_quoted_gets_no_hint_and_a_reason(name: str) -> None:
    assert powershell_quote(name) is None
    assert deploy_hint("GPU-PV", name) is None
    assert why_unquotable(name)


# --- matrix errors ------------------------------------------------------------------------------------


def _matrix_error(tmp_path: Path, raw: bytes) -> MatrixError:
    path = tmp_path / "matrix.yaml"
    path.write_bytes(raw)
    with pytest.raises(MatrixError) as caught:
        load_matrix(path)
    return caught.value


def test_matrix_sequence_as_key_names_the_line(tmp_path: Path) -> None:
    error = _matrix_error(tmp_path, b"format: x\n? [a, b]\n: 1\n")
    assert (error.line, error.reason) == (2, "keys must be strings, not a sequence")


def test_matrix_nested_too_deeply_is_a_matrix_error(tmp_path: Path) -> None:
    error = _matrix_error(tmp_path, b"format: x\nprofiles: " + b"[" * 3000 + b"]" * 3000 + b"\n")
    assert (error.line, error.reason) == (2, "nested too deeply to be a support matrix")


def test_matrix_not_utf8_names_the_line(tmp_path: Path) -> None:
    error = _matrix_error(tmp_path, b"format: x\n# ok\nname: caf\xe9\n")
    assert (error.line, error.reason) == (3, "not UTF-8 text (byte 0xe9)")


def test_matrix_cuda_version_with_a_superscript_names_the_field(tmp_path: Path) -> None:
    text = (PROJECT / "matrix.yaml").read_text(encoding="utf-8")
    assert "required_cuda: '13.0'" in text
    error = _matrix_error(
        tmp_path, text.replace("required_cuda: '13.0'", "required_cuda: '1\u00b3.0'").encode()
    )
    assert error.field == "vm.required_cuda"
    assert error.line == text[: text.index("required_cuda:")].count("\n") + 1


def test_matrix_huge_number_names_the_field(tmp_path: Path) -> None:
    text = (PROJECT / "matrix.yaml").read_text(encoding="utf-8")
    before = next(line for line in text.splitlines() if line.strip().startswith("min_free_disk_gb:"))
    error = _matrix_error(tmp_path, text.replace(before, before.split(":")[0] + ": " + "9" * 400).encode())
    assert error.field == "host.min_free_disk_gb" and "out of range" in error.reason


# --- fleet loader ------------------------------------------------------------------------------------


def test_fleet_timestamp_before_year_one_in_utc_is_not_a_timestamp() -> None:
    assert parse_timestamp("0001-01-01T00:00:00+01:00") is None
    assert parse_timestamp("9999-12-31T23:00:00-05:00") is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            '{"format": "eflow-gpu-report/1", "generated_at": "0001-01-01T00:00:00+01:00", "systems": []}',
            "no valid generated_at timestamp",
        ),
        ('{"format": "eflow-gpu-report/1", "x": ' + "9" * 5000 + "}", "not readable JSON (Exceeds the limit"),
    ],
)
def test_fleet_loader_turns_bad_reports_into_input_errors(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "compat-report.json"
    path.write_text(text, encoding="utf-8")
    loaded, problems = load_report(path)
    assert loaded is None
    assert len(problems) == 1 and problems[0].error.startswith(error)


def test_fleet_loader_reports_an_internal_error_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import eflowgpu.fleet.load as fleet_load

    path = tmp_path / "compat-report.json"
    path.write_text("{}", encoding="utf-8")

    def broken(path: Path, max_bytes: int) -> Any:
        raise AttributeError("boom")

    monkeypatch.setattr(fleet_load, "read_json_limited", broken)
    loaded, problems = load_report(path)
    assert loaded is None
    assert problems[0].error.startswith(
        "internal error in the pack while reading this report (AttributeError"
    )
    assert problems[0].error.endswith("please report it with the report file")


def test_copy_is_deep_for_seeds() -> None:  # the fuzz seeds are never modified by the mutator
    data = _vm()
    before = copy.deepcopy(data)
    from random import Random

    from eflowgpu.fuzz import mutate_snapshot

    for n in range(50):
        mutate_snapshot(Random(n), data)
    assert data == before


# --- a benchmark whose test process died -----------------------------------------------------------


def test_a_benchmark_whose_worker_crashed_is_an_explicit_crashed_entry(matrix: Matrix) -> None:
    from eflowgpu.pytest_plugin.benchcases import GpuContext
    from eflowgpu.pytest_plugin.crashed import crashed_benchmark_entry

    nodeid = "suites/vm/test_benchmarks.py::test_benchmark[cpu_gemm_fp32]"
    message = f"worker 'gw0' crashed while running {nodeid!r}"
    location = ("suites/vm/test_benchmarks.py", None, "suites/vm/test_benchmarks.py")
    crashed = pytest.TestReport(nodeid, location, {}, "failed", message, "???")  # as pytest-xdist builds it
    asked: list[str] = []

    def gpu() -> list[GpuContext]:
        asked.append("gpu")
        return [GpuContext(None, "none")]

    entry = crashed_benchmark_entry(crashed, matrix, gpu, "quick")
    assert entry is not None
    assert (entry["id"], entry["status"], entry["value"]) == ("cpu_gemm_fp32", "fail", None)
    assert entry["detail"] == f"crashed: {message}, no figure"
    passed = pytest.TestReport(nodeid, location, {}, "passed", None, "call")
    host = pytest.TestReport("suites/host/t.py::test_host_criterion[x]", location, {}, "failed", "x", "call")
    assert crashed_benchmark_entry(passed, matrix, gpu, "quick") is None
    assert crashed_benchmark_entry(host, matrix, gpu, "quick") is None
    assert asked == ["gpu"]  # the run's systems are looked through only for a crashed benchmark


def test_a_dangling_link_given_by_name_is_an_error_system_not_a_usage_error(
    tmp_path: Path, matrix: Matrix
) -> None:
    from eflowgpu.pytest_plugin.sources import given_files

    link = tmp_path / "gone.json"
    link.symlink_to(tmp_path / "nowhere.json")
    (given,) = given_files("--host-snapshot", [str(link)])
    result = evaluate_host_file(matrix, matrix.profile(None), given)
    assert result.status == "error" and result.error
    with pytest.raises(pytest.UsageError, match="no such file or folder"):
        given_files("--host-snapshot", [str(tmp_path / "absent.json")])
