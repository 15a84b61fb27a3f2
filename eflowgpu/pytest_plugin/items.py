"""Test items of the host suite: one per system x GPU x criterion.

The suite module declares the suite with :func:`host_suite`; the plugin expands it into
:class:`HostCriterionItem` items at collection. Items instead of a parametrized function keep the
per-test cost low (no fixtures to set up, nothing for Allure to wrap), which matters for labs of
thousands of hosts.
"""

from __future__ import annotations

from typing import Any

import pytest

from eflowgpu.pytest_plugin.cases import HostCase, SnapshotUnusable


class HostSuite:
    """A marker object: the module attribute that holds it becomes the host suite's tests."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc


def host_suite(doc: str = "One criterion of one GPU of one host.") -> HostSuite:
    """Declare the host eligibility suite in a test module: ``test_host_criterion = host_suite()``."""
    return HostSuite(doc)


class HostCriterionItem(pytest.Item):
    """One case of the host suite: passes, fails, warns or skips as the library judged it."""

    def __init__(self, *, case: HostCase, doc: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.doc = doc

    def runtest(self) -> None:
        """Check the case (see :meth:`HostCase.check`)."""
        self.case.check()

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Where the test comes from and what it checks."""
        return self.path, None, f"{self.name}: {self.case!r}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        """An unreadable snapshot is reported as its one-line reason, without a traceback."""
        if isinstance(excinfo.value, SnapshotUnusable):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)
