"""Re-judging a bundle's snapshots with the pack's own rules: the certifier's own report.

The snapshots are evaluated in memory exactly as the run evaluated their files (same library,
same ``source`` labels), VMs are joined to their hosts, and the waivers are applied as of the day
the run applied them, so a faithful package gives back its own report's judgement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from eflowgpu.bundle.manifest import AbsentEntry, SnapshotEntry
from eflowgpu.errors import MatrixError, SnapshotError
from eflowgpu.evaluate import SystemResult, error_result, evaluate_host_snapshot
from eflowgpu.matrix import Matrix, Profile
from eflowgpu.matrix.load import build_matrix
from eflowgpu.matrix.yamlstrict import load_yaml
from eflowgpu.report.labels import as_mapping, as_mappings
from eflowgpu.report.model import build_report
from eflowgpu.snapshot import HOST_FORMAT, VM_FORMAT, label_from_path, parse_snapshot
from eflowgpu.vm.evaluate import VmRecord, attach_vms, read_vm_snapshot
from eflowgpu.waivers import WaiverSet, apply_waivers

EXPECT_PREFIX = "--expect-passthrough "


@dataclass(frozen=True)
class Judgement:
    """How to re-judge: which matrix and profile, which waivers as of which day."""

    matrix: Matrix
    profile: str | None
    waivers: WaiverSet | None
    judged_on: date | None


def matrix_from_bytes(raw: bytes, name: str) -> Matrix:
    """Load a matrix from its bytes (``name`` labels errors), as :func:`eflowgpu.matrix.load_matrix` does."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MatrixError(name, None, "", f"not UTF-8 text: {exc}") from exc
    data = load_yaml(text, Path(name))
    if data is None:
        raise MatrixError(name, 1, "", "the matrix is empty")
    return build_matrix(data, Path(name), hashlib.sha256(raw).hexdigest())


def expected_passthrough(report: Mapping[str, Any]) -> str | None:
    """The run's ``--expect-passthrough``, as the report's VMs recorded it (``vm.expected_from``)."""
    for system in as_mappings(report.get("systems")):
        expected = as_mapping(system.get("vm")).get("expected_from")
        if isinstance(expected, str) and expected.startswith(EXPECT_PREFIX):
            return expected.removeprefix(EXPECT_PREFIX).strip()
    return None


def rejudge(
    snapshots: Sequence[tuple[SnapshotEntry, bytes]],
    judgement: Judgement,
    *,
    expect_passthrough: str | None = None,
    absent: Sequence[AbsentEntry] = (),
) -> dict[str, Any]:
    """The report the pack gives for these snapshots (``generated_at`` is now; compare without it).

    ``absent`` systems had no snapshot file (a failed collector): they are errors as recorded.

    Raises:
        KeyError: the profile is not in the matrix.
    """
    matrix = judgement.matrix
    profile = matrix.profile(judgement.profile)
    hosts = [error_result(a.host, a.source, a.error) for a in absent]
    vms: list[VmRecord] = []
    for entry, raw in snapshots:
        if entry.kind == "host":
            hosts.append(_host(matrix, profile, entry.source, raw))
        else:
            vms.append(_vm(matrix, entry.source, raw))
    systems = attach_vms(matrix, hosts, vms, expect_passthrough)
    section: dict[str, Any] = {}
    if judgement.waivers is not None and judgement.judged_on is not None:
        systems, outcome = apply_waivers(systems, judgement.waivers, judgement.judged_on)
        section = {"waivers": outcome.to_dict()}
    return build_report(matrix, profile, systems) | section


def _host(matrix: Matrix, profile: Profile, source: str, raw: bytes) -> SystemResult:
    try:
        snapshot = parse_snapshot(raw, HOST_FORMAT, source=source)
    except SnapshotError as exc:
        return error_result(label_from_path(source), source, str(exc))
    return evaluate_host_snapshot(matrix, profile, snapshot)


def _vm(matrix: Matrix, source: str, raw: bytes) -> VmRecord:
    try:
        snapshot = parse_snapshot(raw, VM_FORMAT, source=source)
    except SnapshotError as exc:
        return VmRecord(source, label_from_path(source), None, error=str(exc))
    return read_vm_snapshot(matrix, snapshot)
