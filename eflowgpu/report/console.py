"""The terminal summary of a run: verdict counts, then what failed and what to do, one line each.

Text from snapshots is printed through :func:`~eflowgpu.textsafe.neutral`: no control character or
CI workflow command reaches the terminal or the CI log from a snapshot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from eflowgpu.criteria import Status, Verdict
from eflowgpu.evaluate import SystemResult
from eflowgpu.textsafe import neutral

_SHOWN = (Verdict.NOT_ELIGIBLE, Verdict.INCOMPLETE)


def summary_lines(systems: Sequence[SystemResult], profile: str, *, limit: int = 200) -> list[str]:
    """Lines for the terminal: the counts, each system in error, each failed or unknown required
    criterion of a GPU that is not eligible (with its remedy). At most ``limit`` detail lines."""
    verdicts = Counter(gpu.verdict.value for system in systems for gpu in system.gpus)
    errors = [s for s in systems if s.status == "error"]
    counts = ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items())) or "no GPU"
    lines = [
        f"profile {profile}: {len(systems)} system(s), {sum(verdicts.values())} GPU(s): {counts}"
        + (f"; {len(errors)} system(s) in error" if errors else "")
    ]
    details = [f"ERROR {neutral(s.host, 120)}: {neutral(s.error)}" for s in errors]
    for system in systems:
        for gpu in system.gpus:
            if gpu.verdict not in _SHOWN:
                continue
            for crit in gpu.criteria:
                if crit.required and crit.status in (Status.FAIL, Status.UNKNOWN):
                    where = f"{neutral(system.host, 120)} / {neutral(gpu.name, 120)} / {crit.id}"
                    details.append(
                        f"{gpu.verdict.value.upper()} {where} {crit.status.value}: {neutral(crit.message())}"
                    )
    if len(details) > limit:
        details = [*details[:limit], f"... and {len(details) - limit} more: see report.md or report.html"]
    return lines + details
