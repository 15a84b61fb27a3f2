"""The fleet HTML in a real browser: headless Chromium shows every cell right and runs no script.

The page is the sample lab merged under both profiles (the preview hosts relabelled, so cells hold
systems of both) plus a report with hostile labels. Chromium's ``--dump-dom`` gives the DOM after
loading; every matrix cell's count and verdict text is checked against the fleet, and so is its
link target. Skipped where Chromium is not installed (``apt-get install chromium``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from eflowgpu.evaluate import evaluate_host_files
from eflowgpu.fleet import merge_reports, write_fleet
from eflowgpu.fleet.html import TITLE
from eflowgpu.matrix import load_matrix
from eflowgpu.report.htmlscript import script_hash
from eflowgpu.report.labels import verdict_label
from eflowgpu.report.model import build_report

from helpers import CHROMIUM, NO_CHROMIUM, PROJECT, dump_dom

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)

HOSTILE = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"


class _Dom(HTMLParser):
    """The matrix cells (attributes and text), the ids, the tags and any event handler."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: dict[str, int] = {}
        self.handlers: list[str] = []
        self.ids: set[str] = set()
        self.cells: list[dict[str, Any]] = []
        self.title = ""
        self._in_title = False
        self._cell_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.handlers.extend(name for name, _ in attrs if name.startswith("on"))
        if found.get("id"):
            self.ids.add(found["id"] or "")
        if tag == "title" and not self.cells:
            self._in_title = True
        if tag == "td" and "cell" in (found.get("class") or "").split():
            self._cell_depth = 1
            self.cells.append({"attrs": found, "text": "", "href": None})
        elif self._cell_depth and tag == "a":
            self.cells[-1]["href"] = found.get("href")
        elif self._cell_depth and tag == "span":
            self.cells[-1]["text"] += " "

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag == "td":
            self._cell_depth = 0

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._cell_depth:
            self.cells[-1]["text"] += data


def _lab(profile: str, day: int, suffix: str) -> dict[str, Any]:
    matrix = load_matrix(PROJECT / "matrix.yaml")
    chosen = matrix.profile(profile)
    hosts = sorted((PROJECT / "fixtures" / "hosts").glob("*.json"))
    when = datetime(2026, 1, day, tzinfo=UTC)
    report = build_report(matrix, chosen, evaluate_host_files(matrix, chosen, hosts), generated_at=when)
    for system in report["systems"]:
        system["host"] += suffix
    return report


def _hostile() -> dict[str, Any]:
    gpu = {"name": HOSTILE, "pci_id": "10DE:1EB8", "model": None, "brand": None, "verdict": "incomplete"}
    os_info = {"name": HOSTILE, "edition": "Pro\"'><b>", "build": 22631, "ubr": 1, "installation_type": None}
    system = {"host": HOSTILE, "source": HOSTILE, "status": "ok", "error": None, "os": os_info, "gpus": [gpu]}
    return {"format": "eflow-gpu-report/1", "generated_at": "2026-02-01T00:00:00Z", "systems": [system]}


def test_fleet_html_in_chromium(tmp_path: Path) -> None:
    paths = []
    for name, document in (
        ("preview", _lab("preview-2021-06", 1, "-P")),
        ("ga", _lab("ga-2022-06", 2, "")),
        ("hostile", _hostile()),
    ):
        path = tmp_path / "in" / name / "compat-report.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(document), encoding="utf-8")
        paths.append(path)
    fleet = merge_reports(paths, mix_profiles=True)
    write_fleet(tmp_path / "out", fleet)
    dom = _Dom()
    dom.feed(dump_dom(tmp_path / "out" / "fleet.html", tmp_path / "profile"))
    dom.close()

    assert dom.title == TITLE
    assert not dom.handlers
    assert "script" not in dom.tags and "img" not in dom.tags and "b" not in dom.tags
    assert len(dom.cells) == len(fleet.cells) == 73  # one row per model and profile
    for shown, cell in zip(dom.cells, fleet.cells, strict=True):
        words = " ".join(shown["text"].split())
        noun = "system" if cell.count == 1 else "systems"
        best, worst = verdict_label(cell.best).text, verdict_label(cell.worst).text
        assert words == f"{cell.count} {noun} best: {best} worst: {worst}", cell.id
        assert shown["attrs"]["data-count"] == str(cell.count)
        assert shown["attrs"]["data-worst"] == cell.worst
        assert f"b-{verdict_label(cell.worst).key}" in (shown["attrs"]["class"] or "").split()
        assert shown["href"] == f"#{cell.id}"
        assert cell.id in dom.ids
    t4 = next(
        s
        for s, c in zip(dom.cells, fleet.cells, strict=True)
        if c.id.startswith("cell-t4-ga-2022-06--windows-server-2022-serverd")
    )
    assert " ".join(t4["text"].split()) == "4 systems best: eligible with warnings worst: not eligible"
    assert dom.tags.get("svg", 0) >= 1


_WIDTH_PROBE = (
    "document.body.setAttribute('data-probe', document.documentElement.scrollWidth + ' ' + "
    "window.innerWidth + ' ' + document.querySelector('table.matrix').getBoundingClientRect().right);"
)


def test_fleet_matrix_does_not_scroll_sideways_at_1400_px(tmp_path: Path) -> None:
    """Both profiles of the lab, mixed on purpose: the widest matrix the lab gives fits 1400 px."""
    paths = []
    for name, document in (("preview", _lab("preview-2021-06", 1, "-P")), ("ga", _lab("ga-2022-06", 2, ""))):
        path = tmp_path / "in" / name / "compat-report.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(document), encoding="utf-8")
        paths.append(path)
    write_fleet(tmp_path / "out", merge_reports(paths, mix_profiles=True))
    page = (tmp_path / "out" / "fleet.html").read_text(encoding="utf-8")
    policy = "default-src 'none';"
    assert policy in page  # a probe script is allowed only by its own hash, in a copy of the page
    probe = page.replace(policy, f"{policy} script-src {script_hash(_WIDTH_PROBE)};", 1).replace(
        "</body>", f"<script>{_WIDTH_PROBE}</script></body>", 1
    )
    (tmp_path / "probe.html").write_text(probe, encoding="utf-8")
    dom = dump_dom(tmp_path / "probe.html", tmp_path / "profile", window=(1400, 900))
    scroll, width, right = (float(v) for v in dom.split('data-probe="', 1)[1].split('"', 1)[0].split())
    assert width == 1400
    assert scroll <= width and right <= width
