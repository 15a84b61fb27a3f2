"""The state of one pack run: matrix, profile, options, and (lazily) the evaluated systems.

It lives in ``config.stash`` (never in module globals). Creating it loads the matrix and checks the
options, nothing more. A side's data (host snapshots, the VM) is chosen and evaluated when a suite
that needs it is collected; live work (probes, the machine as the VM, a transport) happens then,
never for ``--collect-only`` or ``--fixtures``. Under pytest-xdist every worker collects and
evaluates the same files with the same deterministic library; the workers send the controller
which sources they used (``workeroutput``), and the controller writes the reports, so a parallel
run reports exactly what a serial one does.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import pytest

from eflowgpu.bench.workloads import BENCHMARKS
from eflowgpu.errors import MatrixError
from eflowgpu.evaluate import SystemResult, error_result, evaluate_host_files
from eflowgpu.matrix import Matrix, Profile, load_matrix
from eflowgpu.pytest_plugin import sources as src
from eflowgpu.pytest_plugin.benchcases import PROPERTY as BENCH_PROPERTY
from eflowgpu.pytest_plugin.benchcases import GpuContext
from eflowgpu.pytest_plugin.crashed import crashed_benchmark_entry
from eflowgpu.pytest_plugin.options import level_of, report_dir_of
from eflowgpu.pytest_plugin.sitechecks import PROPERTY as SITE_PROPERTY
from eflowgpu.pytest_plugin.sitechecks import SiteOutcome, with_site_criteria
from eflowgpu.pytest_plugin.sources import Sources
from eflowgpu.pytest_plugin.vmcases import VmCase, vm_cases
from eflowgpu.pytest_plugin.waiving import RunWaivers
from eflowgpu.report.files import write_reports
from eflowgpu.report.gate import GateFailure, take_from_pytest_benchmark
from eflowgpu.report.model import build_report
from eflowgpu.vm.evaluate import VmJudgement, VmRecord, attach_vms, read_vm_file

log = logging.getLogger(__name__)

Side = Literal["host", "vm"]
WORKER_OUTPUT = "eflowgpu_sources"


class PackSession:
    """One run of the pack, shared by hooks and fixtures through ``config.stash``."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.report_dir = report_dir_of(config)
        matrix_opt = config.getoption("matrix")
        self.matrix_path = Path(matrix_opt) if matrix_opt else config.rootpath / "matrix.yaml"
        try:
            self.matrix: Matrix = load_matrix(self.matrix_path)
            self.profile: Profile = self.matrix.profile(config.getoption("profile"))
        except MatrixError as exc:
            raise pytest.UsageError(f"the support matrix is malformed: {exc}") from exc
        except KeyError as exc:
            raise pytest.UsageError(f"--profile: {exc.args[0]}") from exc
        self.level = level_of(config)
        self.expect_passthrough: str | None = config.getoption("expect_passthrough")
        self.strict = bool(config.getini("strict"))
        # the options' own files are checked now (a usage error names a missing path)
        self._given = {
            "host": list(config.getoption("host_snapshot") or []),
            "vm": list(config.getoption("vm_snapshot") or []),
        }
        for side, option in (("host", "--host-snapshot"), ("vm", "--vm-snapshot")):
            src.given_files(option, self._given[side])
        self._sources: dict[str, Sources] = {}
        self._host_systems: list[SystemResult] | None = None
        self._vm_records: list[VmRecord] | None = None
        self._systems: list[SystemResult] | None = None
        self._final_vm_cases: dict[str, VmCase] | None = None
        self.deferred: list[str] = []  # live work left out (--collect-only, --fixtures)
        self.reports_written: list[Path] = []
        self.benchmarks: dict[str, dict[str, Any]] = {}
        self.site_outcomes: list[SiteOutcome] = []
        self.waivers = RunWaivers.from_config(config)  # --waivers: a usage error when malformed
        self.gate_failures: list[GateFailure] = []
        self.deselected = 0
        self.coverage: dict[str, Any] | None = None

    # --- what kind of process and run this is ---------------------------------------------------

    @property
    def is_worker(self) -> bool:
        """True inside a pytest-xdist worker."""
        return hasattr(self.config, "workerinput")

    @property
    def run_id(self) -> str | None:
        """The xdist run's id on a worker (shared by the run's workers), else None."""
        workerinput = getattr(self.config, "workerinput", None)
        return str(workerinput["testrunuid"]) if workerinput is not None else None

    @property
    def live_allowed(self) -> bool:
        """False when this run only lists tests or fixtures: then nothing is examined."""
        option = self.config.option
        return not (
            getattr(option, "collectonly", False)
            or getattr(option, "showfixtures", False)
            or getattr(option, "show_fixtures_per_test", False)
        )

    @cached_property
    def allure_label(self) -> pytest.MarkDecorator:
        """allure-pytest's label marker, looked up once (only once Allure has registered it)."""
        return pytest.mark.allure_label

    # --- the sources of each side, chosen on first need --------------------------------------------

    def sources(self, side: Side, *, needed: bool = False) -> Sources:
        """The side's sources. ``needed``: a suite that examines this side was collected, so the
        live host / this machine may be examined (the first call decides)."""
        if side not in self._sources:
            self._sources[side] = self._choose(side, needed)
        return self._sources[side]

    def _choose(self, side: Side, needed: bool) -> Sources:
        if self._given[side]:
            option = "--host-snapshot" if side == "host" else "--vm-snapshot"
            return src.snapshot_sources(option, self._given[side], "host" if side == "host" else "VM")
        if not needed:
            return src.NO_HOST if side == "host" else src.NO_VM
        if side == "host":
            if not src.on_windows():
                return src.sample_lab(self.matrix_path.parent)
            return self._live("host", lambda: src.collect_live_host(self.report_dir))
        if self._given["host"] and not (self.config.getoption("vm_transport") or self.expect_passthrough):
            return dataclasses.replace(
                src.NO_VM, note="Recorded hosts only (--host-snapshot without a VM option): no VM examined."
            )
        transport = self.config.getoption("vm_transport") or ("eflow" if src.on_windows() else None)
        if transport is None:
            return self._live("vm", lambda: src.collect_live_vm(self.report_dir))
        request = src.TransportRequest(
            transport,
            self.matrix_path.parent,
            self.report_dir,
            self.level,
            self.expect_passthrough,
            self.matrix.vm.min_memory_mib,
            self._single_host_label(),
        )
        return self._live("vm", lambda: src.collect_through(request, self.say))

    def _live(self, side: Side, produce: Callable[[], Sources]) -> Sources:
        if not self.live_allowed:
            self.deferred.append(side)
            what = "the host" if side == "host" else "this machine (as the VM)"
            return Sources("none", (), f"Not examined: {what} is only examined when the tests run.")
        return src.once_per_run(
            self.report_dir, self.run_id, side, produce, wait_s=src.TRANSPORT_TIMEOUT_S + 60
        )

    def _single_host_label(self) -> str | None:
        """The label of the one host this run judges (the VM joins it), else None."""
        host = self.sources("host")
        if host.mode == "live" and host.files:
            from eflowgpu.host.collector import default_host_label

            return default_host_label()
        if len(host.files) == 1:
            try:
                data = json.loads(Path(host.files[0]).read_text(encoding="utf-8-sig"))
            except (OSError, ValueError):
                return None
            label = data.get("host") if isinstance(data, dict) else None
            return label if isinstance(label, str) and label.strip() else None
        return None

    # --- evaluation ---------------------------------------------------------------------------------

    def host_systems(self, *, needed: bool = False) -> list[SystemResult]:
        """The host side's systems, evaluated once per process (deterministic, in source order)."""
        if self._host_systems is None:
            sources = self.sources("host", needed=needed)
            results = [error_result(h, s, r) for h, s, r in sources.errors]
            files = sources.files
            step = max(1, len(files) // 10)
            for start in range(0, len(files), step):
                results.extend(evaluate_host_files(self.matrix, self.profile, files[start : start + step]))
                if len(files) >= PROGRESS_FROM and not self.is_worker:
                    self.say(f"eflowgpu: evaluated {len(results)}/{len(files)} host snapshots")
            self._host_systems = self.waivers.apply(results)
        return self._host_systems

    def vm_records(self, *, needed: bool = False) -> list[VmRecord]:
        """The VM side's records, read once per process."""
        if self._vm_records is None:
            sources = self.sources("vm", needed=needed)
            errors = [VmRecord(source, label, None, error=reason) for label, source, reason in sources.errors]
            self._vm_records = errors + [read_vm_file(self.matrix, path) for path in sources.files]
        return self._vm_records

    @property
    def systems(self) -> list[SystemResult]:
        """Every system of the run, host and VM joined (fixed once collection is over)."""
        if self._systems is None:
            self._systems = self.waivers.apply(
                attach_vms(self.matrix, self.host_systems(), self.vm_records(), self.expect_passthrough)
            )
        return self._systems

    def provisional_vms(self) -> list[SystemResult]:
        """The VMs joined to the hosts known so far (for the in-VM suite's test ids at collection)."""
        hosts = self._host_systems if self._host_systems is not None else []
        return attach_vms(self.matrix, hosts, self.vm_records(needed=True), self.expect_passthrough)

    def adopt_worker_sources(self, data: dict[str, Any]) -> None:
        """On the controller: the sources a worker used (it collected; the controller does not)."""
        for side in ("host", "vm"):
            if side in data and (side not in self._sources or self._sources[side].mode == "none"):
                self._sources[side] = Sources.from_json(data[side])
        self._host_systems = self._vm_records = self._systems = None
        self._final_vm_cases = None

    def worker_output(self) -> dict[str, Any]:
        """What a worker tells the controller: the sources it chose."""
        return {side: sources.to_json() for side, sources in self._sources.items()}

    # --- results coming back from tests -------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Benchmark figures and site-check outcomes (xdist workers' reports arrive here too)."""
        for name, value in report.user_properties:
            if name == BENCH_PROPERTY and isinstance(value, str):
                entry = json.loads(value)
                self.benchmarks[src.bench_key(entry)] = entry
            elif name == SITE_PROPERTY and isinstance(value, str) and report.when == "teardown":
                self.site_outcomes.append(SiteOutcome.from_json(value))
        crashed = crashed_benchmark_entry(report, self.matrix, self.live_gpus, self.level)
        if crashed is not None:  # a killed worker's benchmark is an explicit crashed entry
            self.benchmarks.setdefault(src.bench_key(crashed), crashed)

    def live_record(self) -> VmRecord | None:
        """The record of the machine the suite runs on (the live VM), if this run examined it."""
        vm = self._sources.get("vm")
        if vm is None or vm.mode != "live":
            return None
        wanted = set(vm.files)
        for record in self.vm_records():
            if record.source in wanted:
                return record
        return None

    def vm_files(self) -> set[str]:
        """The sources of the run's VM records."""
        return {record.source for record in self.vm_records()}

    def live_gpu_count(self) -> int:
        """How many GPUs the live VM (this machine) has; 0 without one or without a live VM."""
        record = self.live_record()
        return len(record.seen.gpus) if record is not None and record.seen is not None else 0

    def final_vm_case(self, case: VmCase) -> VmCase:
        """A VM case as the run's final join judges it (hosts may have joined after collection)."""
        if self._final_vm_cases is None:
            snapshots, criteria = vm_cases(self.systems, self.vm_files())
            self._final_vm_cases = {c.key: c for _, c in (*snapshots, *criteria)}
        return self._final_vm_cases.get(case.key, case)

    def bench_subject(self) -> tuple[str | None, str | None, str | None]:
        """The system (host) label, GPU name and PCI id the benchmarks measure (Allure groups by them,
        as it groups the host and in-VM criteria: system > GPU)."""
        record = self.live_record()
        seen = record.seen if record is not None else None
        gpu = seen.gpus[0] if seen is not None and seen.gpus else None
        owners = [s.host for s in self.systems if record is not None and _record_of(s) is record]
        label = owners[0] if owners else record.label if record is not None else None
        return label, gpu.label if gpu else None, gpu.gpu.pci_id if gpu else None

    def live_gpus(self) -> list[GpuContext]:
        """The live VM's GPUs (product and passthrough type), to judge benchmark figures against."""
        record = self.live_record()
        seen = record.seen if record is not None else None
        if seen is None or not seen.gpus:
            return [GpuContext(None, seen.passthrough if seen else "none")]
        return [GpuContext(g.identity.model, seen.passthrough) for g in seen.gpus]

    # --- reports ------------------------------------------------------------------------------------

    def final_systems(self) -> list[SystemResult]:
        """The systems as reported: joined, with the site checks' criteria added."""
        return with_site_criteria(self.systems, self.site_outcomes)

    def write_reports(self) -> None:
        """Write the run's reports (on the controller or in a serial run; never on a worker)."""
        if self.is_worker or self.deferred:
            return
        host, vm = self.sources("host"), self.sources("vm")
        run: dict[str, Any] = {"mode": host.mode, "note": host.note, "vm_mode": vm.mode, "vm_note": vm.note}
        if self.coverage is not None:
            run["coverage"] = self.coverage
        report = build_report(self.matrix, self.profile, self.final_systems(), run=run)
        report.update(self.waivers.report_section())  # the additive `waivers` section
        self._attach_benchmarks(report)
        self.gate_failures = take_from_pytest_benchmark(
            getattr(self.config, "_benchmarksession", None), report
        )
        self._write_allure_meta(report)
        self.reports_written = write_reports(self.report_dir, report)

    def _write_allure_meta(self, report: dict[str, Any]) -> None:
        """Allure's environment.properties and categories.json, once, from the controller."""
        folder = getattr(self.config.option, "allure_report_dir", None)
        if not folder:
            return
        from eflowgpu.report.allure_meta import base_environment, verdict_environment, write_allure_meta

        environment = base_environment() | {
            "profile": self.profile.key,
            "matrix.sha256": self.matrix.sha256,
            "run.mode": self.sources("host").mode,
            "vm.mode": self.sources("vm").mode,
            "level": self.level,
        }
        if self.coverage is not None:
            environment["coverage"] = self.coverage["note"]
        environment.update(verdict_environment(report))  # beside Allure's pass rate of criteria
        write_allure_meta(Path(folder), environment=environment)

    def _attach_benchmarks(self, report: dict[str, Any]) -> None:
        """Put the measured figures into the live VM's ``vm.benchmarks`` (registry, then GPU order)."""
        record = self.live_record()
        if not self.benchmarks or record is None:
            return
        order = {info.id: i for i, info in enumerate(BENCHMARKS)}
        entries = sorted(
            self.benchmarks.values(),
            key=lambda e: (order.get(str(e.get("id")), len(order)), str(e.get("device"))),
        )
        for system in report["systems"]:
            vm = system.get("vm")
            if isinstance(vm, dict) and vm.get("source") == record.source:
                vm["benchmarks"] = entries
                vm["speedups"] = speedups(entries)

    def say(self, line: str) -> None:
        """Tell the user what a long step is doing (on the terminal, outside output capture)."""
        progress(self.config, line)


def _record_of(system: SystemResult) -> VmRecord | None:
    """The VM record joined to a system, judged or not."""
    return system.vm.record if isinstance(system.vm, VmJudgement) else system.vm


def speedups(entries: list[dict[str, Any]]) -> dict[str, float]:
    """GPU figure / CPU figure for the benchmarks measured on both (``gemm_fp32``, ``resnet50_fp32``),
    with the first GPU's figure."""
    values: dict[str, Any] = {}
    for entry in entries:
        values.setdefault(str(entry["id"]), entry.get("value"))
    result = {}
    for gpu_id in ("gemm_fp32", "resnet50_fp32"):
        gpu, cpu = values.get(gpu_id), values.get(f"cpu_{gpu_id}")
        if isinstance(gpu, int | float) and isinstance(cpu, int | float) and cpu > 0:
            result[gpu_id] = round(gpu / cpu, 2)
    return result


PROGRESS_FROM = 200
"""Labs of this many snapshots or more report their evaluation's progress."""


def progress(config: pytest.Config, line: str) -> None:
    """Tell the user what a long step is doing (on the terminal, outside output capture)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # collection output is captured otherwise
            reporter.write_line(line)
    elif reporter is not None:
        reporter.write_line(line)
    else:  # before the terminal reporter is set up
        print(line, file=sys.stderr, flush=True)


SESSION_KEY = pytest.StashKey[PackSession]()


def pack_of(config: pytest.Config) -> PackSession | None:
    """The run's pack session, or None when the pack is not active in this run."""
    return config.stash.get(SESSION_KEY, None)


__all__ = ["SESSION_KEY", "WORKER_OUTPUT", "PackSession", "pack_of", "progress"]
