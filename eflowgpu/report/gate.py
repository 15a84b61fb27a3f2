"""The benchmark regression gate's outcome, told by the pack: one line per regression, and the report.

pytest-benchmark's ``--benchmark-compare-fail=median:10%`` compares each benchmark with a saved
run and, on a regression, ends the run in a ``PerformanceRegression`` traceback. The pack takes its
findings instead (the plugin hands :func:`gate_outcome` the ``(name, message)`` pairs
pytest-benchmark collected and the gate's checks) and says, for each benchmark:

* ``REGRESSION``: the figure moved past the gate's tolerance and its own spread is within it, so
  the change is real: the run fails (exit 1) with one line per benchmark;
* ``NOT GATED``: the figure moved past the tolerance, but its spread on this run (coefficient of
  variation of its samples) is wider than the tolerance itself: the gate cannot tell the change
  from noise, so it is reported, not failed.

Figures whose spread is wider than the tolerance also say so in the report when they did not move
(``gate.gated`` false), so nobody reads them as precise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_FAILED = re.compile(
    r"Field '(?P<field>\w+)' has failed (?P<check>\w+): (?P<value>[-+0-9.eE]+|inf) > (?P<limit>[-+0-9.eE]+)"
)
_BRACKETS = re.compile(r"\[([^\]]+)\]")


@dataclass(frozen=True)
class GateCheck:
    """One of the gate's checks: a statistic (``median``) and its tolerance."""

    field: str
    tolerance: float
    """In percent for a ``PercentageRegressionCheck``, else in the statistic's unit (seconds)."""
    percent: bool = True

    @property
    def text(self) -> str:
        """As given on the command line: ``median:10%``."""
        return f"{self.field}:{self.tolerance:g}{'%' if self.percent else ''}"


@dataclass(frozen=True)
class GateFailure:
    """A benchmark the gate flagged, and whether the flag is trustworthy."""

    bench_id: str
    field: str
    change: float
    """How much the statistic grew (percent for a percentage check): sample times, so slower."""
    check: GateCheck
    gated: bool
    """False when the figure's own spread is wider than the tolerance: reported, not failed."""
    cv: float | None
    """The spread the decision used: the baseline's CV where the saved run has one, else this run's."""

    @property
    def message(self) -> str:
        """The one line the terminal and the report show."""
        unit = "%" if self.check.percent else " s"
        moved = f"{self.bench_id}: {self.field} sample time {self.change:+.1f}{unit} against the baseline"
        if self.gated:
            return f"REGRESSION {moved}, past the gate's {self.check.text}"
        return (
            f"NOT GATED {moved}, past the gate's {self.check.text}, but the figure's spread on unchanged "
            f"hardware (CV {self.cv:.2f}) is wider than the tolerance: it cannot be told from noise; save "
            "the baseline again on an idle machine or at a longer --level"
        )


def gate_checks(checks: Iterable[object]) -> list[GateCheck]:
    """pytest-benchmark's ``compare_fail`` checks (objects with ``field`` and ``threshold``)."""
    found = []
    for check in checks:
        field, threshold = getattr(check, "field", None), getattr(check, "threshold", None)
        if isinstance(field, str) and isinstance(threshold, int | float):
            percent = type(check).__name__.startswith("Percentage")
            found.append(GateCheck(field, float(threshold), percent))
    return found


def bench_id_of(name: str) -> str:
    """The benchmark id in a pytest-benchmark name (``test_benchmark[cpu_gemm_fp32]``)."""
    match = _BRACKETS.search(name)
    return match.group(1) if match else name


def precise_enough(cv: object, check: GateCheck) -> bool:
    """True when a figure's spread (CV) is within a percentage check's tolerance (or unknown)."""
    if not check.percent or not isinstance(cv, int | float) or isinstance(cv, bool) or not math.isfinite(cv):
        return True
    return cv * 100 <= check.tolerance


def gate_outcome(
    regressions: Sequence[tuple[str, str]],
    checks: Sequence[GateCheck],
    benchmarks: Mapping[str, Mapping[str, Any]],
    baseline_spread: Mapping[str, float] | None = None,
) -> list[GateFailure]:
    """The gate's failures from pytest-benchmark's ``(name, message)`` pairs, judged by each figure's spread.

    The spread is the baseline's (``baseline_spread``: the CV of the saved run, on unchanged
    hardware) where known, else this run's (``benchmarks``: the report's ``vm.benchmarks`` entries
    by id, whose ``cv`` is the spread). A message that cannot be parsed is kept as a gated failure.
    """
    failures = []
    by_field = {check.field: check for check in checks}
    for name, message in regressions:
        bench_id = bench_id_of(name)
        cv = (baseline_spread or {}).get(bench_id, benchmarks.get(bench_id, {}).get("cv"))
        match = _FAILED.search(message)
        if match is None:
            check = checks[0] if checks else GateCheck("median", 0.0)
            failures.append(GateFailure(bench_id, check.field, math.inf, check, True, None))
            continue
        field = match.group("field")
        percent = match.group("check").startswith("Percentage")
        check = by_field.get(field, GateCheck(field, float(match.group("limit")), percent))
        gated = precise_enough(cv, check)
        number = cv if isinstance(cv, int | float) and not isinstance(cv, bool) else None
        failures.append(GateFailure(bench_id, field, float(match.group("value")), check, gated, number))
    return failures


def apply_gate(
    report: dict[str, Any],
    failures: Sequence[GateFailure],
    checks: Sequence[GateCheck],
    baseline_spread: Mapping[str, float] | None = None,
) -> None:
    """Record the gate in the report: ``run.regression_gate`` and each benchmark entry's ``gate``."""
    run = report.setdefault("run", {})
    run["regression_gate"] = {
        "checks": [check.text for check in checks],
        "failures": [
            {"id": f.bench_id, "field": f.field, "change": f.change, "gated": f.gated, "message": f.message}
            for f in failures
        ],
    }
    flagged = {f.bench_id: f for f in failures}
    for entry in benchmark_entries(report):
        entry_gate = _entry_gate(entry, flagged.get(str(entry.get("id"))), checks, baseline_spread or {})
        if entry_gate is not None:
            entry["gate"] = entry_gate


def _entry_gate(
    entry: Mapping[str, Any],
    failure: GateFailure | None,
    checks: Sequence[GateCheck],
    spreads: Mapping[str, float],
) -> dict[str, Any] | None:
    """A benchmark entry's ``gate``: failed, noisy (not gated as precise) or passed; None without checks."""
    if failure is not None:
        return {
            "gated": failure.gated,
            "status": "fail" if failure.gated else "noisy",
            "detail": failure.message,
        }
    spread = spreads.get(str(entry.get("id")), entry.get("cv"))
    imprecise = [c for c in checks if not precise_enough(spread, c)]
    if imprecise:
        return {
            "gated": False,
            "status": "noisy",
            "detail": f"spread (CV {spread:.2f}) wider than the gate's {imprecise[0].text}: "
            "not gated as a precise figure",
        }
    return {"gated": True, "status": "pass", "detail": None} if checks else None


def benchmark_entries(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every ``vm.benchmarks`` entry of the report (the dicts themselves, to be annotated)."""
    entries: list[dict[str, Any]] = []
    for system in report.get("systems") or []:
        vm = system.get("vm") if isinstance(system, dict) else None
        benchmarks = vm.get("benchmarks") if isinstance(vm, dict) else None
        entries.extend(e for e in benchmarks or [] if isinstance(e, dict))
    return entries


def exit_status(failures: Sequence[GateFailure]) -> int | None:
    """1 when a gated regression was found (the run fails), else None (leave the exit status)."""
    return 1 if any(f.gated for f in failures) else None


def take_from_pytest_benchmark(benchmark_session: object, report: dict[str, Any]) -> list[GateFailure]:
    """Take pytest-benchmark's regressions over: judge them, record them in ``report``, and empty its
    list, so that it does not end the run in a traceback (the pack fails the run itself).

    ``benchmark_session`` is pytest-benchmark's session object (``config._benchmarksession``), or
    None without pytest-benchmark; nothing is recorded when the run compared nothing.
    """
    checks = gate_checks(getattr(benchmark_session, "compare_fail", None) or ())
    found = getattr(benchmark_session, "performance_regressions", None)
    if not checks or not isinstance(found, list):
        return []
    pairs = [(str(name), str(message)) for name, message in found]
    found.clear()
    entries = {str(entry.get("id")): entry for entry in benchmark_entries(report)}
    spreads = baseline_spreads(getattr(benchmark_session, "compared_mapping", None))
    failures = gate_outcome(pairs, checks, entries, spreads)
    apply_gate(report, failures, checks, spreads)
    return failures


def baseline_spreads(compared: object) -> dict[str, float]:
    """The CV of each benchmark in the saved run(s) compared with (the pack's ``extra_info.cv``).

    ``compared`` is pytest-benchmark's ``compared_mapping``: ``{path: {fullname: saved benchmark}}``.
    """
    spreads: dict[str, float] = {}
    for saved in compared.values() if isinstance(compared, Mapping) else ():
        for name, bench in saved.items() if isinstance(saved, Mapping) else ():
            extra = bench.get("extra_info") if isinstance(bench, Mapping) else None
            cv = extra.get("cv") if isinstance(extra, Mapping) else None
            if isinstance(cv, int | float) and not isinstance(cv, bool) and math.isfinite(cv):
                spreads[bench_id_of(str(name))] = float(cv)
    return spreads
