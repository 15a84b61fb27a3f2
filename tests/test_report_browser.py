"""The HTML report in a real browser: headless Chromium renders every row and runs no script.

Chromium's ``--dump-dom`` prints the DOM after the page has loaded, so a script that ran (and
changed the title, or added an element) would show in it. Skipped where Chromium is not installed
(``apt-get install chromium``).
"""

from __future__ import annotations

import html
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from eflowgpu.report.html import render_html

from helpers import CHROMIUM, NO_CHROMIUM, dump_dom

TITLE = "EFLOW GPU compatibility report"
HOSTILE = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
HOSTILE_GPU = 'NVIDIA "Tesla" <svg onload=alert(2)> & T4'


pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason=NO_CHROMIUM,
)


class _Dom(HTMLParser):
    """What the tests need from the dumped DOM: element counts, the title and the GPU rows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: dict[str, int] = {}
        self.handlers: list[str] = []
        self.title = ""
        self.rows: list[str] = []
        self._in_title = False
        self._row_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg" and "bench-chart" in (dict(attrs).get("class") or "").split():
            tag = "bench-chart"  # the report's own chart; an injected <svg> is still counted as svg
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.handlers.extend(name for name, _ in attrs if name.startswith("on"))
        if tag == "title":
            self._in_title = True
        if tag == "tr":
            classes = (dict(attrs).get("class") or "").split()
            if self._row_depth:
                self._row_depth += 1
            elif "gpu-row" in classes:
                self._row_depth = 1
                self.rows.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag == "tr" and self._row_depth:
            self._row_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._row_depth:
            self.rows[-1] += data


def parse(dom: str) -> _Dom:
    parser = _Dom()
    parser.feed(dom)
    parser.close()
    return parser


def _system(host: str, gpus: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    system: dict[str, Any] = {
        "host": host,
        "source": f"fixtures/hosts/{host}.json",
        "status": "ok",
        "error": None,
        "os": {"edition": "ServerDatacenter", "build": 17763, "ubr": 5458, "installation_type": "Server"},
        "gpus": gpus,
        "vm": None,
    }
    system.update(extra)
    return system


def _gpu(name: str, verdict: str) -> dict[str, Any]:
    status = "fail" if verdict == "not-eligible" else "pass"
    return {
        "name": name,
        "pci_id": "10DE:1EB8",
        "subsys_id": "10DE:12A2",
        "model": "t4",
        "passthrough": "DDA",
        "verdict": verdict,
        "criteria": [
            {"id": "os.build", "status": "pass", "required": True, "detail": "build 17763 >= 17763"},
            {"id": "dda.acs", "status": status, "required": True, "detail": f"<i>{name}</i> upstream ACS"},
        ],
        "deploy_hint": (
            f'Deploy-Eflow -gpuPassthroughType DirectDeviceAssignment -gpuName "{name}" -gpuCount 1'
        ),
    }


def make_report() -> dict[str, Any]:
    """A small lab with a hostile host label, every kind of row and a VM block."""
    vm = {
        "passthrough": "DDA",
        "criteria": [{"id": "vm.passthrough", "status": "pass", "required": True, "detail": HOSTILE}],
        "benchmarks": [
            {"id": "h2d_pinned", "value": 12.4, "unit": "GB/s", "reference": 13.0, "status": "pass"}
        ],
    }
    return {
        "format": "eflow-gpu-report/1",
        "generated_at": "2026-11-20T10:30:00Z",
        "run": {"mode": "sample-lab", "note": "Example snapshots, not a real host."},
        "matrix": {"path": "matrix.yaml", "profile": "preview-2021-06", "sha256": "0" * 64},
        "systems": [
            _system("LAB-T4-01", [_gpu("NVIDIA Tesla T4", "eligible")], vm=vm),
            _system(
                HOSTILE, [_gpu(HOSTILE_GPU, "not-eligible"), _gpu("NVIDIA A2", "eligible-with-warnings")]
            ),
            _system("LAB-NOGPU", []),
            {
                "host": "broken-file",
                "source": "fixtures/hosts/broken-file.json",
                "status": "error",
                "error": "not valid JSON: <b>line 3</b>",
                "os": None,
                "gpus": [],
                "vm": None,
            },
        ],
    }


EXPECTED_ROWS = [
    ("LAB-T4-01", "NVIDIA Tesla T4"),
    (HOSTILE, HOSTILE_GPU),
    (HOSTILE, "NVIDIA A2"),
    ("LAB-NOGPU", "no GPU found"),
    ("broken-file", "not valid JSON: <b>line 3</b>"),
]


def test_browser_shows_every_row_and_runs_no_script(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(make_report()), encoding="utf-8")
    dom = dump_dom(page, tmp_path / "profile")
    parsed = parse(dom)

    assert parsed.title == TITLE  # the hostile label's script would have changed it
    assert "pwned" not in parsed.title
    assert "<script" not in dom.lower()
    assert parsed.tags.get("script", 0) == 0
    assert parsed.tags.get("img", 0) == 0
    assert parsed.tags.get("svg", 0) == 0
    assert parsed.tags.get("b", 0) == 0
    assert parsed.tags.get("i", 0) == 0
    assert parsed.handlers == []

    # the hostile strings are shown as text: the browser serialises them back escaped
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in dom
    assert html.escape(HOSTILE_GPU, quote=False) in dom

    assert len(parsed.rows) == len(EXPECTED_ROWS)
    for row, (host, second) in zip(parsed.rows, EXPECTED_ROWS, strict=True):
        assert host in row
        assert second in row
    assert "Example snapshots, not a real host." in dom
    assert dom.count('class="criteria"') == 3
    assert dom.count('class="vm-block"') == 1


def test_browser_csp_blocks_a_script_that_slips_in(tmp_path: Path) -> None:
    """Even if a future change let a script into the page, the CSP would stop it from running."""
    rendered = render_html(make_report())
    injected = rendered.replace("</title>", "</title><script>document.title='pwned'</script>", 1).replace(
        "</body>", "<script>document.body.dataset.ran='yes'</script></body>", 1
    )
    page = tmp_path / "report.html"
    page.write_text(injected, encoding="utf-8")
    dom = dump_dom(page, tmp_path / "profile")
    assert parse(dom).title == TITLE
    assert "data-ran" not in dom


def test_browser_would_notice_a_script(tmp_path: Path) -> None:
    """Control: without the CSP, Chromium does run the script and the test method sees it."""
    page = tmp_path / "control.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><title>{TITLE}</title>"
        "<script>document.title='pwned'</script></head><body></body></html>",
        encoding="utf-8",
    )
    assert parse(dump_dom(page, tmp_path / "profile")).title == "pwned"
