"""Writing a run's reports: the contract's JSON first, then the human reports beside it.

Also the check that the report folder can be written at all, made before any work is done, so that
a read-only or misnamed folder is one line at the start instead of a traceback at the end.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from eflowgpu.report.html import render_html
from eflowgpu.report.markdown import render_markdown
from eflowgpu.report.write import write_json_atomic, write_text_atomic
from eflowgpu.textsafe import strict_json

log = logging.getLogger(__name__)

JSON_NAME = "compat-report.json"
HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def write_reports(
    report_dir: Path, report: Mapping[str, Any], *, tell: Callable[[str], None] = _say
) -> list[Path]:
    """Write ``compat-report.json``, ``report.html`` and ``report.md`` into ``report_dir``.

    The JSON is written first and on its own, so that a failure of a human report never loses it.
    A file that cannot be written (disk full, permissions) is named on one line through ``tell``
    (stderr by default) and the others are still attempted. Returns the paths written.
    """
    report = strict_json(report)  # one readable, strict document for every writer and renderer
    written = []
    path = report_dir / JSON_NAME
    try:
        write_json_atomic(path, report, made_strict=True)
        written.append(path)
    except OSError as exc:
        tell(f"eflowgpu: could not write {path}: {_reason(exc)}")
    for name, render in ((HTML_NAME, render_html), (MARKDOWN_NAME, render_markdown)):
        target = report_dir / name
        try:
            text = render(report)
        except Exception as exc:  # the JSON is safe; say what went wrong with the human report
            log.exception("could not render %s", target)
            tell(
                f"eflowgpu: internal error in the pack while rendering {target} "
                f"({type(exc).__name__}); please report it. {JSON_NAME} is complete"
            )
            continue
        try:
            write_text_atomic(target, text)
        except OSError as exc:
            tell(f"eflowgpu: could not write {target}: {_reason(exc)}")
            continue
        written.append(target)
    return written


def _reason(exc: OSError) -> str:
    return exc.strerror or errno.errorcode.get(exc.errno or 0, "") or str(exc)


def report_dir_problem(report_dir: Path) -> str | None:
    """Why reports cannot be written into ``report_dir`` (one line naming it), or None when they can.

    The folder (and its parents) is created when missing, and a probe file is created and removed,
    so a read-only folder, a full disk's refusal to create files, or a parent that is a file shows up
    before any work is done.
    """
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return f"--report-dir {report_dir}: exists and is not a folder"
    except OSError as exc:
        return f"--report-dir {report_dir}: cannot create the folder: {_reason(exc)}"
    if not report_dir.is_dir():
        return f"--report-dir {report_dir}: exists and is not a folder"
    probe = report_dir / f".eflowgpu-write-check.{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"--report-dir {report_dir}: cannot write reports there: {_reason(exc)}"
    return None
