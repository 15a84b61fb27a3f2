"""What JUnit and Allure say beyond pass and fail, so that they tell the same story as the report.

* A criterion that **warns** passes its test; JUnit then carries the warning in the test's
  properties and ``system-out`` (:func:`warning_properties`, :func:`warning_text`), Allure in the
  test's description and a ``warning`` tag (:func:`allure_warning`).
* **Benchmarks** are grouped in Allure like the host criteria: system > GPU > benchmark
  (:func:`benchmark_labels`).
* A run **narrowed** by ``-k``/``-m`` (or by naming test ids) says what it covered, in every report
  (:func:`coverage`): the compatibility report still lists every evaluated system, whose verdicts
  come from the library, not from the tests that ran.

Nothing here imports pytest or allure: the plugin calls these functions and hands the results on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def _field(criterion: object, name: str) -> Any:
    """A criterion's field, from a :class:`~eflowgpu.criteria.Criterion` or a report dict."""
    if isinstance(criterion, Mapping):
        return criterion.get(name)
    value = getattr(criterion, name, None)
    return getattr(value, "value", value)  # a Status enum as its string


def warning_text(where: str, criterion: object) -> str:
    """``WARNING <where>: <detail>. To fix: <remedy>`` (one line) for a criterion that warns."""
    detail = str(_field(criterion, "detail") or "no detail given").rstrip(". ")
    remedy = _field(criterion, "remedy")
    text = f"WARNING {where}: {detail}" + (f". To fix: {remedy}" if remedy else "")
    return " ".join(text.split())


def warning_properties(criterion: object) -> list[tuple[str, str]]:
    """JUnit properties of a test whose criterion warns (none for any other status)."""
    if _field(criterion, "status") != "warn":
        return []
    props = [("warning", " ".join(str(_field(criterion, "detail") or "").split()))]
    remedy = _field(criterion, "remedy")
    if remedy:
        props.append(("remedy", " ".join(str(remedy).split())))
    return props


def allure_warning(where: str, criterion: object) -> tuple[str, list[tuple[str, str]]] | None:
    """For a criterion that warns: the Allure description and the labels to add (a ``warning`` tag)."""
    if _field(criterion, "status") != "warn":
        return None
    return warning_text(where, criterion), [("tag", "warning")]


def benchmark_labels(
    system: str | None, gpu: str | None, pci_id: str | None, bench_id: str
) -> list[tuple[str, str]]:
    """Allure labels of a benchmark test: system > GPU > benchmark, as the host criteria are grouped.

    ``system`` is the host (or VM) label the benchmarks measured, ``gpu``/``pci_id`` the GPU the VM
    sees (a CPU benchmark is grouped under ``CPU``).
    """
    where = gpu if gpu else "no GPU"
    if gpu and pci_id:
        where = f"{gpu} ({pci_id})"
    if bench_id.startswith("cpu_"):
        where = "CPU"
    return [
        ("feature", "in-VM benchmarks"),
        ("parentSuite", system or "this machine"),
        ("suite", where),
        ("subSuite", "benchmarks"),
        ("story", bench_id),
    ]


def coverage(
    *,
    collected: int | None,
    selected: int,
    keyword: str | None,
    markexpr: str | None,
    args: Sequence[str] = (),
    systems_selected: Iterable[str] = (),
    systems_total: int = 0,
) -> dict[str, Any] | None:
    """What a narrowed run covered, or None when every collected test ran.

    ``collected`` is None where the total is not known (pytest-xdist's controller sees only the
    tests its workers kept).

    The result goes into ``run.coverage`` of the report (``note`` is its one line), a JUnit global
    property and Allure's environment.
    """
    narrowed_by = []
    if keyword:
        narrowed_by.append(f"-k {keyword!r}")
    if markexpr:
        narrowed_by.append(f"-m {markexpr!r}")
    ids = [arg for arg in args if "::" in arg]
    if ids:
        narrowed_by.append(f"{len(ids)} test id(s)")
    if (collected is None or selected >= collected) and not narrowed_by:
        return None
    hosts = sorted(set(systems_selected))
    how = " and ".join(narrowed_by) or "deselection"
    of = f" of {collected}" if collected is not None else ""
    note = f"narrowed by {how}: {selected}{of} tests ran"
    if systems_total:
        note += f", covering {len(hosts)} of {systems_total} systems"
    note += (
        "; the report still lists every evaluated system (verdicts come from the evaluation, "
        "not from the tests that ran)"
    )
    return {
        "narrowed_by": narrowed_by,
        "collected": collected,
        "selected": selected,
        "systems_selected": hosts,
        "systems_total": systems_total,
        "note": note,
    }
