"""Comparing a packaged report with the report re-derived from its snapshots, field by field.

The comparison is generic over the report's shape: systems are matched by their ``source`` (and
their order among equal sources), GPUs by position, criteria by ``id``; every other field is
compared as it is, so criteria and fields added later are compared without changes here. Fields
that cannot be re-derived from snapshots (the in-VM benchmark figures, the run's own metadata)
are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eflowgpu.report.labels import as_mapping, as_mappings

NOT_REJUDGED = frozenset({"vm.benchmarks", "vm.speedups"})
"""System fields measured in the VM, not derived from snapshots (checked against pytest-benchmark)."""

MISSING = "(absent)"


@dataclass(frozen=True)
class Difference:
    """One field whose packaged value is not what the snapshots give."""

    system: str
    gpu: str | None
    field: str
    packaged: object
    rejudged: object

    @property
    def kind(self) -> str:
        """``verdict``, ``criterion``, ``passthrough`` or ``report`` (any other field)."""
        if self.field.endswith("verdict") or "verdicts" in self.field:
            return "verdict"
        if "criteria[" in self.field:
            return "criterion"
        return "passthrough" if "passthrough" in self.field else "report"

    @property
    def where(self) -> str:
        """``system / GPU (PCI id)`` or the system alone."""
        return f"{self.system} / {self.gpu}" if self.gpu else self.system

    def message(self) -> str:
        """One line naming where, which field and both values."""
        return (
            f"{self.where}: {self.field}: the report says {_show(self.packaged)}, "
            f"the snapshots give {_show(self.rejudged)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """As ``verify.json`` lists it."""
        return {
            "system": self.system,
            "gpu": self.gpu,
            "field": self.field,
            "packaged": self.packaged,
            "rejudged": self.rejudged,
        }


def _show(value: object) -> str:
    return MISSING if value is _ABSENT else repr(value)


class _Absent:
    def __repr__(self) -> str:
        return MISSING


_ABSENT: Any = _Absent()


def flatten(value: object, prefix: str = "") -> dict[str, object]:
    """Leaf values by dotted path; lists of objects with an ``id`` are keyed by it, others by index."""
    if isinstance(value, Mapping):
        out: dict[str, object] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        keyed = all(isinstance(i, Mapping) and isinstance(i.get("id"), str) for i in value) and value
        out = {}
        for index, item in enumerate(value):
            label = str(item["id"]) if keyed else str(index)
            out.update(flatten(item, f"{prefix}[{label}]"))
        if not value:
            out[prefix] = []
        return out
    return {prefix: value}


def system_key(system: Mapping[str, Any]) -> str:
    """What matches a packaged system to its re-judged one: its ``source`` (or host label)."""
    return str(system.get("source") or system.get("host"))


def gpu_label(gpu: Mapping[str, Any]) -> str:
    """``name (PCI id)``."""
    return f"{gpu.get('name')} ({gpu.get('pci_id')})"


def compare_reports(packaged: Mapping[str, Any], rejudged: Mapping[str, Any]) -> list[Difference]:
    """Every difference between the packaged report's systems and the re-judged ones."""
    differences: list[Difference] = []
    theirs = _by_key(as_mappings(packaged.get("systems")))
    ours = _by_key(as_mappings(rejudged.get("systems")))
    for key, system in theirs.items():
        host = str(system.get("host"))
        mine = ours.get(key)
        if mine is None:
            differences.append(Difference(host, None, "system", f"from {key}", "no such system"))
            continue
        differences.extend(compare_systems(system, mine))
    for key, system in ours.items():
        if key not in theirs:
            differences.append(
                Difference(str(system.get("host")), None, "system", "no such system", f"from {key}")
            )
    return differences


def _by_key(systems: list[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for system in systems:
        key = system_key(system)
        number = 2
        unique = key
        while unique in out:
            unique = f"{key}#{number}"
            number += 1
        out[unique] = system
    return out


def compare_systems(packaged: Mapping[str, Any], rejudged: Mapping[str, Any]) -> list[Difference]:
    """The differences of one system: its own fields, then each GPU's, then the VM's."""
    host = str(packaged.get("host"))
    out = _diff(host, None, _without(packaged, "gpus"), _without(rejudged, "gpus"))
    gpus, mine = as_mappings(packaged.get("gpus")), as_mappings(rejudged.get("gpus"))
    for index in range(max(len(gpus), len(mine))):
        theirs_gpu = gpus[index] if index < len(gpus) else {}
        my_gpu = mine[index] if index < len(mine) else {}
        label = gpu_label(theirs_gpu or my_gpu)
        if not theirs_gpu or not my_gpu:
            out.append(
                Difference(
                    host, label, "gpu", "present" if theirs_gpu else _ABSENT, "present" if my_gpu else _ABSENT
                )
            )
            continue
        out.extend(_diff(host, label, theirs_gpu, my_gpu))
    return out


def _without(system: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in system.items() if k != key}


def _diff(
    host: str, gpu: str | None, packaged: Mapping[str, Any], rejudged: Mapping[str, Any]
) -> list[Difference]:
    theirs, mine = flatten(packaged), flatten(rejudged)
    out = []
    for field in sorted(set(theirs) | set(mine), key=lambda f: (_rank(f), f)):
        if any(field == skip or field.startswith((f"{skip}.", f"{skip}[")) for skip in NOT_REJUDGED):
            continue
        a, b = theirs.get(field, _ABSENT), mine.get(field, _ABSENT)
        if a != b or type(a) is not type(b):
            out.append(Difference(host, gpu, field, a, b))
    return out


def _rank(field: str) -> int:
    """Verdicts first, then passthrough types and statuses, then the rest."""
    if field.endswith("verdict") or ".verdicts" in field or field.startswith("verdicts"):
        return 0
    if "passthrough" in field or field.endswith(".status") or field == "status":
        return 1
    return 2


def verdict_rows(packaged: Mapping[str, Any], other: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per system and GPU: the packaged verdict beside another judgement's (another matrix or profile)."""
    rows: list[dict[str, Any]] = []
    ours = _by_key(as_mappings(other.get("systems")))
    for key, system in _by_key(as_mappings(packaged.get("systems"))).items():
        mine = as_mapping(ours.get(key))
        if "verdict" in system or "verdict" in mine:
            rows.append(_row(system, None, system.get("verdict"), mine.get("verdict")))
        my_gpus = as_mappings(mine.get("gpus"))
        for index, gpu in enumerate(as_mappings(system.get("gpus"))):
            my_gpu = my_gpus[index] if index < len(my_gpus) else {}
            rows.append(_row(system, gpu_label(gpu), gpu.get("verdict"), my_gpu.get("verdict")))
    return rows


def _row(system: Mapping[str, Any], gpu: str | None, packaged: object, other: object) -> dict[str, Any]:
    return {"system": system.get("host"), "gpu": gpu, "packaged": packaged, "other": other}
