"""pytest hooks and fixtures of the pack (kept thin: the logic is in the library)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eflowgpu.pytest_plugin.cases import host_cases
from eflowgpu.pytest_plugin.items import CaseItem, Suite
from eflowgpu.pytest_plugin.options import add_options
from eflowgpu.pytest_plugin.session import SESSION_KEY, WORKER_KEY, PackSession
from eflowgpu.pytest_plugin.vmcases import vm_cases
from eflowgpu.report.console import summary_lines

try:  # allure-pytest is a dependency, but the plugin must not break without it
    import allure
except ImportError:  # pragma: no cover
    allure = None  # type: ignore[assignment]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the pack's options."""
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Load the matrix, choose the host sources, and point JUnit and Allure into the report folder."""
    config.addinivalue_line("markers", "eflowgpu_host: a host eligibility criterion test")
    if config.option.help:
        return
    session = PackSession(config)
    config.stash[SESSION_KEY] = session
    if not session.is_worker and getattr(config.option, "xmlpath", None) is None:
        config.option.xmlpath = str(session.report_dir / "junit.xml")  # the controller writes JUnit
    if hasattr(config.option, "allure_report_dir") and not config.option.allure_report_dir:
        # Every process writes Allure results (xdist workers run the tests); only the controller,
        # which starts first, empties the default folder, which holds this run only.
        config.option.allure_report_dir = str(session.report_dir / "allure-results")
        config.option.clean_alluredir = not session.is_worker


def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: hand the controller's host sources to each worker."""
    session = node.config.stash.get(SESSION_KEY, None)
    if session is not None:
        node.workerinput[WORKER_KEY] = session.to_workerinput()


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say what is judged, by which profile, and from where."""
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        return []
    return [
        f"eflowgpu: matrix {session.matrix_path} profile {session.profile.key} ({session.profile.title})",
        f"eflowgpu: {session.sources.note}",
        f"eflowgpu: {session.vm_sources.note}",
    ]


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Collector, name: str, obj: object
) -> list[pytest.Item] | None:
    """Expand a suite declared in a test module into one item per case."""
    if not isinstance(obj, Suite):
        return None
    session = collector.config.stash[SESSION_KEY]
    doc = obj.__doc__ or ""
    cases = host_cases(session.systems) if obj.kind == "host" else vm_cases(session.systems)
    return [
        CaseItem.from_parent(collector, name=f"{name}[{case_id}]", case=case, doc=doc)
        for case_id, case in cases
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give each host case its JUnit properties (system, GPU, criterion, verdict, status)."""
    for item in items:
        if isinstance(item, CaseItem):
            item.user_properties.extend(item.case.properties())


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Give the running host case its Allure labels and parameters (when Allure reports).

    Done here rather than at collection: under xdist every worker collects every case but runs
    only its share, and Allure reads the labels when the test ends.
    """
    if not isinstance(item, CaseItem) or not _allure_on(item.config):
        return
    item.own_markers.extend(
        pytest.mark.allure_label(value, label_type=label_type).mark
        for label_type, value in item.case.allure_labels()
    )
    for name, value in item.case.parameters():
        allure.dynamic.parameter(name, value)


def _allure_on(config: pytest.Config) -> bool:
    """True when allure-pytest is loaded and writes results in this run."""
    return (
        allure is not None
        and config.pluginmanager.hasplugin("allure_pytest")
        and bool(getattr(config.option, "allure_report_dir", None))
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the reports, whatever the outcome (failures, crashed workers, interruption)."""
    pack = session.config.stash.get(SESSION_KEY, None)
    if pack is not None:
        pack.write_reports()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Point the user at the reports and summarise the verdicts."""
    pack = config.stash.get(SESSION_KEY, None)
    if pack is None or pack.is_worker or not pack.reports_written:
        return
    terminalreporter.section("EFLOW GPU compatibility")
    for line in summary_lines(pack.systems, pack.profile.key):
        terminalreporter.line(line)
    for path in pack.reports_written:
        terminalreporter.line(f"report: {Path(path)}")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Drop the run's state."""
    if SESSION_KEY in config.stash:
        del config.stash[SESSION_KEY]
