"""Waivers (errata): a certifier's audited exceptions for known false failures.

A waivers file is YAML the certifier controls, validated like the matrix (errors name the file,
the line and the field)::

    format: eflow-gpu-waivers/1
    waivers:
      - id: W-2026-001
        criterion: dda.acs
        gpu: t4                # the matrix's model key, or a PCI id VEN:DEV (10DE:1EB8)
        host: LAB-T4-*         # a host label or a glob pattern (case-insensitive)
        reason: ACS is provided by the root port's firmware; verified with the vendor
        approved_by: certification@example.com
        expires: 2027-06-30    # the last day it applies

Applying waivers turns each *failed* criterion a live waiver matches into ``waived`` (with the
waiver's note) and recomputes the GPU's verdict, so the verdict follows as if the criterion had
passed. A waiver past its expiry date does not apply; expired and unmatched waivers are reported.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from eflowgpu.criteria import Criterion, Status, WaiverNote, verdict_of
from eflowgpu.errors import MatrixError
from eflowgpu.evaluate import SystemResult
from eflowgpu.matrix.load import _Node as YamlNode  # the matrix's validating node, shared
from eflowgpu.matrix.yamlstrict import load_yaml
from eflowgpu.rules import GpuResult
from eflowgpu.vm.evaluate import VmJudgement

WAIVERS_FORMAT = "eflow-gpu-waivers/1"
MAX_WAIVERS_BYTES = 4 * 1024 * 1024
_CRITERION = re.compile(r"^[a-z][a-z0-9]*\.[a-z0-9_]+$")
_PCI_ID = re.compile(r"^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}$")
_FIELDS = ("id", "criterion", "gpu", "host", "reason", "approved_by", "expires")
NOT_WAIVABLE = frozenset({"gpu.supported"})
"""Criteria no waiver may cover: an unsupported GPU has no row, so no passthrough type to deploy."""


class WaiversError(MatrixError):
    """The waivers file is malformed; the message names the file, the line and the field."""


@dataclass(frozen=True)
class Waiver:
    """One waiver: which failure it covers, why, who approved it and until when."""

    id: str
    criterion: str
    gpu: str
    host: str
    reason: str
    approved_by: str
    expires: date
    line: int = 0

    def note(self) -> WaiverNote:
        """The report's ``waiver`` object for a criterion this waiver covers."""
        return WaiverNote(self.id, self.reason, self.approved_by, self.expires.isoformat())

    def expired_on(self, day: date) -> bool:
        """True when ``day`` is after the last day the waiver applies."""
        return day > self.expires

    def covers_host(self, host: str) -> bool:
        """True when the host label matches the waiver's label or pattern (case-insensitive)."""
        return fnmatch.fnmatchcase(host.casefold(), self.host.casefold())

    def covers_gpu(self, model: str | None, pci_id: str | None) -> bool:
        """True when the GPU is the waiver's model (matrix key) or has its PCI id."""
        if _PCI_ID.match(self.gpu):
            return pci_id is not None and pci_id.upper().startswith(self.gpu.upper())
        return model is not None and model.casefold() == self.gpu.casefold()

    def to_dict(self) -> dict[str, str]:
        """The waiver as a report records it in ``waivers.entries`` (read back by :func:`parse_entries`)."""
        return {
            "id": self.id,
            "criterion": self.criterion,
            "gpu": self.gpu,
            "host": self.host,
            "reason": self.reason,
            "approved_by": self.approved_by,
            "expires": self.expires.isoformat(),
        }


@dataclass(frozen=True)
class WaiverSet:
    """The waivers of one file (or of a report's record of them)."""

    path: str
    sha256: str
    waivers: tuple[Waiver, ...]


@dataclass(frozen=True)
class Applied:
    """One failure a waiver turned into ``waived``."""

    waiver: str
    host: str
    gpu: str | None
    pci_id: str | None
    criterion: str

    def to_dict(self) -> dict[str, str | None]:
        """The report's ``waivers.applied[]`` object."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class WaiverOutcome:
    """What applying a waiver set did: the failures waived, and the waivers that did nothing."""

    waivers: WaiverSet
    judged_on: date
    applied: tuple[Applied, ...]
    expired: tuple[Waiver, ...]
    unmatched: tuple[Waiver, ...]

    def to_dict(self) -> dict[str, Any]:
        """The report's additive ``waivers`` section."""
        return {
            "file": self.waivers.path,
            "sha256": self.waivers.sha256,
            "judged_on": self.judged_on.isoformat(),
            "applied": [a.to_dict() for a in self.applied],
            "expired": [{"id": w.id, "expires": w.expires.isoformat()} for w in self.expired],
            "unmatched": [{"id": w.id, "criterion": w.criterion} for w in self.unmatched],
            "entries": [w.to_dict() for w in self.waivers.waivers],
        }

    def summary(self) -> str:
        """One line for the terminal: what was waived, and which waivers expired or matched nothing."""
        line = f"waivers {self.waivers.path}: {len(self.applied)} failure(s) waived"
        if self.applied:
            line += f" ({', '.join(sorted({a.waiver for a in self.applied}))})"
        if self.expired:
            shown = ", ".join(f"{w.id} (expired {w.expires.isoformat()})" for w in self.expired)
            line += f"; expired, not applied: {shown}"
        if self.unmatched:
            line += f"; matched no failure: {', '.join(w.id for w in self.unmatched)}"
        return line


def load_waivers(path: Path | str) -> WaiverSet:
    """Read and validate the waivers file at ``path``.

    Raises:
        WaiversError: the file is missing, too big, not YAML, or an entry is malformed (file:line:field).
    """
    file = Path(path)
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_WAIVERS_BYTES + 1)
    except OSError as exc:
        raise WaiversError(file, None, "", f"cannot read the waivers file: {exc.strerror or exc}") from exc
    if len(raw) > MAX_WAIVERS_BYTES:
        raise WaiversError(file, None, "", f"larger than the limit of {MAX_WAIVERS_BYTES} bytes")
    return parse_waivers(raw, str(file))


def parse_waivers(raw: bytes, where: str) -> WaiverSet:
    """Validate the bytes of a waivers file (``where`` names it in errors)."""
    file = Path(where)
    try:
        text = raw.decode("utf-8")
        data = load_yaml(text, file)
    except UnicodeDecodeError as exc:
        raise WaiversError(file, None, "", f"not UTF-8 text: {exc}") from exc
    except MatrixError as exc:
        raise WaiversError(exc.path, exc.line, exc.field, exc.reason) from exc
    if data is None:
        raise WaiversError(file, 1, "", "the waivers file is empty")
    try:
        root = YamlNode(file, data, "", 1)
        root.check_keys({"waivers"}, ("format",))
        found = root.text("format", WAIVERS_FORMAT)
        if found != WAIVERS_FORMAT:
            raise root.error("format", f"expected {WAIVERS_FORMAT!r}, got {found!r}")
        waivers = tuple(_waiver(node) for node in root.list_of_nodes("waivers"))
    except WaiversError:
        raise
    except MatrixError as exc:
        raise WaiversError(exc.path, exc.line, exc.field, exc.reason) from exc
    seen: dict[str, int] = {}
    for waiver in waivers:
        if waiver.id in seen:
            raise WaiversError(
                file,
                waiver.line,
                "waivers.id",
                f"duplicate id {waiver.id!r} (first on line {seen[waiver.id]})",
            )
        seen[waiver.id] = waiver.line
    return WaiverSet(where, hashlib.sha256(raw).hexdigest(), waivers)


def _waiver(node: YamlNode) -> Waiver:
    node.check_keys(set(_FIELDS))
    criterion = node.require_text("criterion")
    if not _CRITERION.match(criterion):
        raise node.error("criterion", f"{criterion!r} is not a criterion id (like dda.acs)")
    if criterion in NOT_WAIVABLE:
        raise node.error("criterion", f"{criterion} cannot be waived: the profile has no row for the GPU")
    expires = node.map.get("expires")
    if isinstance(expires, str):
        try:
            expires = date.fromisoformat(expires)
        except ValueError:
            raise node.error("expires", f"expected a date YYYY-MM-DD, got {expires!r}") from None
    if not isinstance(expires, date):
        raise node.error("expires", f"expected a date YYYY-MM-DD, got {expires!r}")
    gpu = node.require_text("gpu")
    if ":" in gpu and not _PCI_ID.match(gpu):
        raise node.error("gpu", f"{gpu!r} is neither a model key (t4) nor a PCI id VEN:DEV (10DE:1EB8)")
    return Waiver(
        id=node.require_text("id"),
        criterion=criterion,
        gpu=gpu,
        host=node.require_text("host"),
        reason=node.require_text("reason"),
        approved_by=node.require_text("approved_by"),
        expires=expires,
        line=node.line,
    )


def parse_entries(entries: Iterable[Mapping[str, Any]], where: str, sha256: str = "") -> WaiverSet:
    """The waivers a report recorded (its ``waivers.entries``), validated as a file's would be."""
    waivers = []
    for index, entry in enumerate(entries):
        missing = [f for f in _FIELDS if not isinstance(entry.get(f), str) or not entry.get(f)]
        if missing:
            raise WaiversError(where, None, f"waivers.entries[{index}]", f"missing {', '.join(missing)}")
        try:
            expires = date.fromisoformat(str(entry["expires"]))
        except ValueError:
            raise WaiversError(where, None, f"waivers.entries[{index}].expires", "not a date") from None
        text = {f: str(entry[f]) for f in _FIELDS}
        waivers.append(
            Waiver(
                id=text["id"],
                criterion=text["criterion"],
                gpu=text["gpu"],
                host=text["host"],
                reason=text["reason"],
                approved_by=text["approved_by"],
                expires=expires,
            )
        )
    return WaiverSet(where, sha256, tuple(waivers))


def apply_waivers(
    systems: Sequence[SystemResult], waivers: WaiverSet, on: date
) -> tuple[list[SystemResult], WaiverOutcome]:
    """Waive the failures the live waivers cover (as of ``on``); return the systems and what was done."""
    live = [w for w in waivers.waivers if not w.expired_on(on)]
    applied: list[Applied] = []
    result = [_waive_system(system, live, applied) for system in systems]
    used = {a.waiver for a in applied}
    expired = tuple(w for w in waivers.waivers if w.expired_on(on))
    unmatched = tuple(w for w in live if w.id not in used)
    return result, WaiverOutcome(waivers, on, tuple(applied), expired, unmatched)


def _waive_system(system: SystemResult, live: Sequence[Waiver], applied: list[Applied]) -> SystemResult:
    if system.status != "ok" or not live:
        return system
    host_waivers = [w for w in live if w.covers_host(system.host)]
    if not host_waivers:
        return system
    gpus = tuple(_waive_gpu(system.host, gpu, host_waivers, applied) for gpu in system.gpus)
    vm = system.vm
    if isinstance(vm, VmJudgement):
        seen = [(g.identity.model.key if g.identity.model else None, g.gpu.pci_id) for g in vm.gpus]
        candidates = [w for w in host_waivers if any(w.covers_gpu(m, p) for m, p in seen)]
        if candidates:
            name = vm.gpus[0].label if vm.gpus else None
            pci = vm.gpus[0].gpu.pci_id if vm.gpus else None
            criteria = _waive_criteria(vm.criteria, candidates, applied, system.host, name, pci)
            vm = dataclasses.replace(vm, criteria=criteria)
    return dataclasses.replace(system, gpus=gpus, vm=vm)


def _waive_gpu(host: str, gpu: GpuResult, waivers: Sequence[Waiver], applied: list[Applied]) -> GpuResult:
    matching = [w for w in waivers if w.covers_gpu(gpu.model, gpu.pci_id)]
    if not matching:
        return gpu
    criteria = _waive_criteria(gpu.criteria, matching, applied, host, gpu.name, gpu.pci_id)
    if criteria == gpu.criteria:
        return gpu
    return dataclasses.replace(gpu, criteria=criteria, verdict=verdict_of(criteria))


def _waive_criteria(
    criteria: tuple[Criterion, ...],
    waivers: Sequence[Waiver],
    applied: list[Applied],
    host: str,
    gpu: str | None,
    pci_id: str | None,
) -> tuple[Criterion, ...]:
    out = []
    for criterion in criteria:
        waiver = next((w for w in waivers if w.criterion == criterion.id), None)
        if criterion.status is Status.FAIL and waiver is not None:
            criterion = dataclasses.replace(criterion, status=Status.WAIVED, waiver=waiver.note())
            applied.append(Applied(waiver.id, host, gpu, pci_id, criterion.id))
        out.append(criterion)
    return tuple(out)
