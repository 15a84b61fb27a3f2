"""The containment boundary: everything done for one system runs inside :func:`contained`.

Whatever one snapshot does to the pack (bad data the parsers did not expect, a value out of range,
a bug in a rule) must cost that system only: the system becomes an ``error`` with one line a person
can act on, and every other system is judged as if it were not there. Two kinds of failure are told
apart, because they ask different people to act:

- **bad input** (:class:`~eflowgpu.errors.SnapshotError`, with :class:`InputLimitError` for a
  snapshot over one of the limits below): the line says what is wrong with the snapshot;
- **an internal error** (any other exception): the line says the pack failed and asks for a report,
  naming the step and the exception, so that a defect never poses as a problem of the snapshot.

Host systems and VMs use the same helper (:mod:`eflowgpu.evaluate`, :mod:`eflowgpu.vm.evaluate`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from eflowgpu.errors import SnapshotError
from eflowgpu.textsafe import neutral

log = logging.getLogger(__name__)

T = TypeVar("T")
F = TypeVar("F")

MAX_GPUS = 64
"""GPUs one system (host or VM) may have; real hosts have at most 16."""
MAX_DEVICES = 1024
"""Entries of one device list of a host probe (video controllers, DDA survey, assignable, partitionable)."""
MAX_PCI_FUNCTIONS = 4096
"""PCI functions a VM snapshot may list."""
MAX_REASON = 300
"""Characters of an error line taken from an exception's message."""


class InputLimitError(SnapshotError):
    """A snapshot over one of the pack's limits on counts (bad input, not a defect)."""


def check_count(what: str, count: int, limit: int) -> None:
    """Raise :class:`InputLimitError` when ``count`` of ``what`` is over ``limit``."""
    if count > limit:
        raise InputLimitError(f"{count} {what}, over the pack's limit of {limit} per system")


def contained(
    step: str,
    work: Callable[[], T],
    failed: Callable[[str], F],
    *,
    source: str = "",
    evidence: str = "the snapshot",
) -> T | F:
    """``work()``, or ``failed(reason)`` with a one-line reason when it raises.

    ``step`` names what was being done (``evaluating this host snapshot``) for the internal-error
    line, ``evidence`` what to send with a report of it; ``source`` names the input in the log.
    Only :class:`Exception` is contained: KeyboardInterrupt and SystemExit stop the run as asked.
    """
    try:
        return work()
    except SnapshotError as exc:
        return failed(one_line(str(exc)))
    except RecursionError:
        return failed("the snapshot is nested too deeply to be read")
    except MemoryError:
        return failed("the snapshot needs more memory than this machine has to be read")
    except Exception as exc:  # a defect must not lose the other systems: reported, not hidden
        log.exception("internal error while %s (%s)", step, source)
        return failed(internal_error(step, exc, evidence))


def internal_error(step: str, exc: BaseException, evidence: str = "the snapshot") -> str:
    """The line of an internal defect: distinct from any input problem, asking for a report."""
    message = one_line(str(exc))
    shown = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return f"internal error in the pack while {step} ({shown}); please report it with {evidence}"


def one_line(text: str) -> str:
    """``text`` on one bounded, printable line (whitespace runs collapsed)."""
    return neutral(" ".join(text.split()), MAX_REASON)
