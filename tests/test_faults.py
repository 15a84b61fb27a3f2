"""Nothing lost, nothing injected (issue 8), where the user meets it: the pack run in a subprocess.

- A lab of the sample hosts and VMs plus every kind of bad input from the issue gives a complete
  report, every good system judged exactly as without the bad ones, serially and with ``-n 2``; the
  terminal shows no control character or CI command from a snapshot.
- SIGTERM during a run, a report folder that cannot be written, a disk that fills after the JSON.
- ``eflowgpu fleet`` over good and bad reports writes its report and lists the bad ones.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_plugin import PYTEST_INI, clean_env, run_pack

from eflowgpu.fuzz import with_nvml_probe

from helpers import PROJECT

HOSTS = PROJECT / "fixtures" / "hosts"
VMS = PROJECT / "fixtures" / "vms"
VM_T4 = VMS / "vm-t4-srv2022-dda.json"
HOST_T4 = HOSTS / "lab-t4-srv2022.json"
HOSTILE_NAME = "NVIDIA Tesla T4\u2019; Start-Process calc; #"


def _strict(raw: bytes) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(raw.decode("utf-8"), parse_constant=refuse)


def _project(root: Path) -> Path:
    """A pack project: matrix, host and VM suites, pytest.ini, the good sample hosts and VMs."""
    skipped = shutil.ignore_patterns("__pycache__", "test_benchmarks.py")  # nothing is measured here
    shutil.copytree(PROJECT / "suites", root / "suites", ignore=skipped)
    shutil.copyfile(PROJECT / "matrix.yaml", root / "matrix.yaml")
    (root / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    for source, target in ((HOSTS, root / "lab"), (VMS, root / "vms")):
        target.mkdir()
        for path in sorted(source.glob("*.json")):
            shutil.copyfile(path, target / path.name)
    return root


def _json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8", errors="surrogatepass")


def _add_bad_inputs(root: Path) -> set[str]:
    """Every kind of bad input of the issue, beside the good lab; returns the bad systems' labels."""
    lab, vms = root / "lab", root / "vms"
    host = json.loads(HOST_T4.read_text(encoding="utf-8"))
    os.mkfifo(lab / "fifo.json")
    (lab / "dangling.json").symlink_to(lab / "gone.json")
    (lab / "device.json").symlink_to("/dev/zero")
    (lab / os.fsdecode(b"LAB-caf\xe9.json")).write_bytes(b"\xff not json")
    surrogate = json.loads(json.dumps(host))
    surrogate["host"] = "BAD-\udc80-SURROGATE"
    (lab / "bad-surrogate.json").write_text(json.dumps(surrogate), encoding="ascii")  # the \udc80 escape
    disk = json.loads(json.dumps(host))
    disk["host"] = "BAD-DISK-400-DIGITS"
    disk["probes"]["disk"]["stdout"] = '{"DeviceID": "C:", "FreeSpace": ' + "9" * 400 + ', "Size": 1}'
    _json(lab / "bad-disk.json", disk)
    many = json.loads(json.dumps(host))
    many["host"] = "BAD-2000-GPUS"
    controller = json.loads(host["probes"]["video_controllers"]["stdout"])
    controller = controller[0] if isinstance(controller, list) else controller
    many["probes"]["video_controllers"]["stdout"] = json.dumps(
        [
            dict(controller, PNPDeviceID=f"PCI\\VEN_10DE&DEV_1EB8&SUBSYS_12A210DE&REV_A1\\4&{i}")
            for i in range(2000)
        ]
    )
    _json(lab / "bad-many-gpus.json", many)
    hostile = json.loads(json.dumps(host))
    hostile["host"] = "::error file=x::BAD-INJECTED\x1b[31m\x07"
    hostile["probes"]["video_controllers"]["stdout"] = hostile["probes"]["video_controllers"][
        "stdout"
    ].replace('"NVIDIA Tesla T4"', json.dumps(HOSTILE_NAME))
    _json(lab / "bad-hostile-text.json", hostile)

    vm = with_nvml_probe(json.loads(VM_T4.read_text(encoding="utf-8")))
    for label, change in (
        (
            "BAD-VM-CUDA",
            lambda d: _smi(d, "<cuda_version>12.2</cuda_version>", "<cuda_version>1\u00b2.2</cuda_version>"),
        ),
        ("BAD-VM-NVML-STRING", lambda d: _nvml(d, "memory_total_mib", "15360")),
        ("BAD-VM-NVML-INFINITY", lambda d: _nvml(d, "power_draw_w", float("inf"))),
        ("BAD-VM-GPUS", lambda d: _smi(d, "</nvidia_smi_log>", "<gpu/>" * 100_000 + "</nvidia_smi_log>")),
    ):
        data = json.loads(json.dumps(vm))
        data["host"], data["vm"] = label, f"{label}-EFLOW"
        change(data)
        (vms / f"{label.lower()}.json").write_text(json.dumps(data), encoding="utf-8")  # Infinity: not strict
    os.mkfifo(vms / "vm-fifo.json")
    return {"fifo", "dangling", "device"}


def _smi(data: dict[str, Any], old: str, new: str) -> None:
    data["probes"]["nvidia_smi"]["stdout"] = data["probes"]["nvidia_smi"]["stdout"].replace(old, new)
    del data["probes"]["nvml"]


def _nvml(data: dict[str, Any], key: str, value: Any) -> None:
    record = json.loads(data["probes"]["nvml"]["stdout"])
    record["gpus"][0][key] = value
    data["probes"]["nvml"]["stdout"] = json.dumps(record)


ARGS = ("--host-snapshot", "lab", "--vm-snapshot", "vms", "--matrix", "matrix.yaml", "suites")


def _by_source(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {system["source"]: system for system in report["systems"]}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The report of the good lab alone."""
    root = _project(tmp_path_factory.mktemp("good"))
    run = run_pack(root, "out", *ARGS)
    assert run.returncode in (0, 1), run.stdout + run.stderr
    return _strict((root / "out" / "compat-report.json").read_bytes())


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_bad_inputs_cost_only_themselves(
    tmp_path: Path, good_run: dict[str, Any], workers: tuple[str, ...]
) -> None:
    root = _project(tmp_path)
    special = _add_bad_inputs(root)
    start = time.monotonic()
    run = run_pack(root, "out", *ARGS, *workers, timeout=240)
    assert time.monotonic() - start < 200
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert "INTERNALERROR" not in run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    for name in ("compat-report.json", "report.html", "report.md", "junit.xml"):
        assert (root / "out" / name).is_file(), name
    report = _strict((root / "out" / "compat-report.json").read_bytes())
    systems = _by_source(report)

    # every good system is judged exactly as without the bad ones
    good = _by_source(good_run)
    for source, system in good.items():
        assert systems[source] == system, source

    # every bad input is one system, and one line
    bad = {s: v for s, v in systems.items() if s not in good}
    errors = {v["host"]: v["error"] for v in bad.values() if v["status"] == "error"}
    assert special <= set(errors)
    assert "vm-fifo" in errors
    assert errors["LAB-caf\\xe9"].startswith("not UTF-8 text")
    assert errors["BAD-2000-GPUS"] == "2000 video controllers, over the pack's limit of 1024 per system"
    assert all("\n" not in e and not e.startswith("internal error") for e in errors.values())
    labels = {v["host"] for v in bad.values()}
    assert "BAD-\\x80-SURROGATE" in labels
    disk = next(v for v in bad.values() if v["host"] == "BAD-DISK-400-DIGITS")
    crit = next(c for c in disk["gpus"][0]["criteria"] if c["id"] == "host.disk")
    assert crit["status"] == "unknown" and "out of range (400 digits)" in crit["detail"]
    for label in ("BAD-VM-CUDA", "BAD-VM-NVML-STRING", "BAD-VM-NVML-INFINITY", "BAD-VM-GPUS"):
        vm = next(v for v in bad.values() if v["host"] == label)["vm"]
        assert vm is not None and vm["error"] is None and vm["criteria"], label
    infinity = next(v for v in bad.values() if v["host"] == "BAD-VM-NVML-INFINITY")["vm"]
    assert infinity["gpu_source"] == "nvidia-smi"  # the unreadable nvml probe was not trusted

    # the hostile GPU name: quoted by PowerShell's rules, the label kept verbatim in the JSON
    hostile = next(v for v in bad.values() if v["host"].startswith("::error"))
    hints = [g["deploy_hint"] for g in hostile["gpus"] if g["deploy_hint"]]
    assert hints == [
        "Deploy-Eflow -gpuPassthroughType DirectDeviceAssignment "
        "-gpuName 'NVIDIA Tesla T4\u2019\u2019; Start-Process calc; #' -gpuCount 1"
    ]

    # nothing from a snapshot reaches the terminal as a control character or a CI command
    output = run.stdout + run.stderr
    assert "\x1b" not in output and "\x07" not in output
    assert not [line for line in output.splitlines() if line.lstrip().startswith("::")]
    assert "\\x3a:error file=x::BAD-INJECTED\\x1b[31m\\x07" in output


def _project_with_sleeper(root: Path) -> Path:
    _project(root)
    (root / "suites" / "host" / "test_zz_slow.py").write_text(
        "import pathlib, time\n\n"
        "def test_slow():\n"
        "    pathlib.Path('started').write_text('x')\n"
        "    time.sleep(60)\n",
        encoding="utf-8",
    )
    return root


def test_sigterm_during_a_run_writes_the_reports(tmp_path: Path, good_run: dict[str, Any]) -> None:
    root = _project_with_sleeper(tmp_path)
    command = [sys.executable, "-m", "pytest", "--report-dir", "out", *ARGS]
    process = subprocess.Popen(
        command, cwd=root, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not (root / "started").exists():
            assert process.poll() is None and time.monotonic() < deadline, "the run did not start"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == pytest.ExitCode.INTERRUPTED, stdout + stderr
    assert "interrupted by SIGTERM" in stdout
    report = _strict((root / "out" / "compat-report.json").read_bytes())
    assert report["systems"] == good_run["systems"]
    assert (root / "out" / "report.html").is_file() and (root / "out" / "report.md").is_file()


def _unwritable_folder(tmp_path: Path) -> Path:
    """A report folder no one can write: read-only by its mode, or, as root, under /sys."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root ignores the mode; sysfs refuses even root
        return Path("/sys/eflowgpu-reports")
    return folder


def test_a_read_only_report_folder_is_a_one_line_usage_error(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    folder = _unwritable_folder(tmp_path)
    run = run_pack(root, str(folder), *ARGS)
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, run.stderr
    assert errors[0].startswith(f"ERROR: --report-dir {folder}: cannot ")
    assert "Traceback" not in run.stdout + run.stderr
    assert "collected" not in run.stdout  # before any work


def test_a_report_folder_under_a_file_is_a_one_line_usage_error(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "afile").write_text("x", encoding="utf-8")
    run = run_pack(root, "afile/reports", *ARGS)
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert (
        run.stderr.strip() == "ERROR: --report-dir afile/reports: cannot create the folder: Not a directory"
    )


def test_a_disk_that_fills_after_the_json_names_the_files_not_written(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "conftest.py").write_text(
        "import errno, os\n"
        "import eflowgpu.report.files as files\n\n"
        "def _full(path, text):\n"
        "    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))\n\n"
        "files.write_text_atomic = _full\n",
        encoding="utf-8",
    )
    run = run_pack(root, "out", *ARGS)
    assert run.returncode == 1
    _strict((root / "out" / "compat-report.json").read_bytes())
    assert "eflowgpu: could not write out/report.html: No space left on device" in run.stderr
    assert "eflowgpu: could not write out/report.md: No space left on device" in run.stderr
    assert f"report: {root / 'out' / 'compat-report.json'}" in run.stdout  # the absolute path
    assert "report.html" not in run.stdout.split("EFLOW GPU compatibility")[-1]


def test_fleet_over_good_and_bad_reports_lists_the_bad_ones(tmp_path: Path, good_run: dict[str, Any]) -> None:
    reports = tmp_path / "reports"
    for name, text in (
        ("good", json.dumps(good_run)),
        ("year-one", json.dumps(dict(good_run, generated_at="0001-01-01T00:00:00+01:00"))),
        ("huge-int", json.dumps(good_run)[:-1] + ', "x": ' + "9" * 5000 + "}"),
        ("surrogate", json.dumps(dict(good_run, systems=[dict(good_run["systems"][0], host="\udc80")]))),
        ("not-json", "{"),
    ):
        (reports / name).mkdir(parents=True)
        (reports / name / "compat-report.json").write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "eflowgpu", "fleet", str(reports), "--out", str(tmp_path / "fleet")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr
    fleet = _strict((tmp_path / "fleet" / "fleet.json").read_bytes())
    assert (tmp_path / "fleet" / "fleet.html").is_file()
    said = done.stderr
    for name in ("year-one", "huge-int", "not-json"):
        assert f"{reports / name / 'compat-report.json'}: " in said, name
    listed = json.dumps(fleet)
    assert "year-one" in listed and "huge-int" in listed and "not-json" in listed
    assert "\\\\x80" in listed  # the surrogate label is kept, readably


def test_a_benchmark_worker_killed_becomes_a_crashed_entry(tmp_path: Path) -> None:
    (tmp_path / "eflowgpu_killer.py").write_text(
        "import os, signal\n\n"
        "def pytest_runtest_call(item):\n"
        "    if os.environ.get('PYTEST_XDIST_WORKER') and 'test_benchmark[' in item.nodeid:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n",
        encoding="utf-8",
    )
    env = clean_env() | {"PYTHONPATH": str(tmp_path)}
    out = tmp_path / "out"
    options = ["-p", "eflowgpu_killer", "-n", "1", "-p", "no:cacheprovider", "-k", "cpu_gemm_fp32"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites/vm/test_benchmarks.py",
            *options,
            "--report-dir",
            str(out),
            "-q",
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "node down" in done.stdout, done.stdout + done.stderr
    report = _strict((out / "compat-report.json").read_bytes())
    entries = [b for s in report["systems"] if s["vm"] for b in s["vm"]["benchmarks"]]
    assert [(b["id"], b["status"], b["value"]) for b in entries] == [("cpu_gemm_fp32", "fail", None)]
    assert entries[0]["detail"].startswith("crashed: worker 'gw0' crashed while running")
