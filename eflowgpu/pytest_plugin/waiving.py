"""The pack's ``--waivers FILE`` option: apply a certifier's waivers to the run's evaluated systems.

The run holds one :class:`RunWaivers`; the session applies it to its systems once (one call), adds
its section to ``compat-report.json`` and prints its summary line at the end of the run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest

from eflowgpu.errors import MatrixError
from eflowgpu.evaluate import SystemResult
from eflowgpu.waivers import WaiverOutcome, WaiverSet, apply_waivers, load_waivers


@dataclass
class RunWaivers:
    """The run's waivers (or none) and, once applied, what they did."""

    waivers: WaiverSet | None
    today: date
    outcome: WaiverOutcome | None = field(default=None)

    @classmethod
    def from_config(cls, config: pytest.Config) -> RunWaivers:
        """Load ``--waivers FILE``; a malformed file is a usage error naming the file, line and field."""
        path = config.getoption("waivers", None)
        today = datetime.now(UTC).date()
        if not path:
            return cls(None, today)
        try:
            return cls(load_waivers(path), today)
        except MatrixError as exc:
            raise pytest.UsageError(f"--waivers: {exc}") from exc

    def apply(self, systems: Sequence[SystemResult]) -> list[SystemResult]:
        """The systems with the covered failures waived (unchanged without ``--waivers``).

        Called for the host side's systems (the host suite's cases) and again for the joined systems
        (the VM's criteria): what each call waived adds up to the run's one outcome.
        """
        if self.waivers is None:
            return list(systems)
        result, outcome = apply_waivers(systems, self.waivers, self.today)
        if self.outcome is not None:  # the host side first, then the joined systems: one outcome
            applied = tuple(dict.fromkeys(self.outcome.applied + outcome.applied))
            used = {a.waiver for a in applied}
            unmatched = tuple(w for w in outcome.unmatched if w.id not in used)
            outcome = dataclasses.replace(outcome, applied=applied, unmatched=unmatched)
        self.outcome = outcome
        return result

    def report_section(self) -> dict[str, Any]:
        """``{"waivers": …}`` for ``compat-report.json`` when waivers were given, else nothing."""
        return {"waivers": self.outcome.to_dict()} if self.outcome is not None else {}

    def summary_lines(self) -> list[str]:
        """The terminal line saying what was waived and which waivers expired or matched nothing."""
        return [self.outcome.summary()] if self.outcome is not None else []
