"""Guarding a pack run against faults around it: an unwritable report folder, SIGTERM.

Called once, from the plugin's ``pytest_configure``, before any work is done:

- a report folder that cannot be created or written is a one-line usage error naming it
  (:func:`~eflowgpu.report.files.report_dir_problem`), not a traceback at the end of the run;
- SIGTERM (what CI systems, ``timeout`` and service managers send to stop a run) interrupts the
  run the way Ctrl-C (SIGINT) does, so pytest finishes the session and the reports are written.
  Further SIGTERMs while the run winds down are ignored (SIGKILL still stops it); the previous
  handler is restored when the run ends.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import pytest

from eflowgpu.pytest_plugin.options import report_dir_of
from eflowgpu.report.files import report_dir_problem


class Terminated(KeyboardInterrupt):
    """The run received SIGTERM: pytest treats it as an interruption and still writes the reports."""


def guard_run(config: pytest.Config) -> None:
    """Check the report folder (controller only) and make SIGTERM interrupt the run."""
    if not hasattr(config, "workerinput"):
        problem = report_dir_problem(report_dir_of(config))
        if problem is not None:
            raise pytest.UsageError(problem)
    interrupt_on_sigterm(config)


def interrupt_on_sigterm(config: pytest.Config) -> None:
    """Raise :class:`Terminated` in the main thread on SIGTERM until the run ends."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        return
    previous = signal.getsignal(signal.SIGTERM)

    def terminate(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the reports be written
        raise Terminated(f"interrupted by {signal.Signals(signum).name}")

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    signal.signal(signal.SIGTERM, terminate)
    config.add_cleanup(restore)
