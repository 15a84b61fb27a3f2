"""Small command-line items: ``--version``, ``eflowgpu profiles``, ``--out DIR/`` and the pytest
options' spelling (``--expect-passthrough dda``) and help (``--profile`` lists the profiles)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from eflowgpu import __version__, cli
from eflowgpu.host.collector import RunResult
from eflowgpu.profiles import passthrough_type, profile_help

from helpers import PROJECT


class AnsweringRunner:
    """A runner that answers every probe with exit 0 and a line of output (the collect commands' protocol)."""

    def run(self, argv: Sequence[str], timeout_s: float) -> RunResult:
        return RunResult(0, "ok\n", "")


def _context() -> tuple[cli.CliContext, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return (
        cli.CliContext(runner=AnsweringRunner(), find_powershell=lambda: None, stdout=out, stderr=err),
        out,
        err,
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"eflowgpu {__version__}\n"


def test_profiles_lists_the_matrix_profiles_default_first() -> None:
    context, out, err = _context()
    assert cli.main(["profiles", "--matrix", str(PROJECT / "matrix.yaml")], context=context) == 0, (
        err.getvalue()
    )
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("preview-2021-06 (default): ")
    assert {line.split(":")[0] for line in lines[1:]} == {"late-2021", "ga-2022-06"}
    context, out, err = _context()
    assert cli.main(["profiles", "--matrix", str(PROJECT / "nope.yaml")], context=context) == 2
    assert "cannot read the matrix" in err.getvalue() and out.getvalue() == ""


@pytest.mark.parametrize("trailing", ["/", ""])
def test_collect_vm_out_folder_writes_a_default_name(tmp_path: Path, trailing: str) -> None:
    context, out, err = _context()
    folder = tmp_path / "snaps"
    folder.mkdir()
    argv = ["collect-vm", "--out", f"{folder}{trailing}", "--vm", "LAB/../T4 EFLOW"]
    assert cli.main(argv, context=context) == 0, err.getvalue()
    (written,) = folder.iterdir()
    assert written.name == "LAB_.._T4_EFLOW.json"  # a hostile label cannot leave the folder
    assert json.loads(written.read_text(encoding="utf-8"))["vm"] == "LAB/../T4 EFLOW"
    assert f"wrote {written}" in out.getvalue()


def test_collect_vm_out_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    context, _, err = _context()
    assert cli.main(["collect-vm", "--out", f"{tmp_path / 'absent'}/"], context=context) == 2
    assert f"directory does not exist: {tmp_path / 'absent'}" in err.getvalue()


@pytest.mark.parametrize(
    ("given", "wanted"),
    [
        ("dda", "DDA"),
        ("DDA", "DDA"),
        ("Dda", "DDA"),
        ("gpu-pv", "GPU-PV"),
        ("gpupv", "GPU-PV"),
        ("GPU_PV", "GPU-PV"),
    ],
)
def test_expect_passthrough_any_case(given: str, wanted: str) -> None:
    assert passthrough_type(given) == wanted


def test_expect_passthrough_refuses_other_values_in_pytest() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "-q", "suites/vm/test_vm.py",
         "--expect-passthrough", "sriov"],
        cwd=PROJECT, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 4
    assert "invalid choice: 'sriov' (choose from 'DDA', 'GPU-PV')" in done.stderr


def test_profile_help_lists_profiles_only_when_help_is_asked_for() -> None:
    assert "preview-2021-06 (default)" in profile_help(["pytest", "--help"])
    assert "ga-2022-06" in profile_help(["pytest", "-h"])
    assert (
        profile_help(["pytest", "-q"])
        == "the support profile to judge by (default: the matrix's default profile)"
    )
