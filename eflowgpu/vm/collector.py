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

import os
import platform
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from eflowgpu.host.collector import (
    Runner,
    SubprocessRunner,
    collector_label,
    format_utc,
    run_probes,
    utc_now,
    write_snapshot,
)
from eflowgpu.vm.commands import SCOPES, VM_PROBES, VM_SNAPSHOT_FORMAT, VmProbe, shell_argv

__all__ = [
    "Runner",
    "SubprocessRunner",
    "collect_vm_snapshot",
    "default_vm_label",
    "detect_scope",
    "write_snapshot",
]


def default_vm_label() -> str:
    """Return the VM label: this machine's host name (an EFLOW VM is named ``<host>-EFLOW``)."""
    return platform.node() or "unknown-vm"


SCOPE_ENV = "EFLOWGPU_SCOPE"
"""Environment variable that states the scope outright (deploy/Dockerfile sets it to ``container``)."""
CONTAINER_MARKERS = ("/.dockerenv", "/run/.containerenv")
"""Files container engines create in a container's root: Docker/Moby and Podman."""


def detect_scope(
    environ: Mapping[str, str] | None = None, exists: Callable[[str], bool] = os.path.exists
) -> str:
    """Where the probes run: ``container`` inside the pack's (or any) container, else ``vm``.

    ``EFLOWGPU_SCOPE`` wins when it names a scope; otherwise a container engine's marker file in the
    root file system (``/.dockerenv``, ``/run/.containerenv``) means ``container``.
    """
    stated = (os.environ if environ is None else environ).get(SCOPE_ENV, "").strip().lower()
    if stated in SCOPES:
        return stated
    return "container" if any(exists(marker) for marker in CONTAINER_MARKERS) else "vm"


def _check_label(field: str, label: str | None) -> None:
    if label is not None and not label.strip():
        raise ValueError(f"{field} label must not be blank")


def collect_vm_snapshot(
    runner: Runner,
    *,
    host: str | None,
    vm: str | None = None,
    probes: Sequence[VmProbe] = VM_PROBES,
    clock: Callable[[], datetime] = utc_now,
    scope: str | None = None,
) -> dict[str, Any]:
    """Run every probe through ``/bin/sh -c`` and return the VM snapshot envelope.

    ``host`` is the label of the Windows host the VM runs on (it joins the VM to that host's
    snapshot in a report); ``None`` leaves the field out, as for a plain Linux machine. ``vm``
    defaults to this machine's host name. Probes run one after another, each with its own time
    limit; one that fails or times out is recorded with its non-zero exit code and the next one
    still runs. ``captured_at`` is the ``clock()`` reading taken before the first probe.

    ``scope`` (contract revision 2) is recorded when the probes ran in a container (``container``);
    ``None`` detects it (:func:`detect_scope`); ``vm``, the contract's default, is left out.

    Raises ``ValueError`` for duplicate probe names, a blank label, an unknown scope or a naive
    ``clock()``.
    """
    _check_label("host", host)
    _check_label("vm", vm)
    where = detect_scope() if scope is None else scope
    if where not in SCOPES:
        raise ValueError(f"unknown scope {where!r} (expected one of {', '.join(SCOPES)})")
    captured_at = format_utc(clock())
    records = run_probes(runner, probes, shell_argv)
    envelope: dict[str, Any] = {"format": VM_SNAPSHOT_FORMAT}
    if host is not None:
        envelope["host"] = host
    envelope["vm"] = vm if vm is not None else default_vm_label()
    envelope["captured_at"] = captured_at
    envelope["collector"] = collector_label()
    if where != "vm":
        envelope["scope"] = where
    envelope["probes"] = records
    return envelope
