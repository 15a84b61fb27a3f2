"""pytest hooks of the pack (kept thin: the logic is in the library).

Every hook returns at once in a run that does not use the pack (see :func:`options.is_active`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from eflowgpu.pytest_plugin.allurelib import allure, allure_on
from eflowgpu.pytest_plugin.benchcases import BenchCase, bench_cases
from eflowgpu.pytest_plugin.cases import gpu_stem, host_cases, passthrough_markers, system_bases, system_cases
from eflowgpu.pytest_plugin.fixtures import TARGET, PackFixtures
from eflowgpu.pytest_plugin.guard import guard_run
from eflowgpu.pytest_plugin.items import CaseItem, case_arg, function_area, in_area, make_items
from eflowgpu.pytest_plugin.options import add_options, is_active
from eflowgpu.pytest_plugin.rootdir import rechoose_rootdir
from eflowgpu.pytest_plugin.session import SESSION_KEY, WORKER_OUTPUT, PackSession, pack_of
from eflowgpu.pytest_plugin.sitechecks import Target, record_site_outcome
from eflowgpu.pytest_plugin.sources import forget_run
from eflowgpu.pytest_plugin.vmcases import vm_cases
from eflowgpu.report.console import summary_lines
from eflowgpu.report.testreports import allure_warning, coverage
from eflowgpu.textsafe import neutral

MARKERS = (
    "area(name): the area of the pack a suite function checks (windows-release, host-platform, "
    "dda-survey, gpu-pv, gpu-driver; in the VM: passthrough, identity, driver, health)",
    "dda: a check of a GPU whose passthrough type is DDA (the profile's row, or what the VM sees)",
    "gpupv: a check of a GPU whose passthrough type is GPU-PV",
    "required: a criterion that decides eligibility (site checks are required unless marked recommended)",
    "recommended: a criterion that only warns; on a site check: a failure warns instead of failing",
)
BENCH_GROUP = "eflowgpu-benchmarks"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the pack's options and ini switch (the only thing done in every run)."""
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    """Before the conftests: redo pytest's rootdir and ini choice if it took a pack option's path
    (``--host-snapshot /srv/lab``) for a test path."""
    rechoose_rootdir(early_config, args)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """In a run that uses the pack: load the matrix, check the options, register markers and
    fixtures, and point JUnit and Allure into the report folder. Nothing is examined here."""
    if config.option.help or not is_active(config):
        return
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    _testpaths_from_anywhere(config)
    guard_run(config)  # a report folder that cannot be written is a usage error; SIGTERM writes reports
    session = PackSession(config)
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "eflowgpu-session")  # collects figures and site outcomes
    config.pluginmanager.register(PackFixtures(), "eflowgpu-fixtures")
    if not session.live_allowed or getattr(config.option, "markers", False):
        return  # a run that only lists tests, fixtures or markers writes no JUnit or Allure results
    if not session.is_worker and getattr(config.option, "xmlpath", None) is None:
        config.option.xmlpath = str(session.report_dir / "junit.xml")  # the controller writes JUnit
    if hasattr(config.option, "allure_report_dir") and not config.option.allure_report_dir:
        # Every process writes Allure results (xdist workers run the tests); only the controller,
        # which starts first, empties the default folder, which holds this run only.
        config.option.allure_report_dir = str(session.report_dir / "allure-results")
        config.option.clean_alluredir = not session.is_worker


def _testpaths_from_anywhere(config: pytest.Config) -> None:
    """Without test paths, pytest uses the ini's ``testpaths`` only when run from the rootdir; the
    pack uses its suites from any directory (``pytest --rootdir=PACK -c PACK/pytest.ini ...``)."""
    if config.args_source is not pytest.Config.ArgsSource.INVOCATION_DIR:
        return
    paths = [config.rootpath / p for p in config.getini("testpaths")]
    if paths and all(p.exists() for p in paths):
        config.args = [str(p) for p in paths]
        config.args_source = pytest.Config.ArgsSource.TESTPATHS


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say what is judged, by which profile (the data's origin follows in the summary)."""
    pack = pack_of(config)
    if pack is None:
        return []
    return [f"eflowgpu: matrix {pack.matrix_path} profile {pack.profile.key} ({pack.profile.title})"]


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Collector, name: str, obj: object
) -> list[pytest.Item] | None:
    """Expand a suite function (see :mod:`items`) into one item per judged case."""
    pack = pack_of(collector.config)
    if pack is None or not isinstance(collector, pytest.Module | pytest.Class):
        return None
    arg = case_arg(obj)
    if arg is None or not collector.funcnamefilter(name):
        return None
    function: Callable[..., Any] = obj  # type: ignore[assignment]
    area = function_area(function, arg)
    if arg in ("criterion", "host_snapshot"):
        systems = pack.host_systems(needed=True)
        cases: list[Any] = in_area(host_cases(systems), area, "host") if area else system_cases(systems)
        return make_items(collector, name, function, arg, cases, _same)
    snapshots, criteria = vm_cases(pack.provisional_vms(), pack.vm_files())
    vm_items: list[Any] = in_area(criteria, area, "vm") if area else snapshots
    return make_items(collector, name, function, arg, vm_items, _final_vm_case(pack))


def _same(case: Any) -> Any:
    return case


def _final_vm_case(pack: PackSession) -> Callable[[Any], Any]:
    return pack.final_vm_case


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize the benchmarks over the machine's GPUs, and site checks over every system x GPU."""
    pack = pack_of(metafunc.config)
    if pack is None:
        return
    if "bench_case" in metafunc.fixturenames:
        pack.vm_records(needed=True)  # the benchmarks measure this machine: examine it now
        cases = bench_cases(pack.level, pack.live_gpu_count())
        metafunc.parametrize("bench_case", cases, ids=[c.test_id for c in cases])
    if TARGET in metafunc.fixturenames:
        _parametrize_site_check(pack, metafunc)


def _parametrize_site_check(pack: PackSession, metafunc: pytest.Metafunc) -> None:
    """One test per GPU of every system, marked by passthrough type and required/recommended."""
    systems = pack.host_systems(needed=True)
    required = metafunc.definition.get_closest_marker("recommended") is None
    params, ids = [], []
    for s_index, (system, stem) in enumerate(zip(systems, system_bases(systems), strict=True)):
        for g_index, gpu in enumerate(system.gpus):
            marks = [getattr(pytest.mark, m) for m in passthrough_markers(gpu.passthrough)]
            if required:
                marks.append(pytest.mark.required)
            params.append(pytest.param(Target(s_index, g_index), marks=marks))
            ids.append(gpu_stem(stem, g_index, gpu))
    metafunc.parametrize(TARGET, params, ids=ids, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give each benchmark its replaying pytest-benchmark timer and the benchmarks' xdist group."""
    if pack_of(config) is None:
        return
    grouped = config.pluginmanager.hasplugin("xdist")
    for item in items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("bench_case") if callspec is not None else None
        if isinstance(case, BenchCase):
            item.add_marker(pytest.mark.benchmark(timer=case.timer, group=case.device))
            if grouped:
                item.add_marker(pytest.mark.xdist_group(BENCH_GROUP))


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Count what -k/-m deselected, for the reports' coverage note."""
    pack = pack_of(items[0].config) if items else None
    if pack is not None:
        pack.deselected += len(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    """A narrowed run says in every report what it covered (JUnit: a property of each test)."""
    pack = pack_of(session.config)
    if pack is None or not pack.live_allowed:
        return
    cases = [i for i in session.items if isinstance(i, CaseItem)]
    pack.coverage = coverage(
        collected=len(session.items) + pack.deselected,
        selected=len(session.items),
        keyword=session.config.option.keyword,
        markexpr=session.config.option.markexpr,
        args=session.config.args,
        systems_selected=[_case_host(i) for i in cases],
        systems_total=len(pack.systems) if cases else 0,
    )
    if pack.coverage is not None:
        for item in session.items:
            item.user_properties.append(("coverage", pack.coverage["note"]))


def _case_host(item: CaseItem) -> str:
    """The host label of a host or VM case (both carry their ``system``)."""
    return str(getattr(getattr(item.case, "system", None), "host", ""))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Give a suite case its Allure labels and parameters (when Allure reports).

    Done at set-up (the case's error, an unreadable snapshot, is raised right after) rather than at
    collection: under xdist every worker collects every case but runs only its share.
    """
    if not isinstance(item, CaseItem) or not allure_on(item.config):
        return
    label = item.config.stash[SESSION_KEY].allure_label  # one MarkDecorator: pytest.mark's lookup is slow
    labels = item.case.allure_labels()
    item.own_markers.extend(label(neutral(value), label_type=kind).mark for kind, value in labels)
    for name, value in item.case.parameters():
        allure.dynamic.parameter(name, neutral(value))  # snapshot text: never crashes Allure's writer


def pytest_runtest_call(item: pytest.Item) -> None:
    """A warning's text as the Allure result's description, with a ``warning`` tag (after Allure's
    set-up, which takes the suite function's docstring as the description)."""
    if not isinstance(item, CaseItem) or not allure_on(item.config):
        return
    if (warned := allure_warning(repr(item.case), getattr(item.case, "criterion", None))) is not None:
        allure.dynamic.description(warned[0])
        label = item.config.stash[SESSION_KEY].allure_label
        item.own_markers.extend(label(value, label_type=kind).mark for kind, value in warned[1])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Site checks: a recommended check's failure warns; each outcome is recorded for the report."""
    report: pytest.TestReport = yield
    pack = pack_of(item.config)
    callspec = getattr(item, "callspec", None)
    target = callspec.params.get(TARGET) if callspec is not None else None
    if pack is None or not isinstance(target, Target):
        return report
    record_site_outcome(item, call, report, target)
    return report


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """pytest-benchmark: add the GPUs, their driver and the passthrough type, so that comparing runs
    of different hardware warns ("Benchmark machine_info is different")."""
    pack = pack_of(config)
    record = pack.live_record() if pack is not None else None
    seen = record.seen if record is not None else None
    facts = record.facts if record is not None else None
    gpus = seen.gpus if seen is not None else ()
    machine_info["eflowgpu"] = {
        "passthrough": seen.passthrough if seen is not None else "none",
        "gpu": gpus[0].label if gpus else None,
        "gpus": [g.label for g in gpus],
        "gpu_model": gpus[0].identity.model.key if gpus and gpus[0].identity.model else None,
        "pci_id": gpus[0].gpu.pci_id if gpus else None,
        "driver_version": facts.driver_version if facts is not None else None,
        "cuda_version": facts.cuda_version if facts is not None else None,
        "vm": record.label if record is not None else None,
    }


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist, on the controller: adopt the sources a worker used; drop its hand-over files."""
    pack = pack_of(node.config)
    if pack is None:
        return
    output = getattr(node, "workeroutput", None) or {}
    if WORKER_OUTPUT in output:
        pack.adopt_worker_sources(output[WORKER_OUTPUT])
    run_id = getattr(node, "workerinput", {}).get("testrunuid")
    if run_id:
        forget_run(pack.report_dir, str(run_id))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the reports, whatever the outcome (failures, crashed workers, interruption); under
    ``--strict``, a system whose verdict is not eligible fails the run."""
    pack = pack_of(session.config)
    if pack is None:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[WORKER_OUTPUT] = pack.worker_output()
        return
    if getattr(session.config.option, "showfixtures", False) or getattr(
        session.config.option, "show_fixtures_per_test", False
    ):
        return
    if pack.coverage is None:  # xdist's controller: the workers collected
        pack.coverage = coverage(collected=None, selected=session.testscollected,
                                 keyword=session.config.option.keyword,
                                 markexpr=session.config.option.markexpr)  # fmt: skip
    pack.write_reports()
    if any(failure.gated for failure in pack.gate_failures):  # the pack's gate, not a traceback
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if pack.strict and pack.reports_written and session.exitstatus == pytest.ExitCode.OK:
        from eflowgpu.report.model import failing_systems

        if failing_systems(pack.final_systems()):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(
    terminalreporter: Any, exitstatus: int, config: pytest.Config
) -> Generator[None, None, None]:
    """The pack's summary, last (after pytest's and pytest-benchmark's): verdicts, every failure
    with its detail and remedy, and the reports' absolute paths."""
    yield
    pack = pack_of(config)
    if pack is None or pack.is_worker or not pack.reports_written:
        return
    import json

    report = json.loads(pack.reports_written[0].read_text(encoding="utf-8"))
    terminalreporter.section("EFLOW GPU compatibility")
    for side in ("host", "vm"):
        terminalreporter.line(f"eflowgpu: {pack.sources(side).note}")
    for line in summary_lines(report, strict=pack.strict) + pack.waivers.summary_lines():
        terminalreporter.line(line)
    for failure in pack.gate_failures:
        terminalreporter.line(failure.message, red=failure.gated, yellow=not failure.gated)
    for path in pack.reports_written:
        terminalreporter.line(f"report: {Path(path).resolve()}")
    junit = getattr(config.option, "xmlpath", None)
    if junit:
        terminalreporter.line(f"report: {Path(junit).resolve()}")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Drop the run's state."""
    if SESSION_KEY in config.stash:
        config.pluginmanager.unregister(config.stash[SESSION_KEY])
        del config.stash[SESSION_KEY]
