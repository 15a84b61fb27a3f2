"""Test items of the pack's suites: one per case (host: system x GPU x criterion; VM: VM x criterion).

A suite module declares its suite with :func:`host_suite` or :func:`vm_suite`; the plugin expands
it into :class:`CaseItem` items at collection. Items instead of a parametrized function keep the
per-test cost low (no fixtures to set up, nothing for Allure to wrap), which matters for labs of
thousands of hosts.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import pytest

from eflowgpu.pytest_plugin.cases import SnapshotUnusable

SuiteKind = Literal["host", "vm"]


class Case(Protocol):
    """What an item runs and how it labels itself (HostCase, VmCase)."""

    def check(self) -> None: ...
    def properties(self) -> list[tuple[str, str]]: ...
    def parameters(self) -> list[tuple[str, str]]: ...
    def allure_labels(self) -> list[tuple[str, str]]: ...


class Suite:
    """A marker object: the module attribute that holds it becomes the suite's tests."""

    def __init__(self, kind: SuiteKind, doc: str) -> None:
        self.kind = kind
        self.__doc__ = doc


def host_suite(doc: str = "One criterion of one GPU of one host.") -> Suite:
    """Declare the host eligibility suite in a test module: ``test_host_criterion = host_suite()``."""
    return Suite("host", doc)


def vm_suite(doc: str = "One in-VM criterion of one VM.") -> Suite:
    """Declare the in-VM suite in a test module: ``test_vm_criterion = vm_suite()``."""
    return Suite("vm", doc)


class CaseItem(pytest.Item):
    """One case: passes, fails, warns or skips as the library judged it."""

    def __init__(self, *, case: Case, doc: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.doc = doc

    def runtest(self) -> None:
        """Check the case."""
        self.case.check()

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Where the test comes from and what it checks."""
        return self.path, None, f"{self.name}: {self.case!r}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        """An unreadable snapshot is reported as its one-line reason, without a traceback."""
        if isinstance(excinfo.value, SnapshotUnusable):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)
