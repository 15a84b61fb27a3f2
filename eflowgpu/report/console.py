"""The terminal summary of a run, read from the run's report: system verdicts first, then every
failure (host criteria, in-VM criteria, benchmarks) with its detail and what to do, one line each.

Built from the ``compat-report.json`` document itself, so the terminal says what the report says.
Every line is printed through :func:`~eflowgpu.textsafe.neutral`: no control character or CI
workflow command reaches the terminal or the CI log from a snapshot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from eflowgpu.criteria import Criterion, Status
from eflowgpu.textsafe import neutral

_PASSING = ("eligible", "eligible-with-warnings")


def summary_lines(report: Mapping[str, Any], *, strict: bool = False, limit: int = 200) -> list[str]:
    """Lines for the terminal: the verdict counts (systems, then GPUs); then each system in error,
    each blocking host criterion of a GPU that is not eligible, each failed or unknown in-VM
    criterion and each failed benchmark, with detail and remedy; last what ``--strict`` decided.
    At most ``limit`` detail lines."""
    systems = [s for s in report.get("systems") or [] if isinstance(s, Mapping)]
    profile = (report.get("matrix") or {}).get("profile")
    system_counts = Counter(str(s.get("verdict")) for s in systems)
    gpu_counts = Counter(str(g.get("verdict")) for s in systems for g in s.get("gpus") or [])
    lines = [
        f"profile {profile}: {len(systems)} system(s): {_counts(system_counts) or 'none'}; "
        f"{sum(gpu_counts.values())} GPU(s): {_counts(gpu_counts) or 'none'}"
    ]
    details: list[str] = []
    for system in systems:
        details += _system_lines(system)
    if len(details) > limit:
        details = [*details[:limit], f"... and {len(details) - limit} more: see report.md or report.html"]
    lines += details
    if strict:
        rejected = sum(n for verdict, n in system_counts.items() if verdict not in _PASSING)
        lines.append(
            f"--strict: {rejected} system(s) not eligible: the run fails"
            if rejected
            else "--strict: every system is eligible"
        )
    return [neutral(line) for line in lines]


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{n} {v}" for v, n in sorted(counter.items()))


def _system_lines(system: Mapping[str, Any]) -> list[str]:
    host = system.get("host")
    verdict = str(system.get("verdict"))
    if system.get("status") == "error":
        return [f"ERROR {host}: {system.get('error')}"]
    lines = []
    if verdict not in _PASSING:
        lines.append(f"SYSTEM {verdict.upper()} {host}")
    for gpu in system.get("gpus") or []:
        if gpu.get("verdict") in _PASSING or gpu.get("verdict") == "unsupported":
            continue
        for crit in gpu.get("criteria") or []:
            if crit.get("required") and crit.get("status") in ("fail", "unknown"):
                lines.append(
                    f"{str(gpu.get('verdict')).upper()} {host} / {gpu.get('name')} / {crit.get('id')} "
                    f"{crit.get('status')}: {_message(crit)}"
                )
    vm = system.get("vm")
    if isinstance(vm, Mapping):
        lines += _vm_lines(str(host), vm)
    return lines


def _vm_lines(host: str, vm: Mapping[str, Any]) -> list[str]:
    where = f"{host} / VM {vm.get('vm')}"
    if vm.get("status") == "error":
        return [f"VM ERROR {where}: {vm.get('error')}"]
    lines = []
    for crit in vm.get("criteria") or []:
        status = crit.get("status")
        if status == "fail" or (status == "unknown" and crit.get("required")):
            lines.append(f"VM {where} / {crit.get('id')} {status}: {_message(crit)}")
    for bench in vm.get("benchmarks") or []:
        if bench.get("status") == "fail":
            device = f" ({bench.get('device')})" if bench.get("device") else ""
            lines.append(f"BENCHMARK {where} / {bench.get('id')}{device} fail: {bench.get('detail')}")
    return lines


def _message(crit: Mapping[str, Any]) -> str:
    """The criterion's detail with its remedy, as the test's message says it."""
    try:
        status = Status(str(crit.get("status")))
    except ValueError:
        status = Status.UNKNOWN
    remedy = crit.get("remedy")
    return Criterion(
        str(crit.get("id")), status, bool(crit.get("required")), str(crit.get("detail") or ""),
        str(remedy) if remedy else None,
    ).message()  # fmt: skip
