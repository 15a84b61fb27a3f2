"""The pack's fixtures, for its suites and for a lab's own site checks (``pytest --fixtures``).

Registered only in a run that uses the pack. A test that asks for ``system``, ``host``, ``gpu`` or
``vm`` is parametrized by the pack over every GPU of every system of the run (ids like
``LAB-T4-SRV2019-gpu1-t4``) and its outcome becomes the criterion ``site.<name>`` of that GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from eflowgpu.evaluate import SystemResult
from eflowgpu.host.facts import HostFacts
from eflowgpu.matrix import Matrix, Profile
from eflowgpu.pytest_plugin import benchcases
from eflowgpu.pytest_plugin.allurelib import allure, allure_on
from eflowgpu.pytest_plugin.benchcases import BenchCase, check_remote, machine_lock, run_case
from eflowgpu.pytest_plugin.session import SESSION_KEY, PackSession
from eflowgpu.pytest_plugin.sitechecks import Target
from eflowgpu.report.testreports import benchmark_labels
from eflowgpu.rules import GpuResult
from eflowgpu.vm.evaluate import VmJudgement, VmRecord

TARGET = "eflowgpu_target"


class PackFixtures:
    """The fixtures (a plugin object, registered by the pack when it is active)."""

    @pytest.fixture(scope="session")
    def pack(self, request: pytest.FixtureRequest) -> PackSession:
        """The pack's run: matrix, profile, options and the evaluated systems (``eflowgpu``)."""
        return request.config.stash[SESSION_KEY]

    @pytest.fixture(scope="session")
    def matrix(self, pack: PackSession) -> Matrix:
        """The support matrix this run judges by (``--matrix``): profiles, GPU catalog, thresholds."""
        return pack.matrix

    @pytest.fixture(scope="session")
    def profile(self, pack: PackSession) -> Profile:
        """The support profile this run judges by (``--profile``): its rows per GPU and passthrough."""
        return pack.profile

    @pytest.fixture
    def eflowgpu_target(self, request: pytest.FixtureRequest) -> Target:
        """Which GPU of which system a site check runs for (the pack parametrizes it)."""
        target = getattr(request, "param", None)
        if not isinstance(target, Target):
            raise pytest.UsageError("eflowgpu_target is parametrized by the pack; do not request it directly")
        return target

    @pytest.fixture
    def system(self, pack: PackSession, eflowgpu_target: Target) -> SystemResult:
        """One system of the run (host label, source, OS summary, judged GPUs, joined VM)."""
        return pack.systems[eflowgpu_target.system_index]

    @pytest.fixture
    def host(self, system: SystemResult) -> HostFacts:
        """The host's facts the pack judged (``HostFacts``: OS, features, PCI survey, drivers, ...)."""
        if system.facts is None:
            pytest.skip(f"{system.host}: no host facts (a VM without host data)")
        return system.facts

    @pytest.fixture
    def gpu(self, system: SystemResult, eflowgpu_target: Target) -> GpuResult:
        """One GPU of the system as judged: name, PCI ids, model, passthrough, verdict, criteria."""
        return system.gpus[eflowgpu_target.gpu_index]

    @pytest.fixture
    def vm(self, system: SystemResult) -> VmRecord:
        """The system's VM as observed (``VmRecord``: ``facts`` from inside the VM, ``seen`` GPUs and
        passthrough); skips when the run has no VM data for this system."""
        vm: Any = system.vm
        record = vm.record if isinstance(vm, VmJudgement) else vm
        if not isinstance(record, VmRecord) or record.facts is None:
            pytest.skip(f"{system.host}: no VM data (give --vm-snapshot, or run the in-VM suite)")
        return record

    @pytest.fixture
    def bench_run(self, pack: PackSession, record_property: Any) -> Callable[[BenchCase, Any], None]:
        """Runs one benchmark case with the ``benchmark`` fixture: isolated, timed out, judged, recorded.

        One benchmark at a time on the machine (a lock held while it runs, whichever xdist worker or
        run starts it). Benchmarks measure the machine the suite runs on; with recorded VM snapshots
        only (no live VM) they skip with that reason.
        """

        def run(case: BenchCase, benchmark: Any) -> None:
            vm = pack.sources("vm")
            if vm.remote_benchmarks:  # the benchmarks ran inside the VM, through a transport
                key = f"{case.bench_id}@{case.device}" if case.gpu_index is not None else case.bench_id
                check_remote(case, vm.remote_benchmarks.get(key), record_property)
                return
            if vm.mode != "live":
                pytest.skip(
                    "benchmarks measure the machine the suite runs on; this run judges recorded VMs only"
                )
            gpus = pack.live_gpus()
            index = case.gpu_index if case.gpu_index is not None and case.gpu_index < len(gpus) else 0
            if allure_on(pack.config):  # group benchmarks by system and GPU, as the criteria are
                for kind, value in benchmark_labels(*pack.bench_subject(), case.bench_id):
                    allure.dynamic.label(kind, value)
            with machine_lock():
                pack.say(f"eflowgpu: benchmark {case.bench_id} on {case.device} (level {case.level})")
                run_case(
                    case,
                    benchmark,
                    record_property,
                    matrix=pack.matrix,
                    gpu=gpus[index],
                    run=benchcases.isolated_runner(),
                )

        return run
