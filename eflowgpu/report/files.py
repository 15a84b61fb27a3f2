"""Writing a run's reports: the contract's JSON first, then the human reports beside it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eflowgpu.report.html import render_html
from eflowgpu.report.markdown import render_markdown
from eflowgpu.report.write import write_json_atomic, write_text_atomic

log = logging.getLogger(__name__)

JSON_NAME = "compat-report.json"
HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"


def write_reports(report_dir: Path, report: Mapping[str, Any]) -> list[Path]:
    """Write ``compat-report.json``, ``report.html`` and ``report.md`` into ``report_dir``.

    The JSON is written first and on its own, so that a failure of a human report never loses it.
    Returns the paths written.
    """
    written = []
    path = report_dir / JSON_NAME
    write_json_atomic(path, report)
    written.append(path)
    for name, render in ((HTML_NAME, render_html), (MARKDOWN_NAME, render_markdown)):
        target = report_dir / name
        try:
            write_text_atomic(target, render(report))
        except Exception:  # the JSON is safe; say what went wrong with the human report
            log.exception("could not write %s", target)
            continue
        written.append(target)
    return written
