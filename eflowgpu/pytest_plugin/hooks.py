"""pytest hooks and fixtures of the pack (kept thin: the logic is in the library)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eflowgpu.bench.workloads import BENCHMARKS
from eflowgpu.pytest_plugin.benchcases import BenchCase, check_remote, isolated_runner, run_case
from eflowgpu.pytest_plugin.cases import host_cases
from eflowgpu.pytest_plugin.guard import guard_run
from eflowgpu.pytest_plugin.items import CaseItem, Suite
from eflowgpu.pytest_plugin.options import add_options
from eflowgpu.pytest_plugin.session import SESSION_KEY, WORKER_KEY, PackSession, progress
from eflowgpu.pytest_plugin.vmcases import vm_cases
from eflowgpu.report.console import summary_lines
from eflowgpu.textsafe import neutral

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
    guard_run(config)  # issue 8: report folder check, SIGTERM writes the reports
    session = PackSession(config)
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "eflowgpu-session")  # collects benchmark figures
    if not session.is_worker and getattr(config.option, "xmlpath", None) is None:
        config.option.xmlpath = str(session.report_dir / "junit.xml")  # the controller writes JUnit
    if hasattr(config.option, "allure_report_dir") and not config.option.allure_report_dir:
        # Every process writes Allure results (xdist workers run the tests); only the controller,
        # which starts first, empties the default folder, which holds this run only.
        config.option.allure_report_dir = str(session.report_dir / "allure-results")
        config.option.clean_alluredir = not session.is_worker


@pytest.hookimpl(optionalhook=True)
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
    """Give each case its JUnit properties, and each benchmark its replaying pytest-benchmark timer."""
    for item in items:
        if isinstance(item, CaseItem):
            item.user_properties.extend(item.case.properties())
            continue
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("bench_case") if callspec is not None else None
        if isinstance(case, BenchCase):
            item.add_marker(pytest.mark.benchmark(timer=case.timer, group=case.device))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``bench_case`` over every in-VM benchmark at the run's ``--level``."""
    if "bench_case" not in metafunc.fixturenames:
        return
    level = metafunc.config.getoption("level")
    cases = [BenchCase(info.id, info.kind, info.unit, info.measures, level) for info in BENCHMARKS]
    metafunc.parametrize("bench_case", cases, ids=[c.bench_id for c in cases])


@pytest.fixture
def bench_run(request: pytest.FixtureRequest, record_property: Any) -> Callable[[BenchCase, Any], None]:
    """Runs one benchmark case with the ``benchmark`` fixture: isolated, timed out, judged, recorded.

    Benchmarks measure the machine the suite runs on; with recorded VM snapshots only (no live VM)
    they skip with that reason.
    """
    session = request.config.stash[SESSION_KEY]

    def run(case: BenchCase, benchmark: Any) -> None:
        if session.remote_benchmarks:  # the benchmarks ran inside the VM, through a transport
            check_remote(case, session.remote_benchmarks.get(case.bench_id), record_property)
            return
        if session.vm_sources.mode != "live":
            pytest.skip("benchmarks measure the machine the suite runs on; this run judges recorded VMs only")
        position = next((i for i, info in enumerate(BENCHMARKS, 1) if info.id == case.bench_id), 0)
        progress(
            request.config,
            f"eflowgpu: benchmark {position}/{len(BENCHMARKS)} {case.bench_id} on "
            f"{case.device} (level {case.level})",
        )
        run_case(
            case,
            benchmark,
            record_property,
            matrix=session.matrix,
            gpu=session.live_gpu(),
            run=isolated_runner(),
        )

    return run


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Give the running host case its Allure labels and parameters (when Allure reports).

    Done here rather than at collection: under xdist every worker collects every case but runs
    only its share, and Allure reads the labels when the test ends.
    """
    if not isinstance(item, CaseItem) or not _allure_on(item.config):
        return
    label = item.config.stash[SESSION_KEY].allure_label  # one MarkDecorator: pytest.mark's lookup is slow
    labels = item.case.allure_labels()
    item.own_markers.extend(label(neutral(value), label_type=kind).mark for kind, value in labels)
    for name, value in item.case.parameters():
        allure.dynamic.parameter(name, neutral(value))  # snapshot text: never crashes Allure's writer


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """pytest-benchmark: add the GPU, its driver and the passthrough type, so that comparing runs
    of different hardware warns ("Benchmark machine_info is different")."""
    session = config.stash.get(SESSION_KEY, None)
    record = session.live_record() if session is not None else None
    seen = record.seen if record is not None else None
    facts = record.facts if record is not None else None
    gpus = seen.gpus if seen is not None else ()
    machine_info["eflowgpu"] = {
        "passthrough": seen.passthrough if seen is not None else "none",
        "gpu": gpus[0].label if gpus else None,
        "gpu_model": gpus[0].identity.model.key if gpus and gpus[0].identity.model else None,
        "pci_id": gpus[0].gpu.pci_id if gpus else None,
        "driver_version": facts.driver_version if facts is not None else None,
        "cuda_version": facts.cuda_version if facts is not None else None,
        "vm": record.label if record is not None else None,
    }


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
        config.pluginmanager.unregister(config.stash[SESSION_KEY])
        del config.stash[SESSION_KEY]
