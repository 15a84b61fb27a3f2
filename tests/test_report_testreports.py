"""JUnit and Allure tell the same story as the report: warnings with their text, benchmarks grouped by
system and GPU, the CI executor, and what a narrowed run covered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from eflowgpu.criteria import Criterion, Status
from eflowgpu.report.allure_meta import executor_info, write_allure_meta
from eflowgpu.report.testreports import (
    allure_warning,
    benchmark_labels,
    coverage,
    warning_properties,
    warning_text,
)

from helpers import PROJECT

WARN = Criterion(
    "dda.mitigation_driver",
    Status.WARN,
    False,
    "the GPU is bound to nvlddmkm.",
    "install the\nmitigation driver",
)


def test_a_warning_has_its_text_in_junit_and_allure() -> None:
    where = "LAB-T4 / NVIDIA Tesla T4 / dda.mitigation_driver"
    assert warning_text(where, WARN) == (
        "WARNING LAB-T4 / NVIDIA Tesla T4 / dda.mitigation_driver: the GPU is bound to nvlddmkm. "
        "To fix: install the mitigation driver"
    )
    assert warning_properties(WARN) == [
        ("warning", "the GPU is bound to nvlddmkm."),
        ("remedy", "install the mitigation driver"),
    ]
    assert warning_properties({"status": "warn", "detail": "d"}) == [("warning", "d")]  # a report dict
    described = allure_warning(where, WARN)
    assert described is not None and described[1] == [("tag", "warning")]
    assert described[0].startswith("WARNING LAB-T4")
    passed = Criterion("os.build", Status.PASS, True, "ok")
    assert warning_properties(passed) == [] and allure_warning(where, passed) is None


def test_benchmarks_are_grouped_by_system_and_gpu() -> None:
    labels = dict(benchmark_labels("LAB-T4-EFLOW", "Tesla T4", "10DE:1EB8", "h2d_pinned"))
    assert labels == {
        "feature": "in-VM benchmarks",
        "parentSuite": "LAB-T4-EFLOW",
        "suite": "Tesla T4 (10DE:1EB8)",
        "subSuite": "benchmarks",
        "story": "h2d_pinned",
    }
    assert dict(benchmark_labels("vm", "Tesla T4", "10DE:1EB8", "cpu_gemm_fp32"))["suite"] == "CPU"
    assert dict(benchmark_labels(None, None, None, "d2d"))["parentSuite"] == "this machine"


def test_coverage_of_a_narrowed_run() -> None:
    assert coverage(collected=30, selected=30, keyword="", markexpr="") is None
    found = coverage(collected=30, selected=20, keyword="t4", markexpr="", systems_selected=["a", "b", "a"],
                     systems_total=5)  # fmt: skip
    assert found is not None
    assert found["note"].startswith("narrowed by -k 't4': 20 of 30 tests ran, covering 2 of 5 systems;")
    assert "still lists every evaluated system" in found["note"]
    xdist = coverage(collected=None, selected=7, keyword="dda", markexpr=None)  # the controller's view
    assert xdist is not None and xdist["note"].startswith("narrowed by -k 'dda': 7 tests ran;")
    assert coverage(collected=None, selected=7, keyword="", markexpr="") is None
    by_id = coverage(collected=9, selected=9, keyword=None, markexpr=None, args=["suites/x.py::test_a"])
    assert by_id is not None and by_id["narrowed_by"] == ["1 test id(s)"]


def test_executor_from_each_ci_system(tmp_path: Path) -> None:
    github = executor_info({"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com",
                            "GITHUB_REPOSITORY": "lab/pack", "GITHUB_RUN_ID": "42", "GITHUB_RUN_NUMBER": "7",
                            "GITHUB_WORKFLOW": "qualify", "GITHUB_JOB": "host"})  # fmt: skip
    assert github == {
        "name": "GitHub Actions",
        "type": "github",
        "url": "https://github.com/lab/pack",
        "buildOrder": 7,
        "buildName": "qualify / host #7",
        "buildUrl": "https://github.com/lab/pack/actions/runs/42",
        "reportName": "EFLOW GPU qualification",
    }
    gitlab = executor_info({"GITLAB_CI": "true", "CI_PIPELINE_ID": "99", "CI_PIPELINE_IID": "12",
                            "CI_JOB_NAME": "qualify", "CI_JOB_URL": "https://gitlab.example/j/5",
                            "CI_PROJECT_URL": "https://gitlab.example/lab/pack"})  # fmt: skip
    assert gitlab is not None and (gitlab["type"], gitlab["buildOrder"], gitlab["buildUrl"]) == (
        "gitlab",
        12,
        "https://gitlab.example/j/5",
    )
    azure = executor_info({"TF_BUILD": "True", "BUILD_BUILDID": "311", "BUILD_BUILDNUMBER": "20261130.3",
                           "SYSTEM_COLLECTIONURI": "https://dev.azure.com/lab/", "SYSTEM_TEAMPROJECT": "pack",
                           "BUILD_DEFINITIONNAME": "qualify"})  # fmt: skip
    assert azure is not None
    assert azure["buildUrl"] == "https://dev.azure.com/lab/pack/_build/results?buildId=311"
    assert azure["buildName"] == "qualify 20261130.3"
    jenkins = executor_info({"JENKINS_URL": "https://ci.lab/", "BUILD_URL": "https://ci.lab/job/q/8/",
                             "BUILD_NUMBER": "8", "JOB_NAME": "q"})  # fmt: skip
    assert jenkins is not None and (jenkins["type"], jenkins["buildName"]) == ("jenkins", "q #8")
    assert executor_info({"HOME": "/root"}) is None
    write_allure_meta(tmp_path / "a", environment={"k": "v"}, env={"HOME": "/root"})
    assert not (tmp_path / "a" / "executor.json").exists()
    write_allure_meta(tmp_path / "b", environment={"k": "v"}, env={"JENKINS_URL": "https://ci.lab/"})
    assert json.loads((tmp_path / "b" / "executor.json").read_text(encoding="utf-8"))["type"] == "jenkins"


def test_a_narrowed_ci_run_tells_junit_allure_and_the_report(tmp_path: Path) -> None:
    """The host suite on two snapshots, narrowed by -k, in a (simulated) GitHub Actions job."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITLAB", "CI_", "BUILD_"))}
    env.update({"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "lab/pack", "GITHUB_RUN_ID": "42",
                "GITHUB_RUN_NUMBER": "7", "GITHUB_WORKFLOW": "qualify", "GITHUB_JOB": "host"})  # fmt: skip
    out = tmp_path / "reports"
    snapshots = [
        PROJECT / "fixtures" / "hosts" / n for n in ("lab-t4-noacs.json", "lab-rtx3060-win11pro-policy.json")
    ]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/host", "-p", "no:xdist", "-q", "--report-dir", str(out),
         *[arg for path in snapshots for arg in ("--host-snapshot", str(path))], "-k", "dda or gpupv"],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]  # dda.acs fails
    report = json.loads((out / "compat-report.json").read_text(encoding="utf-8"))
    note = report["run"]["coverage"]["note"]
    assert note.startswith("narrowed by -k 'dda or gpupv': ") and "covering 2 of 2 systems" in note
    assert note in (out / "report.md").read_text(encoding="utf-8")
    cases = ET.parse(out / "junit.xml").getroot().iter("testcase")
    warned = []
    for case in cases:
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert props["coverage"] == note
        if props.get("status") == "warn":
            warned.append(case)
            assert props["warning"] and "system-out" in {child.tag for child in case}
            assert "WARNING " in (case.find("system-out").text or "")  # type: ignore[union-attr]
    assert {case.get("name", "").rsplit("-", 1)[-1].rstrip("]") for case in warned} >= {
        "dda.mitigation_driver",
        "gpupv.policy",
    }
    executor = json.loads((out / "allure-results" / "executor.json").read_text(encoding="utf-8"))
    assert executor["buildName"] == "qualify / host #7"
    results = [
        json.loads(p.read_text(encoding="utf-8")) for p in (out / "allure-results").glob("*-result.json")
    ]
    params = [{p["name"]: p["value"].strip("'") for p in r.get("parameters", [])} for r in results]
    policy = [
        r
        for r, p in zip(results, params, strict=True)
        if p.get("criterion") == "gpupv.policy" and p.get("system") == "LAB-3060-POLICY"
    ]
    assert policy and policy[0]["status"] == "passed"
    assert policy[0]["description"].startswith("WARNING LAB-3060-POLICY")
    assert {"name": "tag", "value": "warning"} in policy[0]["labels"]
    environment = (out / "allure-results" / "environment.properties").read_text(encoding="utf-8")
    assert "coverage=narrowed by -k" in environment
    assert "verdicts.systems=1 not-eligible, 1 eligible-with-warnings\n" in environment


def test_allure_environment_carries_the_verdicts() -> None:
    from eflowgpu.report.allure_meta import verdict_environment

    report = {
        "systems": [
            {"status": "ok", "gpus": [{"verdict": "not-eligible"}, {"verdict": "unsupported"}]},
            {"status": "ok", "gpus": [{"verdict": "eligible"}]},
            {"status": "error", "gpus": []},
        ]
    }
    assert verdict_environment(report) == {
        "verdicts.systems": "1 not-eligible, 1 error, 1 eligible",
        "verdicts.gpus": "1 eligible, 1 not-eligible, 1 unsupported",
    }
    assert verdict_environment({}) == {"verdicts.systems": "no system", "verdicts.gpus": "no GPU"}
