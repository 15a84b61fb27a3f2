"""Comparing a fleet with an earlier fleet report (``fleet.json``) to find regressions.

Per host (case-insensitive) and GPU PCI id, the worst verdict of the GPUs with that id is compared:
worse is a regression, better an improvement; a GPU that is gone, or a host whose snapshot is now in
error, is a regression. Per host and benchmark id, a figure is a regression when it was at or above
its threshold and now is below it, or when it dropped by more than the threshold's margin
(``1 - threshold / reference``, 25 % without a reference) relative to the baseline figure; the
mirror image is an improvement (for lower-is-better benchmarks, all of this is reversed). A
benchmark that gave a figure and now fails is a regression. Hosts only on one side are listed as
new or removed systems.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eflowgpu.fleet.load import MAX_REPORT_BYTES, ReportError, not_passed, parse_benchmark, read_json_limited
from eflowgpu.fleet.merge import fleet_key
from eflowgpu.fleet.model import (
    FLEET_FORMAT,
    BaselineComparison,
    Benchmark,
    Change,
    Fleet,
    FleetSystem,
    host_key,
    verdict_rank,
)
from eflowgpu.report.labels import as_mapping, as_mappings
from eflowgpu.rules.benchmarks import LOWER_IS_BETTER

DEFAULT_FRACTION = 0.75
"""The share of the baseline figure a benchmark may fall to when it has no reference."""


@dataclass(frozen=True, slots=True)
class _View:
    """What the comparison needs of one system."""

    host: str
    status: str
    verdicts: dict[str, str | None]
    benchmarks: dict[str, Benchmark]
    names: dict[str, str] = field(default_factory=dict)
    """GPU name per subject."""
    criteria: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per subject, the status of each criterion that did not pass."""
    key: str = ""


def load_baseline(path: Path, max_bytes: int = MAX_REPORT_BYTES) -> Mapping[str, Any]:
    """Read an ``eflow-gpu-fleet/1`` document; anything else raises :class:`ReportError` (one line)."""
    document = read_json_limited(path, max_bytes)
    if not isinstance(document, Mapping) or document.get("format") != FLEET_FORMAT:
        raise ReportError(f"not an {FLEET_FORMAT} document")
    if not isinstance(document.get("systems"), list):
        raise ReportError("no systems list")
    return document


def _worst(verdicts: dict[str, str | None], subject: str, verdict: str | None) -> None:
    if subject not in verdicts or verdict_rank(verdict) > verdict_rank(verdicts[subject]):
        verdicts[subject] = verdict


def _subject(pci_id: object, name: object) -> str:
    if isinstance(pci_id, str) and pci_id:
        return pci_id
    return f"(no PCI id) {name}" if isinstance(name, str) and name else "(no PCI id)"


def _current_view(system: FleetSystem, mixed: bool) -> _View:
    verdicts: dict[str, str | None] = {}
    names: dict[str, str] = {}
    criteria: dict[str, dict[str, str]] = {}
    for gpu in system.gpus:
        subject = _subject(gpu.pci_id, gpu.name)
        _worst(verdicts, subject, gpu.verdict)
        if gpu.name:
            names.setdefault(subject, gpu.name)
        _merge_criteria(criteria.setdefault(subject, {}), gpu.criteria)
    return _View(
        system.host,
        system.status,
        verdicts,
        {b.id: b for b in system.benchmarks},
        names,
        criteria,
        fleet_key(system, mixed=mixed),
    )


_STATUS_RANK = {"warn": 1, "waived": 1, "unknown": 2, "fail": 3}
"""How bad a criterion status is (pass and skip are 0)."""


def _merge_criteria(into: dict[str, str], criteria: Iterable[tuple[str, str]]) -> None:
    for cid, status in criteria:
        if _STATUS_RANK.get(status, 2) >= _STATUS_RANK.get(into.get(cid, "pass"), 0):
            into[cid] = status


def changed_criteria(before: Mapping[str, str], after: Mapping[str, str], *, worse: bool) -> tuple[str, ...]:
    """``id before -> after`` for each criterion whose status got worse (or better), sorted by id."""
    changed = []
    for cid in sorted(before.keys() | after.keys()):
        old, new = before.get(cid, "pass"), after.get(cid, "pass")
        delta = _STATUS_RANK.get(new, 0 if new in ("pass", "skip") else 2) - _STATUS_RANK.get(
            old, 0 if old in ("pass", "skip") else 2
        )
        if (delta > 0) if worse else (delta < 0):
            changed.append(f"{cid} {old} -> {new}")
    return tuple(changed)


def _baseline_view(system: Mapping[str, Any], mixed: bool) -> _View | None:
    host = system.get("host")
    if not isinstance(host, str):
        return None
    verdicts: dict[str, str | None] = {}
    names: dict[str, str] = {}
    criteria: dict[str, dict[str, str]] = {}
    for gpu in as_mappings(system.get("gpus")):
        verdict = gpu.get("verdict")
        subject = _subject(gpu.get("pci_id"), gpu.get("name"))
        _worst(verdicts, subject, verdict if isinstance(verdict, str) else None)
        if isinstance(gpu.get("name"), str):
            names.setdefault(subject, gpu["name"])
        _merge_criteria(criteria.setdefault(subject, {}), not_passed(gpu.get("criteria")))
    benchmarks: dict[str, Benchmark] = {}
    for entry in as_mappings(system.get("benchmarks")):
        bench = parse_benchmark(entry)
        if bench is not None:
            benchmarks[bench.id] = bench
    status = system.get("status")
    profile, sha = system.get("profile"), system.get("matrix_sha256")
    key = host_key(host)
    if mixed:
        key = f"{key}\0{profile if isinstance(profile, str) else ''}\0{sha if isinstance(sha, str) else ''}"
    return _View(
        host, status if isinstance(status, str) else "ok", verdicts, benchmarks, names, criteria, key
    )


def _fraction(bench: Benchmark, lower: bool) -> float:
    ref, thr = bench.reference, bench.threshold
    if ref and thr and ref > 0 and thr > 0:
        fraction = ref / thr if lower else thr / ref
        if 0 < fraction < 1:
            return fraction
    return DEFAULT_FRACTION


def _g(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def compare_benchmark(host: str, old: Benchmark, new: Benchmark) -> tuple[bool, Change] | None:
    """``(is_regression, change)`` when the figure got notably worse or better, else None."""
    if old.value is None:
        return None
    if new.value is None:
        if new.status == "fail":
            change = Change(
                "benchmark-failed", host, new.id, _g(old.value), "failed", "no figure: the benchmark failed"
            )
            return True, change
        return None
    lower = new.id in LOWER_IS_BETTER
    old_thr = old.threshold if old.threshold is not None else new.threshold
    new_thr = new.threshold if new.threshold is not None else old.threshold
    fraction = _fraction(new if new.reference is not None else old, lower)
    sign = -1.0 if lower else 1.0
    before, after = sign * old.value, sign * new.value
    was_ok = old_thr is not None and before >= sign * old_thr
    is_ok = new_thr is not None and after >= sign * new_thr
    if lower:
        dropped = new.value > old.value / fraction
        rose = new.value < old.value * fraction
    else:
        dropped = new.value < old.value * fraction
        rose = new.value > old.value / fraction
    worse = (was_ok and new_thr is not None and not is_ok) or dropped
    better = (old_thr is not None and not was_ok and is_ok) or rose
    if not worse and not better:
        return None
    unit = f" {new.unit}" if new.unit else ""
    relative = f", {(new.value - old.value) / old.value:+.0%}" if old.value else ""
    threshold = f"; threshold {_g(new_thr)}" if new_thr is not None else ""
    detail = f"{_g(old.value)} -> {_g(new.value)}{unit}{relative}{threshold}"
    return worse, Change("benchmark", host, new.id, _g(old.value), _g(new.value), detail)


def _compare_system(old: _View, new: _View, regressions: list[Change], improvements: list[Change]) -> None:
    host = new.host
    if new.status == "error":
        if old.status != "error":
            regressions.append(
                Change("system-error", host, "(system)", old.status, "error", "the snapshot is now in error")
            )
        return
    for subject, before in old.verdicts.items():
        if subject not in new.verdicts:
            regressions.append(
                Change("gpu-missing", host, subject, str(before), "missing", "the GPU is no longer reported")
            )
            continue
        after = new.verdicts[subject]
        if verdict_rank(after) == verdict_rank(before):
            continue
        worse = verdict_rank(after) > verdict_rank(before)
        criteria = changed_criteria(old.criteria.get(subject, {}), new.criteria.get(subject, {}), worse=worse)
        change = Change(
            "verdict",
            host,
            subject,
            str(before),
            str(after),
            f"{before} -> {after}",
            gpu=new.names.get(subject) or old.names.get(subject),
            criteria=criteria,
        )
        (regressions if worse else improvements).append(change)
    for bench_id, old_bench in old.benchmarks.items():
        new_bench = new.benchmarks.get(bench_id)
        if new_bench is None:
            continue
        found = compare_benchmark(host, old_bench, new_bench)
        if found is not None:
            (regressions if found[0] else improvements).append(found[1])


def compare_with_baseline(fleet: Fleet, baseline: Mapping[str, Any], path: str) -> BaselineComparison:
    """The differences between ``fleet`` and the ``baseline`` fleet document read from ``path``."""
    mixed = len(fleet.judgements) > 1
    old_views: dict[str, _View] = {}
    for entry in as_mappings(baseline.get("systems")):
        view = _baseline_view(entry, mixed)
        if view is not None:
            old_views[view.key] = view
    new_views = {view.key: view for view in (_current_view(s, mixed) for s in fleet.systems)}
    regressions: list[Change] = []
    improvements: list[Change] = []
    for key in sorted(new_views.keys() & old_views.keys()):
        _compare_system(old_views[key], new_views[key], regressions, improvements)
    generated_at = as_mapping(baseline).get("generated_at")
    return BaselineComparison(
        path=path,
        generated_at=generated_at if isinstance(generated_at, str) else None,
        regressions=tuple(regressions),
        improvements=tuple(improvements),
        new_systems=_hosts(new_views, new_views.keys() - old_views.keys()),
        removed_systems=_hosts(old_views, old_views.keys() - new_views.keys()),
    )


def _hosts(views: Mapping[str, _View], keys: Iterable[str]) -> tuple[str, ...]:
    return tuple(views[k].host for k in sorted(keys))


def profile_mismatch(fleet: Fleet, baseline: Mapping[str, Any]) -> str | None:
    """Why ``baseline`` should not be compared with ``fleet`` (judged by other profiles), or None.

    Comparing them would report the differences between the profiles' tables as regressions.
    """
    judged = {s.get("profile") for s in as_mappings(baseline.get("systems"))} - {None}
    ours = {j.profile for j in fleet.judgements} - {None}
    if not judged or not ours or judged == ours:
        return None
    return (
        f"was judged by profile(s) {', '.join(sorted(str(p) for p in judged))}, these reports by "
        f"{', '.join(sorted(str(p) for p in ours))}: comparing them would report the profiles' "
        "differences as regressions (use --mix-profiles to compare anyway)"
    )


def with_baseline(fleet: Fleet, baseline: Mapping[str, Any], path: str) -> Fleet:
    """``fleet`` with its comparison against ``baseline``."""
    return replace(fleet, baseline=compare_with_baseline(fleet, baseline, path))
