"""Where a run's host and VM data come from, and the live work that produces it (done lazily).

Nothing here runs at configure time. The plugin asks for a side's sources when a suite that needs
them is collected (:meth:`PackSession.host_sources`, :meth:`PackSession.vm_sources`), and only then
examines this machine: the Windows host through its PowerShell probes, the machine the pack runs on
as the VM, or the EFLOW VM through a transport. ``--collect-only`` and ``--fixtures`` never do.

Under pytest-xdist every worker collects; :func:`once_per_run` lets the first worker do the live
work and hands its result (a snapshot file) to the others, so the machine is examined once.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from eflowgpu.report.write import write_json_atomic
from eflowgpu.snapshot import snapshot_files

Mode = Literal["live", "snapshots", "sample-lab", "none"]
TRANSPORT_TIMEOUT_S = 3600.0
"""How long the in-VM suite may take through a transport (benchmarks at ``long`` included)."""
RUN_FOLDER = ".eflowgpu-run"
"""Where xdist workers of one run hand live results to each other (inside the report folder)."""


@dataclass(frozen=True)
class Sources:
    """Which snapshots one side (host or VM) of this run evaluates, and how they were chosen."""

    mode: Mode
    files: tuple[str, ...]
    note: str
    errors: tuple[tuple[str, str, str], ...] = field(default=())  # (label, source, reason)
    remote_benchmarks: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON form (xdist ``workeroutput`` and the workers' hand-over file)."""
        return {
            "mode": self.mode,
            "files": [_to_wire(f) for f in self.files],
            "note": self.note,
            "errors": [[_to_wire(part) for part in e] for e in self.errors],
            "remote_benchmarks": self.remote_benchmarks,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sources:
        """The inverse of :meth:`to_json`."""
        errors = tuple((_from_wire(h), _from_wire(s), _from_wire(r)) for h, s, r in data["errors"])
        files = tuple(_from_wire(f) for f in data["files"])
        return cls(data["mode"], files, data["note"], errors, dict(data["remote_benchmarks"]))


def _to_wire(text: str) -> str | dict[str, str]:
    """``text`` as JSON and execnet carry it: a file name that is not UTF-8 (lone surrogates, from
    Python's ``surrogateescape``) travels as its bytes, in hex, so it comes back the same name."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return {"fsbytes": os.fsencode(text).hex()}
    return text


def _from_wire(value: Any) -> str:
    """The inverse of :func:`_to_wire`."""
    if isinstance(value, dict):
        return os.fsdecode(bytes.fromhex(str(value["fsbytes"])))
    return str(value)


NO_HOST = Sources("none", (), "The host suite is not part of this run.")
NO_VM = Sources("none", (), "The in-VM suite is not part of this run.")


def on_windows() -> bool:
    """True on the Windows host (the seam tests replace to stand in for Windows)."""
    return sys.platform == "win32"


def given_files(option: str, paths: list[str]) -> tuple[str, ...]:
    """The snapshot files of ``--host-snapshot`` / ``--vm-snapshot`` PATHs (a usage error if missing).

    A dangling link is not missing: it is given, and reading it makes it an ``error`` system.
    """
    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        raise pytest.UsageError(f"{option}: no such file or folder: {', '.join(missing)}")
    return tuple(str(p) for p in snapshot_files(paths))


def snapshot_sources(option: str, paths: list[str], what: str) -> Sources:
    """Sources given on the command line."""
    files = given_files(option, paths)
    return Sources("snapshots", files, f"Evaluated {len(files)} {what} snapshot(s) given with {option}.")


def sample_lab(project: Path) -> Sources:
    """The sample lab beside the matrix (off Windows, when no host snapshot is given)."""
    lab = project / "fixtures" / "hosts"
    if not lab.is_dir():
        return Sources("none", (), "Not on Windows and no --host-snapshot given: no host was evaluated.")
    files = tuple(str(p) for p in snapshot_files([lab]))
    return Sources(
        "sample-lab",
        files,
        f"Not on Windows: this run evaluated the sample lab in {lab} ({len(files)} example snapshots "
        "written from reference facts, not captured from real hosts). Give --host-snapshot PATH to "
        "evaluate your own snapshots, or run the pack on the Windows host.",
    )


def collect_live_host(report_dir: Path) -> Sources:
    """Run the host probes through PowerShell and save the snapshot in the report folder."""
    from eflowgpu.host.collector import (
        SubprocessRunner,
        collect_host_snapshot,
        find_powershell,
        write_snapshot,
    )

    host = platform.node() or "localhost"
    powershell = find_powershell()
    if powershell is None:
        return Sources(
            "live",
            (),
            "Live Windows host.",
            ((host, "live", "PowerShell not found: cannot probe this host"),),
        )
    target = report_dir / "host-snapshot.json"
    report_dir.mkdir(parents=True, exist_ok=True)
    write_snapshot(collect_host_snapshot(SubprocessRunner(), powershell=powershell), target)
    return Sources(
        "live", (str(target),), f"Live Windows host {host}; its snapshot is saved as {target} for later runs."
    )


def collect_live_vm(report_dir: Path) -> Sources:
    """Examine the machine the pack runs on as the VM and save its snapshot in the report folder."""
    from eflowgpu.host.collector import SubprocessRunner, write_snapshot
    from eflowgpu.vm.collector import collect_vm_snapshot
    from eflowgpu.vm.live import add_nvml_probe

    target = report_dir / "vm-snapshot.json"
    report_dir.mkdir(parents=True, exist_ok=True)
    snapshot = collect_vm_snapshot(SubprocessRunner(), host=None)
    add_nvml_probe(snapshot)
    write_snapshot(snapshot, target)
    return Sources(
        "live",
        (str(target),),
        f"In-VM checks examined this machine ({snapshot.get('vm')}); its VM snapshot is saved as {target}.",
    )


@dataclass(frozen=True)
class TransportRequest:
    """What a run through a transport needs (all from the command line and the matrix)."""

    name: str
    project: Path
    report_dir: Path
    level: str
    expect_passthrough: str | None
    min_memory_mib: int
    host_label: str | None


def collect_through(request: TransportRequest, say: Callable[[str], None]) -> Sources:
    """Run the in-VM suite through a transport and keep what came back as this run's VM."""
    from eflowgpu.host.collector import find_powershell, write_snapshot
    from eflowgpu.orchestrate.transport import EflowTransport, LocalTransport, TransportError, VmTransport

    transport: VmTransport
    if request.name == "local":
        transport = LocalTransport(request.project)
    else:
        powershell = find_powershell()
        if powershell is None:
            return Sources(
                "none",
                (),
                "The EFLOW transport needs PowerShell: run the pack on the Windows host.",
                (("EFLOW VM", "eflow", "PowerShell not found: cannot reach the EFLOW VM"),),
            )
        transport = EflowTransport(powershell, min_memory_mb=request.min_memory_mib)
    say(
        f"eflowgpu: running the in-VM suite through the {transport.name} transport "
        f"(level {request.level}); this can take minutes"
    )
    try:
        run = transport.run(
            level=request.level,  # type: ignore[arg-type]  # checked by the option's choices
            expect_passthrough=request.expect_passthrough,
            timeout_s=TRANSPORT_TIMEOUT_S,
        )
    except TransportError as exc:
        return Sources(
            "none",
            (),
            f"The in-VM suite could not run ({transport.name} transport).",
            (("EFLOW VM", transport.name, str(exc)),),
        )
    snapshot = dict(run.snapshot)
    if request.host_label is not None:
        snapshot["host"] = request.host_label
        snapshot["vm"] = f"{request.host_label}-EFLOW"
    target = request.report_dir / "vm-snapshot.json"
    request.report_dir.mkdir(parents=True, exist_ok=True)
    write_snapshot(snapshot, target)
    return Sources(
        "live",
        (str(target),),
        f"The in-VM suite ran through the {transport.name} transport; "
        f"the VM's snapshot is saved as {target}.",
        remote_benchmarks=remote_benchmarks(run.report),
    )


def remote_benchmarks(report: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The benchmark figures of an in-VM run's report (its VM's ``vm.benchmarks``), by key."""
    entries: dict[str, dict[str, Any]] = {}
    for system in (report or {}).get("systems") or []:
        vm = system.get("vm") if isinstance(system, dict) else None
        for entry in (vm or {}).get("benchmarks") or [] if isinstance(vm, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                entries[bench_key(entry)] = entry
    return entries


def bench_key(entry: dict[str, Any]) -> str:
    """A benchmark entry's key: its id, and its device where that is one GPU of several (``cuda:1``)."""
    device = str(entry.get("device") or "")
    return f"{entry['id']}@{device}" if device.startswith("cuda:") else str(entry["id"])


def once_per_run(
    report_dir: Path, run_id: str | None, name: str, produce: Callable[[], Sources], *, wait_s: float
) -> Sources:
    """``produce()`` once per run: in a serial run directly; under xdist by the first worker to ask.

    The first worker creates a lock file, does the live work and writes its result beside it; the
    others wait for that result. A failure of the live work is handed over as an error too.
    """
    if run_id is None:
        return produce()
    folder = report_dir / RUN_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    done, lock = folder / f"{run_id}-{name}.json", folder / f"{run_id}-{name}.lock"
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return _wait_for(done, name, wait_s)
    try:
        sources = produce()
    except Exception as exc:
        sources = Sources("none", (), f"Examining this machine failed: {exc}", ((name, "live", str(exc)),))
        write_json_atomic(done, sources.to_json())
        raise
    write_json_atomic(done, sources.to_json())
    return sources


def _wait_for(done: Path, name: str, wait_s: float) -> Sources:
    deadline = time.monotonic() + wait_s
    while not done.is_file():
        if time.monotonic() > deadline:
            reason = f"another worker did not finish examining this machine within {wait_s:g} s"
            return Sources("none", (), reason, ((name, "live", reason),))
        time.sleep(0.05)
    return Sources.from_json(json.loads(done.read_text(encoding="utf-8")))


def forget_run(report_dir: Path, run_id: str) -> None:
    """Remove the hand-over files of a finished run (the controller does this)."""
    folder = report_dir / RUN_FOLDER
    for path in folder.glob(f"{run_id}-*"):
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # other runs' files, or already gone
        folder.rmdir()
