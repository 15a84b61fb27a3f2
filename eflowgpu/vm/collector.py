"""The live VM collector: run the VM probes through ``/bin/sh`` and build a VM snapshot.

The envelope is ``shared/contracts/vm-snapshot.md``'s ``eflow-gpu-vm-snapshot/1``, with the host
snapshot's rules: raw output, an absent probe was not captured, a non-zero exit code ran and failed.
It is the same structure whether it is written to a file (:func:`write_snapshot`, shared with the
host collector) or evaluated in memory.

Execution sits behind the host collector's :class:`~eflowgpu.host.collector.Runner` protocol;
:class:`~eflowgpu.host.collector.SubprocessRunner` is the real one (process group killed at the time
limit), tests use a fake. Only the constant commands of :mod:`eflowgpu.vm.commands` ever reach an
argument vector.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from eflowgpu.host.collector import (
    EXIT_RUNNER_ERROR,
    Runner,
    RunResult,
    SubprocessRunner,
    collector_label,
    probe_record,
    write_snapshot,
)
from eflowgpu.vm.commands import VM_PROBES, VM_SNAPSHOT_FORMAT, VmProbe, shell_argv

__all__ = [
    "Runner",
    "SubprocessRunner",
    "collect_vm_snapshot",
    "default_vm_label",
    "write_snapshot",
]


def default_vm_label() -> str:
    """Return the VM label: this machine's host name (an EFLOW VM is named ``<host>-EFLOW``)."""
    return platform.node() or "unknown-vm"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _format_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("clock() must return a timezone-aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run(runner: Runner, command: str, timeout_s: float) -> RunResult:
    try:
        return runner.run(shell_argv(command), timeout_s)
    except Exception as exc:  # a crashing runner costs this probe only
        return RunResult(EXIT_RUNNER_ERROR, "", f"runner error: {type(exc).__name__}: {exc}")


def _run_probe(runner: Runner, probe: VmProbe) -> dict[str, Any]:
    result = _run(runner, probe.command, probe.timeout_s)
    if result.exit_code != 0 and not result.timed_out:
        for fallback in probe.fallbacks:
            alternative = _run(runner, fallback, probe.timeout_s)
            if alternative.exit_code == 0:
                return probe_record(fallback, alternative)
    return probe_record(probe.command, result)


def _check_label(field: str, label: str | None) -> None:
    if label is not None and not label.strip():
        raise ValueError(f"{field} label must not be blank")


def collect_vm_snapshot(
    runner: Runner,
    *,
    host: str | None,
    vm: str | None = None,
    probes: Sequence[VmProbe] = VM_PROBES,
    clock: Callable[[], datetime] = _utc_now,
) -> dict[str, Any]:
    """Run every probe through ``/bin/sh -c`` and return the VM snapshot envelope.

    ``host`` is the label of the Windows host the VM runs on (it joins the VM to that host's
    snapshot in a report); ``None`` leaves the field out, as for a plain Linux machine. ``vm``
    defaults to this machine's host name. Probes run one after another, each with its own time
    limit; one that fails or times out is recorded with its non-zero exit code and the next one
    still runs. ``captured_at`` is the ``clock()`` reading taken before the first probe.

    Raises ``ValueError`` for duplicate probe names, a blank label or a naive ``clock()``.
    """
    names = [probe.name for probe in probes]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"duplicate probe names: {', '.join(duplicates)}")
    _check_label("host", host)
    _check_label("vm", vm)
    captured_at = _format_utc(clock())
    records = {probe.name: _run_probe(runner, probe) for probe in probes}
    envelope: dict[str, Any] = {"format": VM_SNAPSHOT_FORMAT}
    if host is not None:
        envelope["host"] = host
    envelope["vm"] = vm if vm is not None else default_vm_label()
    envelope["captured_at"] = captured_at
    envelope["collector"] = collector_label()
    envelope["probes"] = records
    return envelope
