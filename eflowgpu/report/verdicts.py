"""The system's overall verdict (contract revision 2, ``systems[].verdict``) and the order of systems.

The reports read ``system["verdict"]`` when the report has it; a report written before revision 2
(or by another tool) has none, and :func:`system_verdict` computes it from the same fields by the
contract's rule. It works on the report's dicts (possibly damaged: unexpected values rank worst)
and imports nothing from the rules, so every renderer can use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from eflowgpu.report.labels import VERDICTS, as_mapping, as_mappings

ERROR = "error"
"""The system verdict of a snapshot that could not be read or evaluated."""

_BEST_FIRST = VERDICTS  # eligible, eligible-with-warnings, incomplete, not-eligible, unsupported

ATTENTION_ORDER: tuple[str, ...] = (
    "not-eligible",
    ERROR,
    "unsupported",
    "incomplete",
    "eligible-with-warnings",
    "eligible",
)
"""How the reports list systems: failures first, then incomplete, warnings, eligible."""


def _rank(verdict: object) -> int:
    """Best-first rank of a GPU verdict; a value outside the contract ranks after every verdict."""
    return (
        _BEST_FIRST.index(verdict)
        if isinstance(verdict, str) and verdict in _BEST_FIRST
        else len(_BEST_FIRST)
    )


def _at_most(verdict: str, cap: str) -> str:
    """``verdict`` downgraded to ``cap`` when ``cap`` is worse."""
    return cap if _rank(cap) > _rank(verdict) else verdict


def _vm_cap(criteria: Iterable[Mapping[str, Any]]) -> str:
    """The best system verdict the VM's ``vm.*`` criteria allow."""
    cap = "eligible"
    for criterion in criteria:
        status, required = criterion.get("status"), criterion.get("required") is True
        if status == "fail" and required:
            return "not-eligible"
        if status == "unknown" and required:
            cap = _at_most(cap, "incomplete")
        elif status == "warn":
            cap = _at_most(cap, "eligible-with-warnings")
    return cap


def system_verdict(system: Mapping[str, Any]) -> str:
    """The system's verdict: ``system["verdict"]`` when given, else computed by the contract's rule.

    ``error`` when ``status`` is ``error``; otherwise the verdict of the best GPU (a host with no
    GPU is ``unsupported``), downgraded by the VM when one was examined: a required ``vm.*``
    criterion that fails makes it ``not-eligible``, one that is unknown makes it at most
    ``incomplete``, a ``vm.*`` warning at most ``eligible-with-warnings``. A VM without a host is
    judged by its VM criteria alone (``unsupported`` when no GPU reached it: its ``vm.*`` criteria
    all skip, which must not read as eligible); a VM snapshot that was unusable makes it at most
    ``incomplete``.
    """
    given = system.get("verdict")
    if isinstance(given, str) and given:
        return given
    if system.get("status") == ERROR:
        return ERROR
    gpus = as_mappings(system.get("gpus"))
    vm = system.get("vm")
    if gpus:
        verdict = min((str(g.get("verdict")) for g in gpus), key=_rank)
    elif isinstance(vm, Mapping) and system.get("os") is None and as_mappings(vm.get("gpus")):
        verdict = "eligible"  # a VM snapshot with no host: its own criteria decide
    else:
        verdict = "unsupported"
    if isinstance(vm, Mapping):
        verdict = _at_most(verdict, _vm_cap(as_mappings(vm.get("criteria"))))
        if as_mapping(vm).get("status") == ERROR:
            verdict = _at_most(verdict, "incomplete")
    return verdict


def attention_rank(verdict: str) -> int:
    """Position of a system verdict in :data:`ATTENTION_ORDER`; anything else comes right after errors."""
    if verdict in ATTENTION_ORDER:
        return ATTENTION_ORDER.index(verdict)
    return ATTENTION_ORDER.index(ERROR)


def by_attention(systems: Iterable[Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    """``(verdict, system)`` pairs, failures first; the report's order within one verdict."""
    judged = [(system_verdict(s), s) for s in systems]
    return sorted(judged, key=lambda pair: attention_rank(pair[0]))
