"""Test cases of the host suite: one per system x GPU x criterion, with readable, stable ids."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from eflowgpu.criteria import Criterion, Status, Verdict
from eflowgpu.evaluate import SystemResult
from eflowgpu.report.testreports import warning_properties, warning_text
from eflowgpu.rules import GpuResult
from eflowgpu.textsafe import neutral

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class EligibilityWarning(UserWarning):
    """A recommendation is not met: the criterion warns, the test passes."""


class SnapshotUnusable(Exception):
    """The system's snapshot could not be read or evaluated (reported as broken, not failed)."""


@dataclass(frozen=True)
class HostCase:
    """What one host-suite test checks: a criterion of a GPU of a system (or the system's error)."""

    key: str
    system: SystemResult
    gpu: GpuResult | None
    criterion: Criterion | None

    def __repr__(self) -> str:
        """How pytest and Allure show the parameter: system / GPU / criterion."""
        if self.gpu is None or self.criterion is None:
            return neutral(
                f"{self.system.host} / {'snapshot' if self.system.status == 'error' else 'no GPU'}"
            )
        return neutral(f"{self.system.host} / {self.gpu.name} / {self.criterion.id}")

    def properties(self) -> list[tuple[str, str]]:
        """JUnit properties of the test."""
        props = [("system", self.system.host), ("source", self.system.source)]
        if self.gpu is not None and self.criterion is not None:
            props += [
                ("gpu", self.gpu.name),
                ("pci_id", self.gpu.pci_id),
                ("verdict", self.gpu.verdict.value),
                ("criterion", self.criterion.id),
                ("status", self.criterion.status.value),
                *warning_properties(self.criterion),
            ]
        return [(name, neutral(value)) for name, value in props]

    def parameters(self) -> list[tuple[str, str]]:
        """Allure parameters: system, GPU, passthrough, criterion."""
        params = [("system", self.system.host)]
        if self.gpu is not None and self.criterion is not None:
            params += [
                ("gpu", f"{self.gpu.name} ({self.gpu.pci_id})"),
                ("passthrough", self.gpu.passthrough or "none"),
                ("criterion", self.criterion.id),
            ]
        return params

    def allure_labels(self) -> list[tuple[str, str]]:
        """Allure labels: the tree system > GPU > criterion, feature, story, severity, tag."""
        labels = [("feature", "host eligibility"), ("parentSuite", self.system.host)]
        if self.gpu is None or self.criterion is None:
            return [*labels, ("suite", "snapshot")]
        severity = "critical" if self.criterion.required else "minor"
        return [
            *labels,
            ("suite", f"{self.gpu.name} ({self.gpu.pci_id})"),
            ("subSuite", self.criterion.id),
            ("story", self.criterion.id),
            ("severity", severity),
            ("tag", self.gpu.verdict.value),
        ]

    def ready(self) -> None:
        """Set-up: an unreadable snapshot raises :class:`SnapshotUnusable` (JUnit error, Allure broken)."""
        if self.system.status == "error":
            raise SnapshotUnusable(neutral(f"{self.system.source}: {self.system.error}"))

    def marker_names(self) -> tuple[str, ...]:
        """The selection markers of the test: passthrough type, required or recommended."""
        if self.gpu is None or self.criterion is None:
            return ()
        kind = "required" if self.criterion.required else "recommended"
        return (*passthrough_markers(self.gpu.passthrough), kind)

    def check(self) -> None:
        """Pass, fail, warn or skip exactly as the library judged the criterion."""
        self.ready()
        if self.gpu is None or self.criterion is None:
            if not self.system.gpus:
                pytest.skip(neutral(f"{self.system.host}: no GPU found on this host"))
            return  # the snapshot was read and evaluated
        crit = self.criterion
        where = f"{self.system.host} / {self.gpu.name} / {crit.id}"
        if self.gpu.verdict is Verdict.UNSUPPORTED:
            pytest.skip(neutral(f"{where}: unsupported GPU: {crit.message()}"))
        check_criterion(where, crit)


def check_criterion(where: str, crit: Criterion) -> None:
    """Fail, warn or skip as ``crit`` says (the same for host and VM criteria).

    The messages hold snapshot text: they are printed neutralised (no control characters, no CI
    workflow commands), see :func:`~eflowgpu.textsafe.neutral`.
    """
    if crit.status is Status.FAIL:
        pytest.fail(neutral(f"{where}: {crit.message()}"), pytrace=False)
    if crit.status is Status.WAIVED and crit.waiver is not None:  # never shown as a pass
        waiver = crit.waiver
        pytest.xfail(
            neutral(f"{where} waived by {waiver.id} (approved by {waiver.approved_by}): {crit.message()}")
        )
    if crit.status in (Status.UNKNOWN, Status.SKIP):
        pytest.skip(neutral(f"{where} {crit.status.value}: {crit.message()}"))
    if crit.status is Status.WARN:
        print(neutral(warning_text(where, crit)))  # JUnit's system-out (junit_logging = system-out)
        warnings.warn(EligibilityWarning(neutral(f"{where}: {crit.message()}")), stacklevel=2)


def passthrough_markers(passthrough: str | None) -> tuple[str, ...]:
    """``dda`` / ``gpupv`` for a passthrough type (none for no row)."""
    return {"DDA": ("dda",), "GPU-PV": ("gpupv",)}.get(passthrough or "", ())


def slug(text: str, limit: int = 48) -> str:
    """A test-id-safe form of untrusted text: ASCII letters, digits, ``_.-``; bounded."""
    cleaned = _UNSAFE.sub("_", text).strip("_") or "x"
    return cleaned[:limit]


def system_bases(systems: Sequence[SystemResult]) -> list[str]:
    """Each system's test-id stem: its label made safe, made unique (``~index``) where labels repeat."""
    bases: list[str] = []
    seen: set[str] = set()
    for index, system in enumerate(systems):
        base = slug(system.host)
        if base in seen:  # two snapshots of one host: keep ids unique (pytest's own dedup is quadratic)
            base = f"{base}~{index}"
        seen.add(base)
        bases.append(base)
    return bases


def gpu_stem(base: str, g_index: int, gpu: GpuResult) -> str:
    """A GPU's test-id stem: ``LAB-T4-SRV2019-gpu1-t4``."""
    return f"{base}-gpu{g_index}-{slug(gpu.model or gpu.pci_id.replace(':', '_'), 24)}"


def host_cases(systems: Sequence[SystemResult]) -> list[tuple[str, HostCase]]:
    """Every criterion case of the host suite with its id, in report order.

    An unsupported GPU gets one case (``gpu.supported``), which skips. Systems in error and systems
    without a GPU have no criterion cases: :func:`system_cases` covers them.
    """
    cases: list[tuple[str, HostCase]] = []
    for s_index, (system, base) in enumerate(zip(systems, system_bases(systems), strict=True)):
        for g_index, gpu in enumerate(system.gpus):
            gpu_id = gpu_stem(base, g_index, gpu)
            criteria = gpu.criteria
            if gpu.verdict is Verdict.UNSUPPORTED:
                criteria = tuple(c for c in criteria if c.id == "gpu.supported")
            for crit in criteria:
                key = f"{s_index}/{g_index}/{crit.id}"
                cases.append((f"{gpu_id}-{crit.id}", HostCase(key, system, gpu, crit)))
    return cases


def system_cases(systems: Sequence[SystemResult]) -> list[tuple[str, HostCase]]:
    """A case for each host system the criteria tests cannot cover: a snapshot that could not be
    read or evaluated (an error) and a host without a GPU (a skip). The others are their criteria."""
    return [
        (base, HostCase(str(index), system, None, None))
        for index, (system, base) in enumerate(zip(systems, system_bases(systems), strict=True))
        if system.status == "error" or not system.gpus
    ]
