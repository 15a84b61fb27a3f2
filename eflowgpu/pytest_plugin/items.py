"""Test items of the pack's suites: a suite function runs once per judged case.

A suite function in ``suites/`` is an ordinary test function whose argument names what it checks:

- ``criterion``: a host criterion of one GPU of one system, in the function's ``area`` marker;
- ``vm_criterion``: an in-VM criterion of one VM, in the function's ``area``;
- ``host_snapshot`` / ``vm_snapshot``: one system's host / VM snapshot (readable, or an error).

The plugin expands such a function into one :class:`CaseItem` per case, with readable ids
(``test_windows_release[LAB-T4-SRV2019-gpu1-t4-os.build]``). A CaseItem is a ``pytest.Function``
that receives its case directly rather than through a fixture: labs have thousands of hosts, and a
fixture per case costs a fixture set-up and an Allure container file each. Other fixtures the
function asks for are set up as usual.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import pytest

from eflowgpu.pytest_plugin.areas import area_named, area_of
from eflowgpu.pytest_plugin.cases import SnapshotUnusable


class Case(Protocol):
    """What an item runs and how it labels itself (HostCase, VmCase)."""

    key: str

    def ready(self) -> None: ...
    def check(self) -> None: ...
    def marker_names(self) -> tuple[str, ...]: ...
    def properties(self) -> list[tuple[str, str]]: ...
    def parameters(self) -> list[tuple[str, str]]: ...
    def allure_labels(self) -> list[tuple[str, str]]: ...


CASE_ARGS = ("criterion", "vm_criterion", "host_snapshot", "vm_snapshot")
"""The argument names that make a test function one of the pack's suite functions."""


def case_arg(obj: object) -> str | None:
    """The case argument of a suite function (see :data:`CASE_ARGS`), or None for other objects."""
    if not inspect.isfunction(obj):
        return None
    names = inspect.signature(obj).parameters
    found = [name for name in CASE_ARGS if name in names]
    return found[0] if len(found) == 1 else None


def function_area(function: Callable[..., Any], arg: str) -> str | None:
    """The area a criterion suite function checks (its ``area`` marker); a usage error if wrong."""
    if arg not in ("criterion", "vm_criterion"):
        return None
    marks = [m for m in getattr(function, "pytestmark", []) if m.name == "area"]
    side = "host" if arg == "criterion" else "vm"
    if len(marks) != 1 or len(marks[0].args) != 1:
        raise pytest.UsageError(f"{function.__qualname__}: a '{arg}' test needs one @pytest.mark.area(NAME)")
    area = area_named(str(marks[0].args[0]))
    if area is None or area.side != side:
        raise pytest.UsageError(f"{function.__qualname__}: unknown {side} area {marks[0].args[0]!r}")
    return area.name


def in_area(cases: Sequence[tuple[str, Any]], area: str | None, side: str) -> list[tuple[str, Any]]:
    """The cases of one area (all of them for ``area`` None)."""
    if area is None:
        return list(cases)
    return [(i, c) for i, c in cases if area_of(c.criterion.id, side) == area]


class CaseItem(pytest.Function):
    """One case of a suite function: passes, fails, warns, skips or errors as the library judged it."""

    def __init__(
        self,
        *,
        case: Case,
        case_arg: str,
        resolve: Callable[[Case], Case],
        where: tuple[Any, int | None],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._where = where
        self.originalname = self.name.partition("[")[0]  # the node id keeps the case id as params
        self.case = case
        self.case_arg = case_arg
        self._resolve = resolve

    def setup(self) -> None:
        """Give the function its case (the run's final judgement); an unreadable snapshot errors here."""
        self.case = self._resolve(self.case)
        self.user_properties.extend(self.case.properties())  # JUnit properties (only where it runs)
        self.funcargs[self.case_arg] = self.case
        self.case.ready()
        if len(self.fixturenames) > 1:  # other fixtures the function asks for
            super().setup()

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Where the test comes from (the suite function's file and line) and what it checks."""
        path, line = self._where
        return path, line, f"{self.name}: {self.case!r}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        """An unreadable snapshot is reported as its one-line reason, without a traceback."""
        if isinstance(excinfo.value, SnapshotUnusable):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


def make_items(
    collector: pytest.Collector,
    name: str,
    function: Callable[..., Any],
    arg: str,
    cases: Sequence[tuple[str, Case]],
    resolve: Callable[[Case], Case],
) -> list[pytest.Item]:
    """One item per case, sharing the function's fixture information; markers per case."""
    definition = pytest.Function.from_parent(collector, name=name, callobj=function)
    info = definition._fixtureinfo
    path, line, _ = definition.reportinfo()  # found once: the source lookup is costly
    marks: dict[str, pytest.MarkDecorator] = {}
    items: list[pytest.Item] = []
    for case_id, case in cases:
        item = CaseItem.from_parent(
            collector,
            name=f"{name}[{case_id}]",
            callobj=function,
            fixtureinfo=info,
            case=case,
            case_arg=arg,
            resolve=resolve,
            where=(path, line),
        )
        for marker in case.marker_names():
            if marker not in marks:
                marks[marker] = getattr(pytest.mark, marker)
            item.add_marker(marks[marker])
        items.append(item)
    return items
