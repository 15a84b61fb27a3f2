"""Waivers (errata): the file's validation, applying them, the ``waived`` status in every report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from eflowgpu.criteria import Criterion, Status, Verdict, WaiverNote, verdict_of
from eflowgpu.evaluate import SystemResult, evaluate_host_file
from eflowgpu.matrix import Matrix
from eflowgpu.report.html import render_html
from eflowgpu.report.markdown import render_markdown
from eflowgpu.report.model import build_report
from eflowgpu.waivers import WaiversError, apply_waivers, load_waivers, parse_entries

from helpers import PROJECT

NOACS = PROJECT / "fixtures" / "hosts" / "lab-t4-noacs.json"
LINEIRQ = PROJECT / "fixtures" / "hosts" / "lab-t4-lineirq.json"

ACS_FILE = PROJECT / "tests" / "data" / "waivers" / "acs.yaml"
ACS_WAIVER = ACS_FILE.read_text(encoding="utf-8").split("waivers:\n", 1)[1]
EXPIRED_WAIVER = """\
  - id: W-2020-OLD
    criterion: dda.interrupts
    gpu: 10DE:1EB8
    host: lab-t4-*
    reason: an old erratum
    approved_by: certification@example.com
    expires: 2020-01-01
"""


def waivers_file(
    tmp_path: Path, *entries: str, head: str = "format: eflow-gpu-waivers/1\nwaivers:\n"
) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(head + "".join(entries), encoding="utf-8")
    return path


def judged(matrix: Matrix, *paths: Path) -> list[SystemResult]:
    profile = matrix.profile(None)
    return [evaluate_host_file(matrix, profile, path) for path in paths]


def criterion(system: SystemResult, criterion_id: str) -> Criterion:
    return next(c for c in system.gpus[0].criteria if c.id == criterion_id)


# --- the vocabulary --------------------------------------------------------------------------------


def test_waived_counts_as_pass_for_the_verdict_and_carries_its_waiver() -> None:
    note = WaiverNote("W-1", "known false failure", "cert@example.com", "2099-01-01")
    waived = Criterion("dda.acs", Status.WAIVED, True, "ACS missing", waiver=note)
    passed = Criterion("os.build", Status.PASS, True, "ok")
    assert verdict_of([waived, passed]) is Verdict.ELIGIBLE
    assert (
        verdict_of([Criterion("dda.acs", Status.FAIL, True, "ACS missing"), passed]) is Verdict.NOT_ELIGIBLE
    )
    assert waived.to_dict()["status"] == "waived"
    assert waived.to_dict()["waiver"] == {
        "id": "W-1",
        "reason": "known false failure",
        "approved_by": "cert@example.com",
        "expires": "2099-01-01",
    }
    assert "waiver" not in passed.to_dict()


# --- the file --------------------------------------------------------------------------------------


def test_a_valid_file_loads_every_field(tmp_path: Path) -> None:
    waivers = load_waivers(waivers_file(tmp_path, ACS_WAIVER, EXPIRED_WAIVER))
    first, second = waivers.waivers
    assert (first.id, first.criterion, first.gpu, first.host) == (
        "W-2026-001",
        "dda.acs",
        "t4",
        "LAB-T4-NOACS",
    )
    assert first.expires == date(2099, 6, 30)
    assert first.line == 3
    assert second.gpu == "10DE:1EB8"
    assert len(waivers.sha256) == 64


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    expires: 2099-06-30\n",
            "    expires: next year\n",
            r"waivers.yaml:9: waivers\[0\].expires: expected a date",
        ),
        ("    gpu: t4\n", "    gpu: 10DE-1EB8:x\n", r":5: waivers\[0\].gpu: .* neither a model key"),
        (
            "    criterion: dda.acs\n",
            "    criterion: gpu.supported\n",
            r":4: waivers\[0\].criterion: .*cannot be waived",
        ),
        (
            "    criterion: dda.acs\n",
            "    criterion: ACS\n",
            r":4: waivers\[0\].criterion: 'ACS' is not a criterion id",
        ),
        ("    reason: ACS", "    why: ACS", r":7: waivers\[0\].why: unknown key"),
        (
            "    approved_by: certification@example.com\n",
            "",
            r":3: waivers\[0\]: missing required key 'approved_by'",
        ),
        ("    host: LAB-T4-NOACS\n", "    host: LAB-T4-NOACS\n    host: again\n", r":7: .*duplicate key"),
    ],
)
def test_a_malformed_entry_names_file_line_and_field(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    path = waivers_file(tmp_path, ACS_WAIVER.replace(old, new))
    with pytest.raises(WaiversError, match=expected):
        load_waivers(path)


def test_file_level_problems_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(WaiversError, match=r"duplicate id 'W-2026-001' \(first on line 3\)"):
        load_waivers(waivers_file(tmp_path, ACS_WAIVER, ACS_WAIVER))
    with pytest.raises(WaiversError, match=r":1: format: expected 'eflow-gpu-waivers/1'"):
        load_waivers(waivers_file(tmp_path, ACS_WAIVER, head="format: other/2\nwaivers:\n"))
    with pytest.raises(WaiversError, match="not valid YAML"):
        load_waivers(waivers_file(tmp_path, "  - id: [unclosed\n"))
    with pytest.raises(WaiversError, match="cannot read the waivers file"):
        load_waivers(tmp_path / "missing.yaml")


# --- applying them ---------------------------------------------------------------------------------


def test_a_waiver_for_dda_acs_on_the_no_acs_host_waives_it_and_the_verdict_follows(
    tmp_path: Path, matrix: Matrix
) -> None:
    systems = judged(matrix, NOACS, LINEIRQ)
    assert criterion(systems[0], "dda.acs").status is Status.FAIL
    assert systems[0].gpus[0].verdict is Verdict.NOT_ELIGIBLE
    waivers = load_waivers(waivers_file(tmp_path, ACS_WAIVER))
    waived, outcome = apply_waivers(systems, waivers, date(2026, 12, 1))
    acs = criterion(waived[0], "dda.acs")
    assert acs.status is Status.WAIVED
    assert acs.waiver is not None and acs.waiver.id == "W-2026-001"
    others = [c for c in waived[0].gpus[0].criteria if c.id != "dda.acs"]
    assert waived[0].gpus[0].verdict is verdict_of(others)  # as if the criterion had passed
    assert waived[0].gpus[0].verdict in (Verdict.ELIGIBLE, Verdict.ELIGIBLE_WITH_WARNINGS)
    assert waived[1] == systems[1]  # another host: untouched
    assert [a.to_dict() for a in outcome.applied] == [
        {
            "waiver": "W-2026-001",
            "host": "LAB-T4-NOACS",
            "gpu": "NVIDIA Tesla T4",
            "pci_id": "10DE:1EB8",
            "criterion": "dda.acs",
        }
    ]
    assert outcome.expired == () and outcome.unmatched == ()


def test_an_expired_waiver_does_not_apply_and_is_reported(tmp_path: Path, matrix: Matrix) -> None:
    systems = judged(matrix, LINEIRQ)
    assert criterion(systems[0], "dda.interrupts").status is Status.FAIL
    waivers = load_waivers(waivers_file(tmp_path, EXPIRED_WAIVER, ACS_WAIVER))
    waived, outcome = apply_waivers(systems, waivers, date(2026, 12, 1))
    assert criterion(waived[0], "dda.interrupts").status is Status.FAIL
    assert waived[0].gpus[0].verdict is Verdict.NOT_ELIGIBLE
    assert [w.id for w in outcome.expired] == ["W-2020-OLD"]
    assert [w.id for w in outcome.unmatched] == ["W-2026-001"]  # its host is not in this run
    summary = outcome.summary()
    assert "0 failure(s) waived" in summary
    assert "expired, not applied: W-2020-OLD (expired 2020-01-01)" in summary
    assert "matched no failure: W-2026-001" in summary
    # On its last day it still applies (host pattern and PCI id match, case-insensitively).
    waived, outcome = apply_waivers(systems, waivers, date(2020, 1, 1))
    assert criterion(waived[0], "dda.interrupts").status is Status.WAIVED
    assert [a.waiver for a in outcome.applied] == ["W-2020-OLD"]


def test_waivers_never_turn_a_pass_warning_or_unknown_into_waived(tmp_path: Path, matrix: Matrix) -> None:
    entry = ACS_WAIVER.replace("dda.acs", "dda.mitigation_driver").replace("LAB-T4-NOACS", '"*"')
    systems = judged(matrix, NOACS)
    waived, outcome = apply_waivers(systems, load_waivers(waivers_file(tmp_path, entry)), date(2026, 12, 1))
    assert waived == systems
    assert [w.id for w in outcome.unmatched] == ["W-2026-001"]


def test_the_report_records_applied_waivers_and_they_read_back(tmp_path: Path, matrix: Matrix) -> None:
    waivers = load_waivers(waivers_file(tmp_path, ACS_WAIVER, EXPIRED_WAIVER))
    _, outcome = apply_waivers(judged(matrix, NOACS), waivers, date(2026, 12, 1))
    section = outcome.to_dict()
    assert section["judged_on"] == "2026-12-01"
    assert section["expired"] == [{"id": "W-2020-OLD", "expires": "2020-01-01"}]
    again = parse_entries(section["entries"], "compat-report.json")
    assert [w.to_dict() for w in again.waivers] == [w.to_dict() for w in waivers.waivers]


# --- rendering: waived is visible, never a pass ----------------------------------------------------


def test_html_and_markdown_show_waived_with_its_waiver(tmp_path: Path, matrix: Matrix) -> None:
    waivers = load_waivers(waivers_file(tmp_path, ACS_WAIVER))
    systems, outcome = apply_waivers(judged(matrix, NOACS), waivers, date(2026, 12, 1))
    report = build_report(matrix, matrix.profile(None), systems) | {"waivers": outcome.to_dict()}
    page = render_html(report)
    assert "PASS" not in page[page.index("c-waived") : page.index("c-waived") + 200]
    assert '<tr class="c-waived">' in page
    assert "waived: dda.acs" in page
    assert "waived by W-2026-001 (approved by certification@example.com, expires 2099-06-30)" in page
    assert "<h2>Waivers</h2>" in page
    markdown = render_markdown(report)
    assert "dda.acs (waived)" in markdown
    assert "## Waivers" in markdown
    assert "W-2026-001: LAB-T4-NOACS / NVIDIA Tesla T4 / dda.acs waived" in markdown


# --- the pack's --waivers option -------------------------------------------------------------------


def run_pack(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "suites/host",
        "-p",
        "no:allure_pytest",
        "--report-dir",
        str(out),
    ]
    return subprocess.run(
        [*command, *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_pack_applies_waivers_in_every_report(tmp_path: Path) -> None:
    path = waivers_file(tmp_path, ACS_WAIVER, EXPIRED_WAIVER)
    out = tmp_path / "reports"
    done = run_pack(
        out, "--host-snapshot", str(NOACS), "--host-snapshot", str(LINEIRQ), "--waivers", str(path)
    )
    assert done.returncode == 1, done.stdout[-2000:]  # LINEIRQ still fails: its waiver has expired
    assert "waivers " in done.stdout and "1 failure(s) waived (W-2026-001)" in done.stdout
    assert "expired, not applied: W-2020-OLD" in done.stdout
    report: dict[str, Any] = json.loads((out / "compat-report.json").read_text(encoding="utf-8"))
    noacs = next(s for s in report["systems"] if s["host"] == "LAB-T4-NOACS")
    acs = next(c for c in noacs["gpus"][0]["criteria"] if c["id"] == "dda.acs")
    assert acs["status"] == "waived" and acs["waiver"]["id"] == "W-2026-001"
    assert noacs["gpus"][0]["verdict"] in ("eligible", "eligible-with-warnings")
    assert [a["waiver"] for a in report["waivers"]["applied"]] == ["W-2026-001"]
    assert report["waivers"]["expired"] == [{"id": "W-2020-OLD", "expires": "2020-01-01"}]
    junit = (out / "junit.xml").read_text(encoding="utf-8")
    case = junit[junit.index("LAB-T4-NOACS-gpu0-t4-dda.acs") :]
    case = case[: case.index("</testcase>")]
    assert '<property name="status" value="waived" />' in case
    assert 'type="pytest.xfail"' in case and "waived by W-2026-001" in case  # not a pass


def test_a_malformed_waivers_file_is_a_usage_error(tmp_path: Path) -> None:
    path = waivers_file(tmp_path, ACS_WAIVER.replace("2099-06-30", "soon"))
    done = run_pack(tmp_path / "reports", "--host-snapshot", str(NOACS), "--waivers", str(path))
    assert done.returncode == 4
    assert "--waivers:" in done.stderr and "waivers.yaml:9: waivers[0].expires" in done.stderr
