"""The state of one pack run: matrix, profile, where host data comes from, evaluated systems.

It lives in ``config.stash`` (never in module globals). Under pytest-xdist the controller decides
the sources (and collects the live host once) and hands them to the workers through
``workerinput``; every process evaluates the same files with the same deterministic library, and
the controller writes the reports, so a parallel run reports exactly what a serial one does.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import pytest

from eflowgpu.bench.workloads import BENCHMARKS
from eflowgpu.errors import MatrixError
from eflowgpu.evaluate import SystemResult, error_result, evaluate_host_files
from eflowgpu.matrix import Matrix, Profile, load_matrix
from eflowgpu.pytest_plugin.benchcases import PROPERTY as BENCH_PROPERTY
from eflowgpu.pytest_plugin.benchcases import GpuContext
from eflowgpu.pytest_plugin.cases import HostCase, host_cases
from eflowgpu.pytest_plugin.crashed import crashed_benchmark_entry
from eflowgpu.report.files import write_reports
from eflowgpu.report.model import build_report
from eflowgpu.snapshot import snapshot_files
from eflowgpu.vm.evaluate import VmJudgement, VmRecord, attach_vms, read_vm_file

log = logging.getLogger(__name__)

Mode = Literal["live", "snapshots", "sample-lab", "none"]
WORKER_KEY = "eflowgpu_sources"


@dataclass(frozen=True)
class HostSources:
    """Which host snapshots this run evaluates, and how they were chosen."""

    mode: Mode
    files: tuple[str, ...]
    note: str
    errors: tuple[tuple[str, str, str], ...] = field(default=())  # (host, source, reason)

    def to_workerinput(self) -> dict[str, Any]:
        """A picklable form for pytest-xdist's ``workerinput``."""
        return {
            "mode": self.mode,
            "files": [os.fsencode(f) for f in self.files],  # bytes: a file name need not be UTF-8
            "note": self.note,
            "errors": [list(e) for e in self.errors],
        }

    @classmethod
    def from_workerinput(cls, data: dict[str, Any]) -> HostSources:
        """The controller's sources, on a worker."""
        errors = tuple((str(h), str(s), str(r)) for h, s, r in data["errors"])
        return cls(data["mode"], tuple(os.fsdecode(f) for f in data["files"]), data["note"], errors)


class PackSession:
    """One run of the pack, shared by hooks and fixtures through ``config.stash``."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.report_dir = Path(config.getoption("report_dir"))
        matrix_opt = config.getoption("matrix")
        self.matrix_path = Path(matrix_opt) if matrix_opt else config.rootpath / "matrix.yaml"
        try:
            self.matrix: Matrix = load_matrix(self.matrix_path)
            self.profile: Profile = self.matrix.profile(config.getoption("profile"))
        except MatrixError as exc:
            raise pytest.UsageError(f"the support matrix is malformed: {exc}") from exc
        except KeyError as exc:
            raise pytest.UsageError(f"--profile: {exc.args[0]}") from exc
        self.remote_benchmarks: dict[str, dict[str, Any]] = {}
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None and WORKER_KEY in workerinput:
            self.remote_benchmarks = dict(workerinput[WORKER_KEY]["remote_benchmarks"])
            self.sources = HostSources.from_workerinput(workerinput[WORKER_KEY]["host"])
            self.vm_sources = HostSources.from_workerinput(workerinput[WORKER_KEY]["vm"])
        else:
            suites = selected_suites(config)
            self.sources = self._choose_sources(live="host" in suites)
            self.vm_sources = self._choose_vm_sources(live="vm" in suites)
        self.expect_passthrough: str | None = config.getoption("expect_passthrough")
        self.reports_written: list[Path] = []
        self.benchmarks: dict[str, dict[str, Any]] = {}

    @cached_property
    def allure_label(self) -> pytest.MarkDecorator:
        """allure-pytest's label marker, looked up once (only once Allure has registered it)."""
        return pytest.mark.allure_label

    @property
    def is_worker(self) -> bool:
        """True inside a pytest-xdist worker."""
        return hasattr(self.config, "workerinput")

    def _choose_sources(self, *, live: bool) -> HostSources:
        given = list(self.config.getoption("host_snapshot") or [])
        if given:
            missing = [p for p in given if not Path(p).exists()]
            if missing:
                raise pytest.UsageError(f"--host-snapshot: no such file or folder: {', '.join(missing)}")
            files = tuple(str(p) for p in snapshot_files(given))
            return HostSources(
                "snapshots", files, f"Evaluated {len(files)} host snapshot(s) given with --host-snapshot."
            )
        if not live:
            return HostSources("none", (), "The host suite is not part of this run.")
        if sys.platform == "win32":
            return self._collect_live()
        lab = self.matrix_path.parent / "fixtures" / "hosts"
        if lab.is_dir():
            files = tuple(str(p) for p in snapshot_files([lab]))
            return HostSources(
                "sample-lab",
                files,
                f"Not on Windows: this run evaluated the sample lab in {lab} ({len(files)} example snapshots "
                "written from reference facts, not captured from real hosts). Give --host-snapshot PATH to "
                "evaluate your own snapshots, or run the pack on the Windows host.",
            )
        return HostSources("none", (), "Not on Windows and no --host-snapshot given: no host was evaluated.")

    def to_workerinput(self) -> dict[str, Any]:
        """Both kinds of sources, for pytest-xdist's ``workerinput``."""
        return {
            "host": self.sources.to_workerinput(),
            "vm": self.vm_sources.to_workerinput(),
            "remote_benchmarks": self.remote_benchmarks,
        }

    def _choose_vm_sources(self, *, live: bool) -> HostSources:
        given = list(self.config.getoption("vm_snapshot") or [])
        if given:
            missing = [p for p in given if not Path(p).exists()]
            if missing:
                raise pytest.UsageError(f"--vm-snapshot: no such file or folder: {', '.join(missing)}")
            files = tuple(str(p) for p in snapshot_files(given))
            return HostSources("snapshots", files, f"{len(files)} VM snapshot(s) given with --vm-snapshot.")
        if not live:
            return HostSources("none", (), "The in-VM suite is not part of this run.")
        transport = self.config.getoption("vm_transport") or ("eflow" if sys.platform == "win32" else None)
        if transport is not None:
            return self._collect_through(transport)
        return self._collect_live_vm()

    def _collect_through(self, name: str) -> HostSources:
        """Run the in-VM suite through a transport and keep what came back as this run's VM."""
        from eflowgpu.host.collector import find_powershell, write_snapshot
        from eflowgpu.orchestrate.transport import EflowTransport, LocalTransport, TransportError, VmTransport

        transport: VmTransport
        if name == "local":
            transport = LocalTransport(self.matrix_path.parent)
        else:
            powershell = find_powershell()
            if powershell is None:
                return HostSources(
                    "none",
                    (),
                    "The EFLOW transport needs PowerShell: run the pack on the Windows host.",
                    (("EFLOW VM", "eflow", "PowerShell not found: cannot reach the EFLOW VM"),),
                )
            transport = EflowTransport(powershell, min_memory_mb=self.matrix.vm.min_memory_mib)
        progress(
            self.config,
            f"eflowgpu: running the in-VM suite through the {transport.name} transport "
            f"(level {self.config.getoption('level')}); this can take minutes",
        )
        try:
            run = transport.run(
                level=self.config.getoption("level"),
                expect_passthrough=self.config.getoption("expect_passthrough"),
                timeout_s=TRANSPORT_TIMEOUT_S,
            )
        except TransportError as exc:
            return HostSources(
                "none",
                (),
                f"The in-VM suite could not run ({transport.name} transport).",
                (("EFLOW VM", transport.name, str(exc)),),
            )
        snapshot = dict(run.snapshot)
        host = self._single_host_label()
        if host is not None:
            snapshot["host"] = host
            snapshot["vm"] = f"{host}-EFLOW"
        target = self.report_dir / "vm-snapshot.json"
        self.report_dir.mkdir(parents=True, exist_ok=True)
        write_snapshot(snapshot, target)
        self.remote_benchmarks = remote_benchmarks(run.report)
        return HostSources(
            "live",
            (str(target),),
            f"The in-VM suite ran through the {transport.name} transport; "
            f"the VM's snapshot is saved as {target}.",
        )

    def _single_host_label(self) -> str | None:
        """The label of the one host this run judges (the VM joins it), else None."""
        if self.sources.mode == "live":
            from eflowgpu.host.collector import default_host_label

            return default_host_label()
        if len(self.sources.files) == 1:
            try:
                data = json.loads(Path(self.sources.files[0]).read_text(encoding="utf-8-sig"))
            except (OSError, ValueError):
                return None
            host = data.get("host") if isinstance(data, dict) else None
            return host if isinstance(host, str) and host.strip() else None
        return None

    def _collect_live_vm(self) -> HostSources:
        from eflowgpu.host.collector import SubprocessRunner, write_snapshot
        from eflowgpu.vm.collector import collect_vm_snapshot
        from eflowgpu.vm.live import add_nvml_probe

        target = self.report_dir / "vm-snapshot.json"
        self.report_dir.mkdir(parents=True, exist_ok=True)
        snapshot = collect_vm_snapshot(SubprocessRunner(), host=None)
        add_nvml_probe(snapshot)
        write_snapshot(snapshot, target)
        return HostSources(
            "live",
            (str(target),),
            f"In-VM checks examined this machine ({snapshot.get('vm')}); "
            f"its VM snapshot is saved as {target}.",
        )

    def _collect_live(self) -> HostSources:
        from eflowgpu.host.collector import (
            SubprocessRunner,
            collect_host_snapshot,
            find_powershell,
            write_snapshot,
        )

        host = platform.node() or "localhost"
        target = self.report_dir / "host-snapshot.json"
        self.report_dir.mkdir(parents=True, exist_ok=True)
        powershell = find_powershell()
        if powershell is None:
            return HostSources(
                "live",
                (),
                "Live Windows host.",
                ((host, "live", "PowerShell not found: cannot probe this host"),),
            )
        snapshot = collect_host_snapshot(SubprocessRunner(), powershell=powershell)
        write_snapshot(snapshot, target)
        return HostSources(
            "live",
            (str(target),),
            f"Live Windows host {host}; its snapshot is saved as {target} for later runs.",
        )

    @cached_property
    def systems(self) -> list[SystemResult]:
        """Every system of the run, evaluated once per process (deterministic)."""
        results = [error_result(host, source, reason) for host, source, reason in self.sources.errors]
        files = self.sources.files
        step = max(1, len(files) // 10)
        for start in range(0, len(files), step):
            results.extend(evaluate_host_files(self.matrix, self.profile, files[start : start + step]))
            if len(files) >= PROGRESS_FROM and not self.is_worker:
                progress(self.config, f"eflowgpu: evaluated {len(results)}/{len(files)} host snapshots")
        records = [read_vm_file(self.matrix, path) for path in self.vm_sources.files]
        return attach_vms(self.matrix, results, records, self.expect_passthrough)

    @cached_property
    def cases(self) -> dict[str, HostCase]:
        """The host suite's cases by key."""
        return {case.key: case for _, case in host_cases(self.systems)}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect benchmark figures from test reports (xdist workers' reports arrive here too)."""
        for name, value in report.user_properties:
            if name == BENCH_PROPERTY and isinstance(value, str):
                entry = json.loads(value)
                self.benchmarks[str(entry.get("id"))] = entry
        crashed = crashed_benchmark_entry(report, self.matrix, self.live_gpu, self.config.getoption("level"))
        if crashed is not None:  # issue 8: a killed worker's benchmark is an explicit crashed entry
            self.benchmarks.setdefault(crashed["id"], crashed)

    def live_record(self) -> VmRecord | None:
        """The record of the machine the suite runs on (the live VM), if this run examined it."""
        if self.vm_sources.mode != "live":
            return None
        wanted = set(self.vm_sources.files)
        for system in self.systems:
            vm = system.vm
            record = vm.record if isinstance(vm, VmJudgement) else vm
            if record is not None and record.source in wanted:
                return record
        return None

    def live_gpu(self) -> GpuContext:
        """The live VM's GPU product and passthrough type, to judge benchmark figures against."""
        record = self.live_record()
        seen = record.seen if record is not None else None
        if seen is None:
            return GpuContext(None, "none")
        model = seen.gpus[0].identity.model if seen.gpus else None
        return GpuContext(model, seen.passthrough)

    def write_reports(self) -> None:
        """Write the run's reports (on the controller or in a serial run; never on a worker)."""
        if self.is_worker:
            return
        run = {
            "mode": self.sources.mode,
            "note": self.sources.note,
            "vm_mode": self.vm_sources.mode,
            "vm_note": self.vm_sources.note,
        }
        report = build_report(self.matrix, self.profile, self.systems, run=run)
        self._attach_benchmarks(report)
        self._write_allure_meta()
        self.reports_written = write_reports(self.report_dir, report)

    def _write_allure_meta(self) -> None:
        """Allure's environment.properties and categories.json, once, from the controller."""
        folder = getattr(self.config.option, "allure_report_dir", None)
        if not folder:
            return
        from eflowgpu.report.allure_meta import base_environment, write_allure_meta

        environment = base_environment() | {
            "profile": self.profile.key,
            "matrix.sha256": self.matrix.sha256,
            "run.mode": self.sources.mode,
            "vm.mode": self.vm_sources.mode,
            "level": str(self.config.getoption("level")),
        }
        write_allure_meta(Path(folder), environment=environment)

    def _attach_benchmarks(self, report: dict[str, Any]) -> None:
        """Put the measured figures into the live VM's ``vm.benchmarks`` (in the registry's order)."""
        record = self.live_record()
        if not self.benchmarks or record is None:
            return
        order = {info.id: i for i, info in enumerate(BENCHMARKS)}
        entries = sorted(self.benchmarks.values(), key=lambda e: order.get(str(e.get("id")), len(order)))
        for system in report["systems"]:
            vm = system.get("vm")
            if isinstance(vm, dict) and vm.get("source") == record.source:
                vm["benchmarks"] = entries
                vm["speedups"] = speedups(entries)


def speedups(entries: list[dict[str, Any]]) -> dict[str, float]:
    """GPU figure / CPU figure for the benchmarks measured on both (``gemm_fp32``, ``resnet50_fp32``)."""
    values = {str(e["id"]): e.get("value") for e in entries}
    result = {}
    for gpu_id in ("gemm_fp32", "resnet50_fp32"):
        gpu, cpu = values.get(gpu_id), values.get(f"cpu_{gpu_id}")
        if isinstance(gpu, int | float) and isinstance(cpu, int | float) and cpu > 0:
            result[gpu_id] = round(gpu / cpu, 2)
    return result


PROGRESS_FROM = 200
"""Labs of this many snapshots or more report their evaluation's progress."""
TRANSPORT_TIMEOUT_S = 3600.0
"""How long the in-VM suite may take through a transport (benchmarks at ``long`` included)."""


def remote_benchmarks(report: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The benchmark figures of an in-VM run's report (its live VM's ``vm.benchmarks``), by id."""
    entries: dict[str, dict[str, Any]] = {}
    for system in (report or {}).get("systems") or []:
        vm = system.get("vm") if isinstance(system, dict) else None
        for entry in (vm or {}).get("benchmarks") or [] if isinstance(vm, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                entries[entry["id"]] = entry
    return entries


def progress(config: pytest.Config, line: str) -> None:
    """Tell the user what a long step is doing (on the terminal, outside output capture)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    else:  # before the terminal reporter is set up (while configuring)
        print(line, file=sys.stderr, flush=True)


SESSION_KEY = pytest.StashKey[PackSession]()


def selected_suites(config: pytest.Config) -> frozenset[str]:
    """Which of the pack's suites (``host``, ``vm``) this run collects, from its path arguments.

    The live host and the live VM are examined only for a suite that runs: ``pytest suites/host``
    inside a Linux VM must not examine that VM, and ``pytest suites/vm`` must not judge the sample lab.
    """
    kinds: set[str] = set()
    for arg in config.args:
        path = Path(arg.split("::", 1)[0])
        if not path.is_absolute():
            path = config.invocation_params.dir / path
        files = [path] if path.is_file() else sorted(path.rglob("test_*.py")) if path.is_dir() else []
        for file in files[:500]:
            try:
                text = file.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            kinds.update(kind for kind in ("host", "vm") if f"{kind}_suite(" in text)
            if "bench_run" in text:  # the in-VM benchmarks measure this machine
                kinds.add("vm")
    return frozenset(kinds)
