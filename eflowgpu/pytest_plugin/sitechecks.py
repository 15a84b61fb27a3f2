"""Site checks: a lab's own test functions, run for every system x GPU, reported as ``site.<name>``.

A site check is an ordinary test function that asks for the pack's ``system``, ``host``, ``gpu`` or
``vm`` fixtures and uses plain ``assert``. Its outcome for each GPU becomes a criterion of that GPU
(``site.<name>``, ``<name>`` the function's name without ``test_``) in every report: required by
default, recommended with ``@pytest.mark.recommended`` (then a failure warns and the test passes).
The outcome travels from the test to the report as a test-report property, so xdist workers' results
reach the controller that writes the reports.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pytest

from eflowgpu.criteria import Criterion, Status, Verdict, verdict_of
from eflowgpu.evaluate import SystemResult
from eflowgpu.pytest_plugin.cases import EligibilityWarning

PROPERTY = "eflowgpu_site_check"
"""The test-report property that carries a site check's outcome to the report."""
PREFIX = "site."


@dataclass(frozen=True)
class Target:
    """What a site check runs for: one GPU of one system of the run."""

    system_index: int
    gpu_index: int

    def __repr__(self) -> str:
        return f"system {self.system_index} / GPU {self.gpu_index}"


@dataclass(frozen=True)
class SiteOutcome:
    """A site check's result for one GPU, as a criterion."""

    system_index: int
    gpu_index: int
    criterion: Criterion

    def to_json(self) -> str:
        """The property's value."""
        return json.dumps(
            {"system": self.system_index, "gpu": self.gpu_index, "criterion": self.criterion.to_dict()},
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> SiteOutcome:
        """The inverse of :meth:`to_json`."""
        data = json.loads(text)
        crit = data["criterion"]
        criterion = Criterion(
            str(crit["id"]),
            Status(crit["status"]),
            bool(crit["required"]),
            str(crit["detail"]),
            crit["remedy"],
        )
        return cls(int(data["system"]), int(data["gpu"]), criterion)


def site_id(function_name: str) -> str:
    """``site.<name>``: the function's name without ``test_``."""
    return PREFIX + function_name.removeprefix("test_")


def site_criterion(name: str, outcome: str, required: bool, detail: str) -> Criterion:
    """The criterion of a site check's pytest outcome (``passed``, ``failed``, ``skipped``, ``error``)."""
    status = {
        "passed": Status.PASS,
        "failed": Status.FAIL if required else Status.WARN,
        "skipped": Status.SKIP,
    }.get(outcome, Status.UNKNOWN)
    return Criterion(site_id(name), status, required, " ".join(detail.split())[:500] or outcome)


def with_site_criteria(
    systems: Sequence[SystemResult], outcomes: Iterable[SiteOutcome]
) -> list[SystemResult]:
    """The systems with each site check's criterion added to its GPU (sorted by id), verdicts redone."""
    extra: dict[tuple[int, int], dict[str, Criterion]] = {}
    for outcome in outcomes:
        extra.setdefault((outcome.system_index, outcome.gpu_index), {})[outcome.criterion.id] = (
            outcome.criterion
        )
    if not extra:
        return list(systems)
    result = list(systems)
    for s_index, system in enumerate(systems):
        gpus = list(system.gpus)
        for g_index, gpu in enumerate(gpus):
            added = extra.get((s_index, g_index))
            if not added:
                continue
            criteria = (*gpu.criteria, *(added[key] for key in sorted(added)))
            verdict = gpu.verdict if gpu.verdict is Verdict.UNSUPPORTED else verdict_of(criteria)
            gpus[g_index] = dataclasses.replace(gpu, criteria=criteria, verdict=verdict)
        result[s_index] = dataclasses.replace(system, gpus=tuple(gpus))
    return result


_STATE = pytest.StashKey[dict[str, str]]()


def record_site_outcome(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport, target: Target
) -> None:
    """Follow a site check through set-up, call and teardown; at teardown add its outcome to the
    report's properties. A recommended check's failure warns and the test passes."""
    required = item.get_closest_marker("recommended") is None
    name = getattr(item, "originalname", item.name)
    state = item.stash.setdefault(_STATE, {})
    if report.failed and call.when == "call" and not required:
        message = _message(call)
        warnings.warn(EligibilityWarning(f"{site_id(name)}: {message}"), stacklevel=1)
        report.outcome = "passed"
        report.longrepr = None
        state.update(outcome="failed", detail=message)
    elif report.skipped and "outcome" not in state:
        state.update(outcome="skipped", detail=_skip_reason(report))
    elif report.failed and "outcome" not in state:
        state.update(outcome="failed" if call.when == "call" else "error", detail=_message(call))
    if call.when == "teardown":
        doc = _first_line(getattr(getattr(item, "obj", None), "__doc__", None))
        detail = state.get("detail") or doc or "passed"
        criterion = site_criterion(name, state.get("outcome", "passed"), required, detail)
        entry = SiteOutcome(target.system_index, target.gpu_index, criterion)
        report.user_properties.append((PROPERTY, entry.to_json()))


def _message(call: pytest.CallInfo[None]) -> str:
    """The failure's message: the assertion's text (without pytest's explanation), or the error."""
    if call.excinfo is None:
        return ""
    text = str(call.excinfo.value).split("\nassert ", 1)[0].strip()
    return text or call.excinfo.typename


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else "skipped"


def _first_line(text: object) -> str:
    return text.strip().splitlines()[0] if isinstance(text, str) and text.strip() else ""
