"""End to end: the pack's pytest plugin run for real, in a throwaway project, in a subprocess.

Each run builds a small project (the project's ``matrix.yaml``, the host suite, a ``pytest.ini``
like the project's, which switches the pack on) and runs ``pytest`` in a subprocess, so the plugin
(loaded through its ``pytest11`` entry point), pytest-xdist, JUnit and Allure all work as they do
for a user. The expensive runs over the
whole sample lab are made once per module (one per profile, serial and ``-n 2``) and shared.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from eflowgpu.snapshot import MAX_FILE_BYTES, MAX_PROBE_TEXT

from helpers import PROJECT, SHARED
from lab_expectations import EXPECTED, GA, PREVIEW

LAB = PROJECT / "fixtures" / "hosts"
SUITE = PROJECT / "suites" / "host"
VALIDATOR = SHARED / "tools" / "validate_report.py"
PLUGIN: tuple[str, ...] = ()  # the entry point loads the plugin; the ini switches it on
BROKEN = ("corrupt-truncated", "hostile-not-a-snapshot")

# Like the project's pytest.ini (kept here so that the tests do not follow unrelated edits of it).
PYTEST_INI = """\
[pytest]
testpaths = suites
eflowgpu_pack = true
addopts = --strict-markers -ra -p no:cacheprovider
xfail_strict = true
junit_family = xunit1
filterwarnings =
    ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning
    default::eflowgpu.pytest_plugin.cases.EligibilityWarning
"""

HOST_TESTS = "host_snapshot|windows_release|host_platform|dda_survey|gpu_pv|gpu_driver"
TEST_ID = re.compile(rf"^test_({HOST_TESTS})\[[A-Za-z0-9_.~-]+\]$")


# --- building and running throwaway projects ------------------------------------------------------


def make_project(root: Path, lab: str | None = "lab", files: list[Path] | None = None) -> Path:
    """A pack project in ``root``: matrix, host suite, pytest.ini, and a copy of lab files in ``lab``."""
    shutil.copytree(
        SUITE, root / "suites" / "host", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copyfile(PROJECT / "matrix.yaml", root / "matrix.yaml")
    (root / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    if lab is not None:
        target = root / lab
        target.mkdir(parents=True, exist_ok=True)
        for path in files if files is not None else sorted(LAB.glob("*.json")):
            shutil.copyfile(path, target / path.name)
    return root


def clean_env() -> dict[str, str]:
    """The environment for an inner pytest: no PYTEST_* settings leaking from this run."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}


@dataclass(frozen=True)
class PackRun:
    """One finished pack run: its exit code, output and report folder."""

    returncode: int
    stdout: str
    stderr: str
    out: Path

    @property
    def report_path(self) -> Path:
        """Where the run's compat-report.json is."""
        return self.out / "compat-report.json"

    def report(self) -> dict[str, Any]:
        """The run's compat-report.json."""
        data: dict[str, Any] = json.loads(self.report_path.read_text(encoding="utf-8"))
        return data

    def outcomes(self) -> dict[str, int]:
        """The counts of pytest's last summary line (failed, passed, skipped, warnings, ...)."""
        return pytest.RunResult.parse_summary_nouns(self.stdout.splitlines())


def run_pack(cwd: Path, out: str, *args: str, timeout: int = 300) -> PackRun:
    """Run the pack in ``cwd`` with ``--report-dir out`` (a plain subprocess: usable at module scope)."""
    command = [sys.executable, "-m", "pytest", *PLUGIN, "--report-dir", out, *args]
    done = subprocess.run(
        command, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    return PackRun(done.returncode, done.stdout, done.stderr, cwd / out)


def from_pytester(result: pytest.RunResult, out: Path) -> PackRun:
    """A pytester run as a PackRun."""
    return PackRun(int(result.ret), "\n".join(result.outlines), "\n".join(result.errlines), out)


def lab_args(profile: str) -> tuple[str, ...]:
    """The options of a whole-lab run (relative paths, so that reports of two projects compare)."""
    return ("--host-snapshot", "lab", "--matrix", "matrix.yaml", "--profile", profile)


def without_time(report: dict[str, Any]) -> str:
    """The report as canonical JSON without ``generated_at``."""
    return json.dumps({k: v for k, v in report.items() if k != "generated_at"}, sort_keys=True)


# --- what the JUnit file says ------------------------------------------------------------------------


@dataclass(frozen=True)
class JunitCase:
    """One ``<testcase>`` of junit.xml."""

    name: str
    props: dict[str, str]
    outcome: str
    message: str


def junit_cases(path: Path) -> list[JunitCase]:
    """Every testcase of a JUnit file, with its properties and outcome."""
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        outcome, message = "passed", ""
        for tag, name in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            child = case.find(tag)
            if child is not None:
                outcome, message = name, child.get("message", "")
                break
        cases.append(JunitCase(case.get("name", ""), props, outcome, message))
    return cases


CaseKey = tuple[str, str | None, str | None, str | None]


def case_key(case: JunitCase) -> CaseKey:
    """A test's identity from its properties: source, GPU name, PCI id, criterion."""
    p = case.props
    return (p["source"], p.get("gpu"), p.get("pci_id"), p.get("criterion"))


def expected_outcomes(report: dict[str, Any]) -> Counter[tuple[CaseKey, str]]:
    """The test outcome each criterion of the report must give (error systems error, ...)."""
    want: Counter[tuple[CaseKey, str]] = Counter()
    for system in report["systems"]:
        if system["status"] == "error" or not system["gpus"]:
            snapshot = "error" if system["status"] == "error" else "skipped"
            want[((system["source"], None, None, None), snapshot)] += 1
        for gpu in system["gpus"]:
            where = (system["source"], gpu["name"], gpu["pci_id"])
            if gpu["verdict"] == "unsupported":
                want[((*where, "gpu.supported"), "skipped")] += 1
                continue
            for crit in gpu["criteria"]:
                outcome = {"fail": "failed", "unknown": "skipped", "skip": "skipped"}.get(
                    crit["status"], "passed"
                )
                want[((*where, crit["id"]), outcome)] += 1
    return want


def supported_criteria(
    report: dict[str, Any],
) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(system, GPU, criterion) for every criterion of every GPU the profile supports."""
    for system in report["systems"]:
        for gpu in system["gpus"]:
            if gpu["verdict"] != "unsupported":
                for crit in gpu["criteria"]:
                    yield system, gpu, crit


def where(system: dict[str, Any], gpu: dict[str, Any], crit: dict[str, Any]) -> str:
    """How the plugin names a criterion in test messages."""
    return f"{system['host']} / {gpu['name']} / {crit['id']}"


def stem_of(system: dict[str, Any]) -> str:
    """The file stem of a system's source."""
    return Path(system["source"]).stem


# --- shared runs over the whole sample lab ---------------------------------------------------------


@pytest.fixture(scope="module")
def lab_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway pack project with a copy of the whole sample lab in ``lab/``."""
    return make_project(tmp_path_factory.mktemp("lab-project"))


@pytest.fixture(scope="module")
def lab_runs(lab_project: Path) -> Callable[[str], PackRun]:
    """Serial whole-lab runs, one per profile, made on first use and shared by the module."""
    runs: dict[str, PackRun] = {}

    def get(profile: str) -> PackRun:
        if profile not in runs:
            runs[profile] = run_pack(lab_project, f"out-{profile}", *lab_args(profile))
        return runs[profile]

    return get


@pytest.fixture(scope="module", params=[PREVIEW, GA])
def lab_run(request: pytest.FixtureRequest, lab_runs: Callable[[str], PackRun]) -> PackRun:
    """The serial whole-lab run of each profile."""
    run = lab_runs(request.param)
    assert run.report_path.is_file(), run.stdout[-3000:] + run.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def xdist_run(lab_project: Path, lab_run: PackRun) -> PackRun:
    """The same whole-lab run as ``lab_run`` under pytest-xdist with two workers."""
    pytest.importorskip("xdist")
    profile = lab_run.report()["matrix"]["profile"]
    return run_pack(lab_project, f"out-xdist-{profile}", *lab_args(profile), "-n", "2")


# --- 1. the whole lab, both profiles -----------------------------------------------------------------


def test_lab_report_conforms_to_the_contract(lab_run: PackRun) -> None:
    if not VALIDATOR.is_file():
        pytest.skip(f"the shared report validator is absent ({VALIDATOR}): ../shared is not checked out")
    done = subprocess.run(
        [sys.executable, str(VALIDATOR), str(lab_run.report_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "conforms" in done.stdout


def test_lab_report_lists_every_snapshot_once(lab_run: PackRun) -> None:
    report = lab_run.report()
    assert report["format"] == "eflow-gpu-report/1"
    assert report["matrix"]["path"] == "matrix.yaml"
    assert report["run"]["mode"] == "snapshots"
    sources = [s["source"] for s in report["systems"]]
    assert sources == sorted(f"lab/{stem}.json" for stem in EXPECTED)  # a folder's files, sorted
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", report["generated_at"])


def test_lab_report_matches_the_hand_derived_expectations(lab_run: PackRun) -> None:
    report = lab_run.report()
    profile = report["matrix"]["profile"]
    assert profile in (PREVIEW, GA)
    for system in report["systems"]:
        stem = stem_of(system)
        want = EXPECTED[stem][profile]
        assert system["status"] == want["status"], (stem, system["error"])
        have = {g["pci_id"]: g for g in system["gpus"]}
        assert sorted(have) == sorted(want["gpus"]), stem
        for pci_id, expected in want["gpus"].items():
            gpu = have[pci_id]
            got = {
                "verdict": gpu["verdict"],
                "passthrough": gpu["passthrough"],
                "model": gpu["model"],
                "fails": sorted(c["id"] for c in gpu["criteria"] if c["status"] == "fail"),
                "warns": sorted(c["id"] for c in gpu["criteria"] if c["status"] == "warn"),
            }
            keys = ["verdict", "passthrough", "model"]
            if expected["verdict"] != "unsupported":  # an unsupported GPU's lists are not compared
                keys += ["fails", "warns"]
            assert {k: got[k] for k in keys} == {k: expected[k] for k in keys}, f"{stem} {pci_id}"


def test_broken_snapshots_are_error_systems(lab_run: PackRun) -> None:
    errors = [s for s in lab_run.report()["systems"] if s["status"] == "error"]
    assert sorted(stem_of(s) for s in errors) == sorted(BROKEN)
    for system in errors:
        stem = stem_of(system)
        assert system["host"] == stem
        assert system["source"] == f"lab/{stem}.json"
        assert system["gpus"] == []
        assert isinstance(system["error"], str) and system["error"].strip()
        assert "\n" not in system["error"] and "\r" not in system["error"]


def test_lab_run_fails_exactly_the_failed_required_criteria(lab_run: PackRun) -> None:
    report = lab_run.report()
    assert lab_run.returncode == pytest.ExitCode.TESTS_FAILED, lab_run.stderr[-3000:]
    cases = junit_cases(lab_run.out / "junit.xml")
    got = Counter((case_key(c), c.outcome) for c in cases)
    assert got == expected_outcomes(report)

    by_key = {case_key(c): c for c in cases}
    fails = [(s, g, c) for s, g, c in supported_criteria(report) if c["status"] == "fail"]
    assert fails, "the sample lab has failing criteria in every profile"
    for system, gpu, crit in fails:
        assert crit["required"] is True, where(system, gpu, crit)
        case = by_key[(system["source"], gpu["name"], gpu["pci_id"], crit["id"])]
        assert f"{where(system, gpu, crit)}: " in case.message
        assert crit["detail"].rstrip(". ") in case.message
    for system in report["systems"]:
        if system["status"] == "error":
            case = by_key[(system["source"], None, None, None)]
            assert case.outcome == "error"  # JUnit <error>: the snapshot is broken, not a failed check
            assert f"ERROR {system['host']}: {system['error']}" in lab_run.stdout  # the summary says why


def test_lab_run_summary_counts_follow_the_criteria(lab_run: PackRun) -> None:
    report = lab_run.report()
    statuses = Counter(c["status"] for _, _, c in supported_criteria(report))
    errors = sum(s["status"] == "error" for s in report["systems"])
    unsupported = sum(g["verdict"] == "unsupported" for s in report["systems"] for g in s["gpus"])
    no_gpu = sum(s["status"] == "ok" and not s["gpus"] for s in report["systems"])
    counts = lab_run.outcomes()
    assert counts.get("failed", 0) == statuses["fail"]
    assert counts.get("passed", 0) == statuses["pass"] + statuses["warn"]  # a warning passes
    assert counts.get("skipped", 0) == statuses["unknown"] + statuses["skip"] + unsupported + no_gpu
    assert counts.get("warnings", 0) == statuses["warn"]
    assert counts.get("errors", 0) == errors


def test_warn_criteria_are_pytest_warnings(lab_run: PackRun) -> None:
    report = lab_run.report()
    warns = [(s, g, c) for s, g, c in supported_criteria(report) if c["status"] == "warn"]
    assert warns
    for system, gpu, crit in warns:
        assert f"EligibilityWarning: {where(system, gpu, crit)}: " in lab_run.stdout


def test_unknown_and_skip_criteria_are_skips_with_the_reason(lab_run: PackRun) -> None:
    report = lab_run.report()
    by_key = {case_key(c): c for c in junit_cases(lab_run.out / "junit.xml")}
    seen: Counter[str] = Counter()
    for system, gpu, crit in supported_criteria(report):
        if crit["status"] in ("unknown", "skip"):
            case = by_key[(system["source"], gpu["name"], gpu["pci_id"], crit["id"])]
            assert case.outcome == "skipped"
            assert f"{where(system, gpu, crit)} {crit['status']}: " in case.message
            seen[crit["status"]] += 1
    assert seen["skip"] > 0
    assert seen["unknown"] > 0  # lab-t4-partial lacks probes


# --- 2. parallel == serial ---------------------------------------------------------------------------


def test_parallel_run_reports_what_a_serial_run_does(lab_run: PackRun, xdist_run: PackRun) -> None:
    assert xdist_run.report_path.is_file(), xdist_run.stdout[-3000:] + xdist_run.stderr[-3000:]
    assert "2 workers" in xdist_run.stdout
    assert without_time(xdist_run.report()) == without_time(lab_run.report())
    assert xdist_run.returncode == lab_run.returncode
    serial = Counter((c.name, c.outcome) for c in junit_cases(lab_run.out / "junit.xml"))
    parallel = Counter((c.name, c.outcome) for c in junit_cases(xdist_run.out / "junit.xml"))
    assert parallel == serial
    assert (xdist_run.out / "report.html").is_file() and (xdist_run.out / "report.md").is_file()


def test_parallel_run_writes_allure_results(xdist_run: PackRun) -> None:
    results = list((xdist_run.out / "allure-results").glob("*-result.json"))
    assert len(results) == len(junit_cases(xdist_run.out / "junit.xml"))


# --- 3. interrupted runs still write the whole report ------------------------------------------------


def test_stop_at_first_failure_still_writes_the_whole_report(
    pytester: pytest.Pytester, lab_runs: Callable[[str], PackRun]
) -> None:
    make_project(pytester.path)
    result = pytester.runpytest_subprocess(*PLUGIN, *lab_args(PREVIEW), "--report-dir", "out", "-x")
    run = from_pytester(result, pytester.path / "out")
    assert run.returncode == pytest.ExitCode.TESTS_FAILED
    assert "stopping after 1 failures" in run.stdout
    assert run.outcomes()["failed"] == 1
    assert without_time(run.report()) == without_time(lab_runs(PREVIEW).report())


def test_keyboard_interrupt_still_writes_the_whole_report(
    pytester: pytest.Pytester, lab_runs: Callable[[str], PackRun]
) -> None:
    make_project(pytester.path)
    pytester.makeconftest(
        """
        import pytest

        seen = []

        def pytest_runtest_setup(item):
            seen.append(item.nodeid)
            if len(seen) == 5:
                raise KeyboardInterrupt
        """
    )
    result = pytester.runpytest_subprocess(*PLUGIN, *lab_args(PREVIEW), "--report-dir", "out")
    run = from_pytester(result, pytester.path / "out")
    assert run.returncode == pytest.ExitCode.INTERRUPTED
    assert "KeyboardInterrupt" in run.stdout
    assert without_time(run.report()) == without_time(lab_runs(PREVIEW).report())
    assert (run.out / "report.html").is_file() and (run.out / "report.md").is_file()


def test_collect_only_writes_the_evaluated_report(
    pytester: pytest.Pytester, lab_runs: Callable[[str], PackRun]
) -> None:
    """Collection evaluates every system; the report of what was evaluated is written, as always."""
    make_project(pytester.path)
    result = pytester.runpytest_subprocess(
        *PLUGIN, *lab_args(PREVIEW), "--report-dir", "out", "--collect-only", "-q"
    )
    run = from_pytester(result, pytester.path / "out")
    assert run.returncode == pytest.ExitCode.OK
    full = lab_runs(PREVIEW)
    cases = len(junit_cases(full.out / "junit.xml"))
    assert f"{cases} tests collected" in run.stdout
    assert without_time(run.report()) == without_time(full.report())


# --- 4. usage errors -----------------------------------------------------------------------------


def assert_usage_error(result: pytest.RunResult) -> str:
    """The run ended with a usage error and no traceback; returns all its output."""
    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output[-3000:]
    assert "Traceback" not in output
    assert "INTERNALERROR" not in output
    return output


def test_malformed_matrix_is_a_usage_error_naming_line_and_field(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, files=[LAB / "lab-t4-srv2022.json"])
    matrix = pytester.path / "matrix.yaml"
    lines = matrix.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("profiles:"))
    number = next(i for i, line in enumerate(lines, 1) if i > start and line.strip() == "passthrough: DDA")
    lines[number - 1] = lines[number - 1].replace("DDA", "DDX")
    matrix.write_text("".join(lines), encoding="utf-8")

    result = pytester.runpytest_subprocess(*PLUGIN, "--host-snapshot", "lab", "--report-dir", "out")
    output = assert_usage_error(result)
    assert f"matrix.yaml:{number}:" in output
    assert re.search(r"profiles\.[A-Za-z0-9_.-]+\.rows\[\d+\]\.passthrough", output), output
    assert "DDX" in output


def test_unknown_profile_is_a_usage_error_listing_the_profiles(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, files=[LAB / "lab-t4-srv2022.json"])
    result = pytester.runpytest_subprocess(
        *PLUGIN, "--host-snapshot", "lab", "--report-dir", "out", "--profile", "nope"
    )
    output = assert_usage_error(result)
    assert "nope" in output
    assert PREVIEW in output and GA in output


def test_missing_host_snapshot_is_a_usage_error(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, lab=None)
    result = pytester.runpytest_subprocess(
        *PLUGIN, "--host-snapshot", "no-such-folder", "--report-dir", "out"
    )
    output = assert_usage_error(result)
    assert "--host-snapshot" in output
    assert "no-such-folder" in output


# --- 5. the sample lab when no snapshot is given -------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="on Windows the pack evaluates the live host")
def test_without_host_snapshot_the_sample_lab_is_evaluated(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, lab="fixtures/hosts")
    result = pytester.runpytest_subprocess()  # no options at all: defaults everywhere
    run = from_pytester(result, pytester.path / "reports")
    lab = pytester.path / "fixtures" / "hosts"
    header = [line for line in result.outlines if line.startswith("eflowgpu: ")]  # header and summary
    assert any("sample lab" in line and str(lab) in line for line in header), header
    assert any(f"matrix {pytester.path / 'matrix.yaml'}" in line for line in header), header

    report = run.report()
    assert report["run"]["mode"] == "sample-lab"
    assert "sample lab" in report["run"]["note"] and str(lab) in report["run"]["note"]
    assert sorted(stem_of(s) for s in report["systems"]) == sorted(EXPECTED)
    page = (run.out / "report.html").read_text(encoding="utf-8")
    assert 'id="sample-lab-banner"' in page
    assert "Sample lab" in (run.out / "report.md").read_text(encoding="utf-8")
    assert (run.out / "junit.xml").is_file()


@pytest.mark.skipif(sys.platform == "win32", reason="on Windows the pack evaluates the live host")
def test_the_sample_lab_is_the_one_next_to_the_matrix(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, lab=None)
    pack = pytester.path / "pack"
    (pack / "fixtures" / "hosts").mkdir(parents=True)
    shutil.copyfile(PROJECT / "matrix.yaml", pack / "matrix.yaml")
    for stem in ("lab-t4-srv2022", "lab-t4-noacs"):
        shutil.copyfile(LAB / f"{stem}.json", pack / "fixtures" / "hosts" / f"{stem}.json")
    result = pytester.runpytest_subprocess(*PLUGIN, "--matrix", "pack/matrix.yaml", "--report-dir", "out")
    report = from_pytester(result, pytester.path / "out").report()
    assert report["run"]["mode"] == "sample-lab"
    assert [stem_of(s) for s in report["systems"]] == ["lab-t4-noacs", "lab-t4-srv2022"]
    assert all(s["source"].startswith(str(Path("pack") / "fixtures" / "hosts")) for s in report["systems"])


@pytest.mark.skipif(sys.platform == "win32", reason="on Windows the pack evaluates the live host")
def test_no_snapshot_and_no_sample_lab_still_writes_an_empty_report(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, lab=None)
    result = pytester.runpytest_subprocess(*PLUGIN, "--report-dir", "out")
    report = from_pytester(result, pytester.path / "out").report()
    assert report["run"]["mode"] == "none"
    assert report["systems"] == []
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)


# --- 6. JUnit and Allure -------------------------------------------------------------------------


def test_junit_has_a_testcase_per_case_with_properties(lab_run: PackRun) -> None:
    report = lab_run.report()
    cases = junit_cases(lab_run.out / "junit.xml")
    assert len(cases) == sum(expected_outcomes(report).values())
    hosts = {s["source"]: s["host"] for s in report["systems"]}
    for case in cases:
        assert case.props["system"] == hosts[case.props["source"]], case.name
        if case.props.get("criterion") is None:  # an error system's single case
            continue
        assert {"gpu", "pci_id", "criterion", "verdict", "status"} <= set(case.props), case.name
    triples = {(c.props["system"], c.props.get("gpu"), c.props.get("criterion")) for c in cases}
    assert ("LAB-T4-SRV2019", "NVIDIA Tesla T4", "os.build") in triples
    assert any(host.startswith("LAB-<img") and gpu and "<img" in gpu for host, gpu, _ in triples)


def test_allure_results_carry_the_system_gpu_criterion_tree(lab_run: PackRun) -> None:
    report = lab_run.report()
    systems = {s["source"]: s for s in report["systems"]}
    by_name = {c.name: c for c in junit_cases(lab_run.out / "junit.xml")}
    results = sorted((lab_run.out / "allure-results").glob("*-result.json"))
    assert len(results) == len(by_name)

    checked = 0
    for path in results:
        result = json.loads(path.read_text(encoding="utf-8"))
        case = by_name[result["name"]]
        labels = {label["name"]: label["value"] for label in result["labels"]}
        params = {p["name"]: p["value"] for p in result.get("parameters", [])}
        system = systems[case.props["source"]]
        assert labels["parentSuite"] == system["host"], result["name"]
        assert shown(params["system"]) == system["host"]
        if system["status"] == "error" or "criterion" not in case.props:  # a snapshot's own test
            continue
        gpu = next(
            g for g in system["gpus"] if (g["name"], g["pci_id"]) == (case.props["gpu"], case.props["pci_id"])
        )
        assert labels["suite"] == f"{gpu['name']} ({gpu['pci_id']})"
        assert labels["subSuite"] == case.props["criterion"]
        assert shown(params["gpu"]) == f"{gpu['name']} ({gpu['pci_id']})"
        assert shown(params["passthrough"]) == (gpu["passthrough"] or "none")
        assert shown(params["criterion"]) == case.props["criterion"]
        checked += 1
    assert checked > 100


def shown(value: str) -> str:
    """An Allure parameter value without the quotes allure-python puts around strings."""
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == "'" else value


# --- 7. hostile snapshots among good ones ----------------------------------------------------------


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON text."""
    path.write_text(json.dumps(data), encoding="utf-8")


def test_hostile_snapshots_become_error_systems_and_the_others_are_evaluated(
    pytester: pytest.Pytester,
) -> None:
    good = ["lab-gtx1650-lowdisk", "lab-rtx4070-win11ent", "lab-t4-srv2022"]
    make_project(pytester.path, files=[LAB / f"{stem}.json" for stem in good])
    lab = pytester.path / "lab"
    t4 = json.loads((LAB / "lab-t4-srv2022.json").read_text(encoding="utf-8-sig"))
    script = "<script>alert(1)</script>"

    write_json(lab / "script-probes-list.json", {**t4, "host": script, "probes": [{"name": "os"}, "<img>"]})
    write_json(lab / "script-label-ok.json", {**t4, "host": script})
    big_probe = dict(t4["probes"])
    big_probe["os"] = {**big_probe["os"], "stdout": "x" * (MAX_PROBE_TEXT + 1)}
    write_json(lab / "probe-over-limit.json", {**t4, "host": "BIG-PROBE", "probes": big_probe})
    with (lab / "huge-file.json").open("wb") as handle:  # sparse: cheap to make, over the size limit
        handle.truncate(max(70_000_000, MAX_FILE_BYTES + 1))

    result = pytester.runpytest_subprocess(*PLUGIN, "--host-snapshot", "lab", "--report-dir", "out")
    run = from_pytester(result, pytester.path / "out")
    assert run.returncode == pytest.ExitCode.TESTS_FAILED
    report = run.report()
    systems = {stem_of(s): s for s in report["systems"]}
    assert sorted(systems) == sorted(
        [*good, "script-probes-list", "script-label-ok", "probe-over-limit", "huge-file"]
    )

    for stem in ("script-probes-list", "probe-over-limit", "huge-file"):
        system = systems[stem]
        assert system["status"] == "error", stem
        assert system["host"] == stem
        assert system["source"] == f"lab/{stem}.json"
        assert system["gpus"] == []
        assert system["error"] and "\n" not in system["error"]
        assert len(system["error"]) < 500, stem  # one line a person reads, not the data
    assert "probes" in systems["script-probes-list"]["error"]
    assert "limit" in systems["probe-over-limit"]["error"]
    assert "limit" in systems["huge-file"]["error"]

    for stem in good:
        system = systems[stem]
        assert system["status"] == "ok", (stem, system["error"])
        verdicts = {g["pci_id"]: g["verdict"] for g in system["gpus"]}
        assert verdicts == {k: v["verdict"] for k, v in EXPECTED[stem][PREVIEW]["gpus"].items()}
    labelled = systems["script-label-ok"]
    assert labelled["status"] == "ok" and labelled["host"] == script  # kept verbatim in the JSON
    assert [g["verdict"] for g in labelled["gpus"]] == ["eligible"]

    page = (run.out / "report.html").read_text(encoding="utf-8")
    assert script not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert script not in (run.out / "report.md").read_text(encoding="utf-8")

    errors = {c.props["source"] for c in junit_cases(run.out / "junit.xml") if c.outcome == "error"}
    assert errors == {"lab/script-probes-list.json", "lab/probe-over-limit.json", "lab/huge-file.json"}
    failed = {c.props["source"] for c in junit_cases(run.out / "junit.xml") if c.outcome == "failed"}
    assert "lab/lab-t4-srv2022.json" not in failed and "lab/script-label-ok.json" not in failed
    names = [c.name for c in junit_cases(run.out / "junit.xml")]
    assert "test_windows_release[script_alert_1_script-gpu0-t4-os.build]" in names
    assert all(TEST_ID.match(name) for name in names)


# --- 8. test ids ---------------------------------------------------------------------------------


def test_test_ids_are_readable_and_unique(lab_run: PackRun) -> None:
    names = [c.name for c in junit_cases(lab_run.out / "junit.xml")]
    assert len(names) == len(set(names))
    assert all(TEST_ID.match(name) for name in names), [n for n in names if not TEST_ID.match(n)]
    assert "test_windows_release[LAB-T4-SRV2019-gpu1-t4-os.build]" in names
    assert "test_gpu_driver[LAB-T4-SRV2019-gpu0-102B_0536-gpu.supported]" in names
    assert "test_host_snapshot[corrupt-truncated]" in names


def test_same_host_label_twice_gives_unique_ids_and_both_systems(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, lab="lab", files=[])
    t4 = (LAB / "lab-t4-srv2022.json").read_bytes()
    for name in ("a.json", "b.json"):
        (pytester.path / "lab" / name).write_bytes(t4)
    same_slug = json.loads(t4.decode("utf-8-sig"))
    same_slug["host"] = "LAB-T4-SRV2022!"  # a different label with the same test-id form
    write_json(pytester.path / "lab" / "c.json", same_slug)

    result = pytester.runpytest_subprocess(*PLUGIN, "--host-snapshot", "lab", "--report-dir", "out")
    run = from_pytester(result, pytester.path / "out")
    assert run.returncode == pytest.ExitCode.OK, run.stdout[-3000:]
    report = run.report()
    assert [(s["host"], s["source"]) for s in report["systems"]] == [
        ("LAB-T4-SRV2022", "lab/a.json"),
        ("LAB-T4-SRV2022", "lab/b.json"),
        ("LAB-T4-SRV2022!", "lab/c.json"),
    ]
    cases = junit_cases(run.out / "junit.xml")
    names = [c.name for c in cases]
    assert len(names) == len(set(names))
    assert all(TEST_ID.match(name) for name in names)
    per_source = Counter(c.props["source"] for c in cases)
    criteria = len(report["systems"][0]["gpus"][0]["criteria"])
    assert per_source == {"lab/a.json": criteria, "lab/b.json": criteria, "lab/c.json": criteria}
    first = {c.name for c in cases if c.props["source"] == "lab/a.json"}
    assert "test_windows_release[LAB-T4-SRV2022-gpu0-t4-os.build]" in first  # the first keeps the plain id


# --- the plugin without Allure ---------------------------------------------------------------------


def test_plugin_works_without_allure(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, files=[LAB / "lab-t4-srv2022.json"])
    result = pytester.runpytest_subprocess(
        *PLUGIN, "-p", "no:allure_pytest", "--host-snapshot", "lab", "--report-dir", "out"
    )
    assert result.ret == pytest.ExitCode.OK, "\n".join(result.outlines[-30:])
    assert (pytester.path / "out" / "compat-report.json").is_file()


# --- host and VM together ----------------------------------------------------------------------------

VM_SUITE = PROJECT / "suites" / "vm"
VMS = PROJECT / "fixtures" / "vms"


@pytest.fixture(scope="module")
def joined_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with both suites, the sample lab in ``lab`` and the sample VMs in ``vms``."""
    root = make_project(tmp_path_factory.mktemp("joined"))
    shutil.copytree(
        VM_SUITE, root / "suites" / "vm", ignore=shutil.ignore_patterns("__pycache__", "test_bench*")
    )
    shutil.copytree(VMS, root / "vms", ignore=shutil.ignore_patterns("*.py"))
    return root


def test_host_and_vm_snapshots_join_into_one_report_serial_or_parallel(joined_project: Path) -> None:
    args = (*lab_args(GA), "--vm-snapshot", "vms")
    serial = run_pack(joined_project, "out-serial", *args)
    parallel = run_pack(joined_project, "out-parallel", *args, "-n", "2")
    assert serial.returncode == parallel.returncode == 1, serial.stdout[-2000:]
    assert without_time(serial.report()) == without_time(parallel.report())
    report = serial.report()
    if VALIDATOR.is_file():
        done = subprocess.run(
            [sys.executable, str(VALIDATOR), str(serial.report_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout
    by_host = {s["host"]: s for s in report["systems"]}
    t4 = by_host["LAB-T4-SRV2022"]
    assert t4["gpus"] and t4["vm"]["passthrough"] == "DDA"
    assert {c["id"]: c["status"] for c in t4["vm"]["criteria"]}["vm.passthrough"] == "pass"
    assert by_host["vm-corrupt-truncated"]["status"] == "error"
    assert (
        "test_passthrough[LAB-T4-SRV2022-EFLOW-vm.passthrough] PASSED"
        in run_pack(joined_project, "out-verbose", *args, "-v", "-k", "SRV2022-EFLOW").stdout
    )


def test_host_suite_alone_does_not_examine_this_machine(joined_project: Path) -> None:
    run = run_pack(joined_project, "out-host-only", *lab_args(GA), "suites/host")
    report = run.report()
    assert report["run"]["vm_mode"] == "none"
    assert all(s["vm"] is None for s in report["systems"])


def test_vm_suite_alone_examines_this_machine_and_not_the_sample_lab(joined_project: Path) -> None:
    run = run_pack(joined_project, "out-vm-only", "--matrix", "matrix.yaml", "suites/vm")
    assert run.returncode == 0, run.stdout[-2000:]
    report = run.report()
    assert report["run"]["mode"] == "none" and report["run"]["vm_mode"] == "live"
    (system,) = report["systems"]
    assert system["vm"]["passthrough"] == "none"  # this machine has no GPU
    assert (joined_project / "out-vm-only" / "vm-snapshot.json").is_file()
    assert "8 skipped" in run.stdout and "1 passed" in run.stdout  # 9 vm.* criteria
    assert system["verdict"] == "unsupported"  # a VM where no GPU arrived
    strict = run_pack(joined_project, "out-vm-strict", "--matrix", "matrix.yaml", "suites/vm", "--strict")
    assert strict.returncode == pytest.ExitCode.TESTS_FAILED, strict.stdout[-2000:]


# --- the plugin as an entry point: options anywhere, inactive elsewhere ----------------------------


def test_options_with_absolute_paths_parse_from_any_directory_serial_and_parallel(
    tmp_path: Path, lab_runs: Callable[[str], PackRun]
) -> None:
    """The exact form the README gives: ``pytest --rootdir=PACK -c PACK/pytest.ini --host-snapshot
    /abs/lab --report-dir /abs/out``, space-separated, from another folder, serial and ``-n 2``."""
    pack = make_project(tmp_path / "pack")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outs = []
    for extra in ((), ("-n", "2")):
        out = tmp_path / f"out{len(outs)}"
        command = [
            sys.executable, "-m", "pytest", f"--rootdir={pack}", "-c", str(pack / "pytest.ini"),
            "--host-snapshot", str(pack / "lab"), "--report-dir", str(out), "--profile", PREVIEW, *extra,
        ]  # fmt: skip
        done = subprocess.run(
            command, cwd=elsewhere, env=clean_env(), capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout[-3000:] + done.stderr[-3000:]
        assert "unrecognized arguments" not in done.stderr
        outs.append(json.loads((out / "compat-report.json").read_text(encoding="utf-8")))
        assert f"report: {out / 'compat-report.json'}" in done.stdout  # absolute paths in the summary
    serial, parallel = outs
    assert without_time(serial) == without_time(parallel)
    plain = tmp_path / "out-plain"  # from the project folder, no -c: `pytest --host-snapshot /abs/lab`
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--host-snapshot", str(pack / "lab"), "--report-dir", str(plain),
         "--profile", PREVIEW],
        cwd=pack, env=clean_env(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout[-3000:] + done.stderr[-3000:]
    assert without_time(
        json.loads((plain / "compat-report.json").read_text(encoding="utf-8"))
    ) == without_time(serial)
    reference = lab_runs(PREVIEW).report()
    verdicts = [[g["verdict"] for g in s["gpus"]] for s in serial["systems"]]
    assert verdicts == [[g["verdict"] for g in s["gpus"]] for s in reference["systems"]]
    # a lab outside the project: pytest takes its path for a test path when it chooses the rootdir,
    # before any plugin is loaded; the plugin chooses again, so the project's ini and matrix are used
    outside = tmp_path / "lab-outside"
    shutil.copytree(pack / "lab", outside)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--host-snapshot", str(outside),
         "--report-dir", str(tmp_path / "o3"), "--profile", PREVIEW],
        cwd=pack, env=clean_env(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"rootdir: {pack}" in done.stdout
    report = json.loads((tmp_path / "o3" / "compat-report.json").read_text(encoding="utf-8"))
    assert [[g["verdict"] for g in s["gpus"]] for s in report["systems"]] == verdicts


def test_plugin_does_nothing_in_a_run_that_does_not_use_it(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    output = "\n".join(result.outlines)
    assert "EFLOW GPU compatibility" not in output and "\neflowgpu:" not in output
    assert not (pytester.path / "reports").exists()
    fixtures = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    assert "The host's facts the pack judged" not in "\n".join(fixtures.outlines)


# --- nothing is examined while only listing ----------------------------------------------------------


def test_listing_runs_examine_nothing_and_the_vm_suite_does(joined_project: Path) -> None:
    for flags in (("--collect-only", "-q"), ("--markers",), ("--fixtures",), ("--help",)):
        out = f"out-list{flags[0]}"
        run = run_pack(joined_project, out, "--matrix", "matrix.yaml", *flags)
        ok = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)  # no host data, the VM not examined
        assert run.returncode in ok, (flags, run.stdout[-2000:], run.stderr[-2000:])
        assert not (joined_project / out / "vm-snapshot.json").exists(), flags
        assert not (joined_project / out / "host-snapshot.json").exists(), flags
        assert not (joined_project / out / "allure-results").exists(), flags  # a previous run's stay
    markers = run_pack(joined_project, "out-markers", "--markers").stdout
    assert "@pytest.mark.dda:" in markers and "@pytest.mark.required:" in markers
    fixtures = run_pack(joined_project, "out-fixtures", "--fixtures").stdout
    for name in ("matrix", "profile", "system", "host", "gpu", "vm"):
        assert re.search(rf"^{name}( \[session scope\])? -- ", fixtures, re.MULTILINE), name
    # the control: running the in-VM suite does examine this machine
    run = run_pack(joined_project, "out-vm-live", "--matrix", "matrix.yaml", "suites/vm")
    assert (joined_project / "out-vm-live" / "vm-snapshot.json").is_file(), run.stdout[-2000:]


class FakeRunner:
    """Stands in for PowerShell on "Windows": records every command, answers like a failed probe."""

    calls: ClassVar[list[list[str]]] = []

    def run(self, argv: Any, timeout_s: float) -> Any:
        from eflowgpu.host.collector import RunResult

        FakeRunner.calls.append(list(argv))
        return RunResult(1, "", "not a Windows host (test)")


def test_collect_only_on_windows_runs_no_probe_and_no_transport(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    import eflowgpu.host.collector as collector
    import eflowgpu.orchestrate.transport as transport
    from eflowgpu.pytest_plugin import sources

    make_project(pytester.path, lab=None)
    vm_suite = shutil.ignore_patterns("__pycache__", "test_bench*")  # pytest-benchmark warns in-process
    shutil.copytree(VM_SUITE, pytester.path / "suites" / "vm", ignore=vm_suite)
    transports: list[str] = []
    monkeypatch.setattr(FakeRunner, "calls", [])
    monkeypatch.setattr(sources, "on_windows", lambda: True)
    monkeypatch.setattr(collector, "find_powershell", lambda **_: "pwsh.exe")
    monkeypatch.setattr(collector, "SubprocessRunner", FakeRunner)

    def no_transport(self: Any, **_: Any) -> Any:
        transports.append("eflow")
        raise transport.TransportError("no EFLOW VM here (test)")

    monkeypatch.setattr(transport.EflowTransport, "run", no_transport)

    listed = pytester.runpytest_inprocess("--collect-only", "-q", "--report-dir", "out")
    assert listed.ret == pytest.ExitCode.NO_TESTS_COLLECTED, "\n".join(listed.outlines[-20:])
    assert FakeRunner.calls == [] and transports == []
    assert not (pytester.path / "out" / "host-snapshot.json").exists()
    assert not (pytester.path / "out" / "compat-report.json").exists()  # nothing evaluated: no report

    ran = pytester.runpytest_inprocess("suites/host", "--report-dir", "out2")  # the control
    assert FakeRunner.calls, "the host suite probes the live host on Windows"
    assert all(call[0] == "pwsh.exe" for call in FakeRunner.calls)
    assert (pytester.path / "out2" / "host-snapshot.json").is_file()
    assert transports == []  # the host suite alone does not reach the VM
    assert "Live Windows host" in "\n".join(ran.outlines)


# --- site checks ---------------------------------------------------------------------------------

SITE_CHECKS = '''
"""Our lab's own checks."""

import pytest


def test_nvidia_pci_id(gpu, system):
    """The GPU has an NVIDIA PCI id."""
    assert gpu.pci_id.startswith("10DE:"), f"{gpu.name} has PCI id {gpu.pci_id}"


def test_server_edition(host):
    """Our lab certifies Windows Server hosts only."""
    edition = host.os.edition_id if host.os else None
    assert edition and edition.startswith("Server"), f"edition {edition} is not Windows Server"


@pytest.mark.recommended
def test_prefers_two_gpus(system):
    """We prefer hosts with two GPUs."""
    assert len(system.gpus) >= 2, f"{len(system.gpus)} GPU(s)"
'''
SITE_LAB = ("lab-t4-srv2022", "lab-rtx4070-win11ent", "lab-t4-srv2019")


@pytest.fixture(scope="module")
def site_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with three hosts and a folder of site checks outside suites/."""
    root = make_project(tmp_path_factory.mktemp("site"), files=[LAB / f"{s}.json" for s in SITE_LAB])
    (root / "lab_checks").mkdir()
    (root / "lab_checks" / "test_our_lab.py").write_text(SITE_CHECKS, encoding="utf-8")
    return root


def test_site_checks_land_in_every_report_for_every_gpu(site_project: Path) -> None:
    args = ("--host-snapshot", "lab", "--profile", GA, "suites", "lab_checks")
    run = run_pack(site_project, "out-site", *args)
    parallel = run_pack(site_project, "out-site-n2", *args, "-n", "2")
    assert without_time(run.report()) == without_time(parallel.report())
    report = run.report()
    gpus = [(s, g) for s in report["systems"] for g in s["gpus"]]
    assert len(gpus) >= 4
    for system, gpu in gpus:
        site = {c["id"]: c for c in gpu["criteria"] if c["id"].startswith("site.")}
        assert sorted(site) == ["site.nvidia_pci_id", "site.prefers_two_gpus", "site.server_edition"]
        nvidia = gpu["pci_id"].startswith("10DE:")  # LAB-T4-SRV2019 also has a Matrox display adapter
        assert site["site.nvidia_pci_id"]["status"] == ("pass" if nvidia else "fail")
        assert site["site.nvidia_pci_id"]["required"] is True
        server = system["host"].startswith("LAB-T4")
        assert site["site.server_edition"]["status"] == ("pass" if server else "fail"), system["host"]
        assert site["site.prefers_two_gpus"]["required"] is False
        assert site["site.prefers_two_gpus"]["status"] == ("pass" if len(system["gpus"]) >= 2 else "warn")
    rtx = next(g for s, g in gpus if s["host"] == "LAB-4070-W11ENT")
    fail = next(c for c in rtx["criteria"] if c["id"] == "site.server_edition")
    assert "is not Windows Server" in fail["detail"] and rtx["verdict"] == "not-eligible"
    page = (run.out / "report.html").read_text(encoding="utf-8")
    markdown = (run.out / "report.md").read_text(encoding="utf-8")
    assert "site.server_edition" in page and "is not Windows Server" in page
    assert "site.server\\_edition" in markdown and "is not Windows Server" in markdown
    cases = junit_cases(run.out / "junit.xml")
    site_cases = [c for c in cases if c.name.startswith("test_server_edition[")]
    assert len(site_cases) == len(gpus)
    assert "test_server_edition[LAB-4070-W11ENT-gpu0-rtx4070]" in [c.name for c in site_cases]
    assert {c.outcome for c in site_cases} == {"passed", "failed"}
    recommended = [c for c in cases if c.name.startswith("test_prefers_two_gpus[")]
    assert {c.outcome for c in recommended} == {"passed"}  # a recommendation warns
    allure = [json.loads(p.read_text()) for p in (run.out / "allure-results").glob("*-result.json")]
    assert sum(r["name"].startswith("test_server_edition[") for r in allure) == len(gpus)
    assert "site.server_edition fail" in run.stdout  # the pack's summary says why


def test_markers_select_by_passthrough_and_requirement(site_project: Path) -> None:
    run = run_pack(site_project, "out-m", "--host-snapshot", "lab", "--profile", GA, "--collect-only", "-q",
                   "-m", "dda and required", "suites", "lab_checks")  # fmt: skip
    ids = [line for line in run.stdout.splitlines() if "::" in line]
    assert ids and all("LAB-T4" in line for line in ids), ids  # only the DDA GPUs
    assert not any(
        "dda.mitigation_driver" in line or "prefers_two_gpus" in line for line in ids
    )  # recommended
    assert any("test_server_edition[LAB-T4-SRV2022" in line for line in ids)  # site checks are required


# --- one verdict per system, and --strict -----------------------------------------------------------


def test_strict_fails_a_run_whose_system_is_not_eligible(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, files=[LAB / "lab-t4-partial.json"])
    args = ("suites/host", "--host-snapshot", "lab", "--profile", PREVIEW, "--report-dir", "out")
    plain = pytester.runpytest_subprocess(*args)
    assert plain.ret == pytest.ExitCode.OK, "\n".join(plain.outlines[-20:])
    (system,) = json.loads((pytester.path / "out" / "compat-report.json").read_text())["systems"]
    assert system["verdict"] == "incomplete"
    strict = pytester.runpytest_subprocess(*args, "--strict")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    assert "--strict: 1 system(s) not eligible: the run fails" in "\n".join(strict.outlines)


def test_a_vm_failing_vm_driver_makes_its_system_not_eligible(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, files=[LAB / "lab-t4-srv2022.json"])
    shutil.copytree(VM_SUITE, pytester.path / "suites" / "vm", ignore=shutil.ignore_patterns("__pycache__"))
    text = (VMS / "vm-t4-srv2022-dda.json").read_text(encoding="utf-8")
    old = text.replace("535.104.05", "418.40.04").replace("<cuda_version>12.2", "<cuda_version>10.1")
    (pytester.path / "vm-old-driver.json").write_text(old, encoding="utf-8")
    result = pytester.runpytest_subprocess(
        "--host-snapshot",
        "lab",
        "--vm-snapshot",
        "vm-old-driver.json",
        "--profile",
        GA,
        "--report-dir",
        "out",
    )
    out = pytester.path / "out"
    (system,) = json.loads((out / "compat-report.json").read_text())["systems"]
    assert system["gpus"][0]["verdict"] == "eligible"  # the host alone would pass
    assert {c["id"]: c["status"] for c in system["vm"]["criteria"]}["vm.driver"] == "fail"
    assert system["verdict"] == "not-eligible"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'class="sys v-not-eligible" data-verdict="not-eligible"' in page  # the system line
    assert "once every required criterion passes:" in page  # the Deploy-Eflow command is not shown as ready
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "| **NOT ELIGIBLE** | LAB-T4-SRV2022 | NVIDIA Tesla T4 |" in markdown
    output = "\n".join(result.outlines)
    assert "SYSTEM NOT-ELIGIBLE LAB-T4-SRV2022" in output
    assert "vm.driver fail: the VM's driver 418.40.04" in output
    assert (
        output.rindex("EFLOW GPU compatibility") > output.rindex("short test summary")
        if ("short test summary" in output)
        else True
    )


def test_an_unreadable_vm_snapshot_is_an_error_of_the_vm_suite(joined_project: Path) -> None:
    run = run_pack(
        joined_project, "out-vm-error", "--vm-snapshot", "vms/vm-corrupt-truncated.json", "suites/vm"
    )
    cases = {c.name: c for c in junit_cases(joined_project / "out-vm-error" / "junit.xml")}
    case = cases["test_vm_snapshot[vm-corrupt-truncated]"]
    assert case.outcome == "error"
    assert "VM suite" not in case.name and "host" not in case.name
    assert run.report()["systems"][0]["verdict"] == "error"


# --- areas: criteria come from the library -----------------------------------------------------------


def test_every_criterion_lands_in_its_area_including_ones_added_later() -> None:
    from eflowgpu.criteria import HOST_CRITERIA
    from eflowgpu.pytest_plugin.areas import AREAS, area_of

    suites = {p.stem for p in (PROJECT / "suites").rglob("test_*.py")}
    for area in AREAS:  # every area has its suite file
        assert f"test_{area.name.replace('-', '_')}" in suites, area.name
    prefixes = {"os": "windows-release", "host": "host-platform", "dda": "dda-survey", "gpupv": "gpu-pv"}
    for criterion_id, _ in HOST_CRITERIA:
        assert area_of(criterion_id, "host") == prefixes.get(criterion_id.split(".")[0], "gpu-driver")
    # revision 2's new ids (issue 11) and an id nobody planned for
    assert area_of("gpupv.driver_model", "host") == "gpu-pv"
    assert area_of("dda.mmio", "host") == "dda-survey"
    assert area_of("host.eflow", "host") == "host-platform"
    assert area_of("firmware.secure_boot", "host") == "host-platform"
    assert area_of("vm.cuda_arch", "vm") == "driver" and area_of("vm.toolkit", "vm") == "driver"
    assert area_of("vm.new_check", "vm") == "health"


def test_a_suite_function_without_its_area_is_a_usage_error(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, files=[LAB / "lab-t4-srv2022.json"])
    (pytester.path / "suites" / "host" / "test_mine.py").write_text(
        "def test_mine(criterion):\n    criterion.check()\n", encoding="utf-8"
    )
    result = pytester.runpytest_subprocess("--host-snapshot", "lab", "--report-dir", "out")
    output = "\n".join(result.outlines + result.errlines)
    assert "test_mine: a 'criterion' test needs one @pytest.mark.area(NAME)" in output
    assert result.ret != pytest.ExitCode.OK


def test_under_xdist_this_machine_is_examined_once_and_joined_once(joined_project: Path) -> None:
    run = run_pack(joined_project, "out-vm-n2", "--matrix", "matrix.yaml", "suites/vm", "-n", "2")
    assert run.returncode == pytest.ExitCode.OK, run.stdout[-2000:]
    report = run.report()
    assert report["run"]["vm_mode"] == "live"
    (system,) = report["systems"]  # one worker examined the machine, the other took its snapshot
    assert system["vm"]["source"] == str(Path("out-vm-n2") / "vm-snapshot.json")
    assert not (run.out / ".eflowgpu-run").exists()  # the workers' hand-over files are gone
