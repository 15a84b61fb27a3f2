"""The whole sample lab's HTML report in headless Chromium: every system and GPU shown, no injected script.

The report is made the way the pack makes it (evaluate the snapshot files, build the report, write
the report files), then loaded in headless Chromium, whose ``--dump-dom`` prints the DOM after the
page has loaded: an injected element or a script that ran would show in it. Skipped where Chromium
is not installed (``apt-get install chromium``).
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from eflowgpu.evaluate import evaluate_host_files
from eflowgpu.matrix import load_matrix
from eflowgpu.report.files import write_reports
from eflowgpu.report.model import build_report
from eflowgpu.snapshot import snapshot_files

from helpers import CHROMIUM, PROJECT, dump_dom

LAB = PROJECT / "fixtures" / "hosts"
TITLE = "EFLOW GPU compatibility report"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (apt-get install -y chromium)"
)


class DomText(HTMLParser):
    """What the tests need from the dumped DOM: tags, event-handler attributes, title, cell texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: dict[str, int] = {}
        self.handlers: list[tuple[str, str, str | None]] = []
        self.title = ""
        self.text: list[str] = []
        self.cells: dict[str, list[str]] = {"host": [], "gpu": []}
        self._in_title = False
        self._cell: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg" and "bench-chart" in (dict(attrs).get("class") or "").split():
            tag = "bench-chart"  # the report's own chart; an injected <svg> is still counted as svg
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.handlers.extend((tag, name, value) for name, value in attrs if name.lower().startswith("on"))
        if tag == "title":
            self._in_title = True
        if self._cell is not None:
            self._depth += 1
        elif tag in ("td", "span"):
            classes = (dict(attrs).get("class") or "").split()
            kind = next((c for c in classes if c in self.cells), None)
            if kind is not None:
                self._cell, self._depth = kind, 1
                self.cells[kind].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self._cell is not None:
            self._depth -= 1
            if self._depth == 0:
                self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_title:
            self.title += data
        if self._cell is not None:
            self.cells[self._cell][-1] += data


@pytest.fixture(scope="module")
def lab_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """The whole sample lab judged by the default profile, written as the pack writes it."""
    matrix = load_matrix(PROJECT / "matrix.yaml")
    profile = matrix.profile(None)
    systems = evaluate_host_files(matrix, profile, snapshot_files([LAB]))
    report = build_report(matrix, profile, systems, run={"mode": "snapshots", "note": "the sample lab"})
    out = tmp_path_factory.mktemp("browser-report")
    write_reports(out, report)
    written: dict[str, Any] = json.loads((out / "compat-report.json").read_text(encoding="utf-8"))
    return written, out / "report.html"


@pytest.fixture(scope="module")
def dom(lab_report: tuple[dict[str, Any], Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    """The DOM headless Chromium ends up with after loading the lab's report.html."""
    _, page = lab_report
    return dump_dom(page, tmp_path_factory.mktemp("chromium-profile"))


@pytest.fixture(scope="module")
def parsed(dom: str) -> DomText:
    """The dumped DOM, parsed."""
    parser = DomText()
    parser.feed(dom)
    parser.close()
    return parser


def test_the_page_title_is_intact(parsed: DomText) -> None:
    assert parsed.title == TITLE


def test_every_system_is_shown(lab_report: tuple[dict[str, Any], Path], parsed: DomText) -> None:
    report, _ = lab_report
    assert len(report["systems"]) == len(list(LAB.glob("*.json")))
    for system in report["systems"]:
        assert any(system["host"] in cell for cell in parsed.cells["host"]), system["host"]
    text = "".join(parsed.text)
    for system in report["systems"]:
        if system["status"] == "error":
            assert system["error"] in text, system["host"]


def test_every_gpu_is_shown(lab_report: tuple[dict[str, Any], Path], parsed: DomText) -> None:
    report, _ = lab_report
    names = [gpu["name"] for system in report["systems"] for gpu in system["gpus"]]
    assert len(names) > 25
    for name in names:
        assert any(name in cell for cell in parsed.cells["gpu"]), name
    assert len(parsed.cells["gpu"]) == len(names)  # one GPU cell per GPU, nothing lost or added


def test_hostile_labels_are_text_and_nothing_runs(
    lab_report: tuple[dict[str, Any], Path], dom: str, parsed: DomText
) -> None:
    report, _ = lab_report
    hostile_file = LAB / "hostile-labels.json"
    host = json.loads(hostile_file.read_text(encoding="utf-8-sig"))["host"]
    assert "<img" in host
    assert any(host in cell for cell in parsed.cells["host"])
    (system,) = [s for s in report["systems"] if Path(s["source"]) == hostile_file]
    assert system["host"] == host
    gpu_names = [gpu["name"] for gpu in system["gpus"]]
    assert gpu_names and all("<img" in name for name in gpu_names)
    for name in gpu_names:
        assert any(name in cell for cell in parsed.cells["gpu"]), name

    assert dom.lower().count("<script") == 1  # the pack's own, pinned by hash in the CSP
    assert parsed.tags.get("script", 0) == 1
    assert parsed.tags.get("img", 0) == 0
    assert parsed.tags.get("svg", 0) == 0
    assert parsed.handlers == []  # no onerror=, onload=, ... attribute anywhere
