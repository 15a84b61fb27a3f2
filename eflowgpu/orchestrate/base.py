"""What every transport shares: the protocol, what a run brings back, and its one-line error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from eflowgpu.errors import EflowGpuError
from eflowgpu.host.collector import RunResult

Level = Literal["quick", "standard", "long"]
LEVELS: tuple[Level, ...] = ("quick", "standard", "long")
PASSTHROUGH = ("DDA", "GPU-PV")


class TransportError(EflowGpuError):
    """The in-VM suite could not be run or its results could not be brought back (one line)."""


@dataclass(frozen=True)
class VmRun:
    """What came back: the VM snapshot, the in-VM run's report (benchmarks), and its output."""

    snapshot: dict[str, Any]
    report: dict[str, Any] | None
    log: str = ""


class VmTransport(Protocol):
    """Runs the in-VM suite and returns its results."""

    name: str

    def run(self, *, level: Level, expect_passthrough: str | None, timeout_s: float) -> VmRun:
        """Run the in-VM suite; raise :class:`TransportError` with what to do when it cannot."""
        ...


def check_options(level: str, expect_passthrough: str | None) -> None:
    """Refuse a level or passthrough type outside the fixed choices (they reach commands)."""
    if level not in LEVELS:
        raise TransportError(f"unknown level {level!r} (expected one of {', '.join(LEVELS)})")
    if expect_passthrough is not None and expect_passthrough not in PASSTHROUGH:
        raise TransportError(f"unknown passthrough type {expect_passthrough!r}")


def json_object(text: str, what: str) -> dict[str, Any]:
    """The JSON object in ``text``, read from its first ``{`` (``sudo`` may print before it)."""
    clean = text.lstrip("\ufeff")
    start = clean.find("{")
    if start < 0:
        raise TransportError(f"{what} is not JSON: no object in {clean.strip()[:80]!r}")
    try:
        data = json.loads(clean[start:])
    except ValueError as exc:
        raise TransportError(f"{what} is not JSON: {str(exc)[:120]}") from exc
    if not isinstance(data, dict):
        raise TransportError(f"{what} is not a JSON object")
    return data


def tail(result: RunResult, lines: int = 5) -> str:
    """The last ``lines`` non-blank lines of a command's output, joined on one line."""
    text = (result.stdout + "\n" + result.stderr).strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:] if line.strip())
