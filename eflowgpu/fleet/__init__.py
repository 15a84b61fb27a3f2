"""The fleet report: many ``compat-report.json`` files merged into one matrix of GPU model x release.

:func:`merge_reports` reads the reports (unreadable ones become input errors), :func:`with_baseline`
compares with an earlier ``fleet.json``, :func:`write_fleet` writes ``fleet.json``, ``fleet.html``
and ``fleet.md`` atomically.
"""

from __future__ import annotations

from eflowgpu.fleet.baseline import compare_with_baseline, load_baseline, with_baseline
from eflowgpu.fleet.document import fleet_json
from eflowgpu.fleet.html import render_fleet_html
from eflowgpu.fleet.load import find_reports
from eflowgpu.fleet.markdown import render_fleet_markdown
from eflowgpu.fleet.merge import merge_reports
from eflowgpu.fleet.model import FLEET_FORMAT, Fleet
from eflowgpu.fleet.write import write_fleet

__all__ = [
    "FLEET_FORMAT",
    "Fleet",
    "compare_with_baseline",
    "find_reports",
    "fleet_json",
    "load_baseline",
    "merge_reports",
    "render_fleet_html",
    "render_fleet_markdown",
    "with_baseline",
    "write_fleet",
]
