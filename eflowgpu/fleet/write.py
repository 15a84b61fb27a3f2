"""Writing the fleet report's three files atomically (see :mod:`eflowgpu.report.write`)."""

from __future__ import annotations

from pathlib import Path

from eflowgpu.fleet.document import fleet_json
from eflowgpu.fleet.html import render_fleet_html
from eflowgpu.fleet.markdown import render_fleet_markdown
from eflowgpu.fleet.model import Fleet
from eflowgpu.report.write import write_json_atomic, write_text_atomic

FLEET_JSON = "fleet.json"
FLEET_HTML = "fleet.html"
FLEET_MD = "fleet.md"


def write_fleet(out: Path, fleet: Fleet) -> tuple[Path, Path, Path]:
    """Write ``fleet.json``, ``fleet.html`` and ``fleet.md`` into ``out``; return their paths."""
    paths = (out / FLEET_JSON, out / FLEET_HTML, out / FLEET_MD)
    write_json_atomic(paths[0], fleet_json(fleet))
    write_text_atomic(paths[1], render_fleet_html(fleet))
    write_text_atomic(paths[2], render_fleet_markdown(fleet))
    return paths
