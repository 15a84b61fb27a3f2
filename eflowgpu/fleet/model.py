"""The typed fleet: systems from many ``compat-report.json`` files, grouped into matrix cells.

Everything here is immutable. Strings come verbatim from untrusted reports; the renderers escape
them. A system is keyed by its host label (compared case-insensitively, as Windows computer names
are); when several reports name the same host, the newest (by the report's ``generated_at``) is
the system and the older ones are its :attr:`FleetSystem.history`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eflowgpu.report.labels import VERDICTS

FLEET_FORMAT = "eflow-gpu-fleet/1"
"""The ``format`` of ``fleet.json``."""


def verdict_rank(verdict: str | None) -> int:
    """0 for ``eligible`` … 4 for ``unsupported``; a value outside the contract ranks worst (5)."""
    if verdict in VERDICTS:
        return VERDICTS.index(verdict)
    return len(VERDICTS)


def host_key(host: str) -> str:
    """The key that identifies a host across reports: the label, case-folded."""
    return host.casefold()


@dataclass(frozen=True, slots=True)
class InputError:
    """A report (or a part of one) that could not be used, with one line saying why."""

    path: str
    error: str


@dataclass(frozen=True, slots=True)
class OsInfo:
    """The Windows release of a system, as its report gives it."""

    name: str | None
    edition: str | None
    build: int | None
    ubr: int | None
    installation_type: str | None


@dataclass(frozen=True, slots=True)
class GpuEntry:
    """One GPU of a system and its verdict."""

    name: str | None
    pci_id: str | None
    model: str | None
    brand: str | None
    passthrough: str | None
    verdict: str | None
    criteria: tuple[tuple[str, str], ...] = ()
    """``(id, status)`` of the criteria that did not pass (fail, unknown, warn, waived, …)."""


@dataclass(frozen=True, slots=True)
class Benchmark:
    """One in-VM benchmark figure of a system."""

    id: str
    value: float | None
    unit: str | None
    reference: float | None
    threshold: float | None
    ratio: float | None
    status: str | None


@dataclass(frozen=True, slots=True)
class Sighting:
    """An older report of a host (its history): when, where, and what its GPUs were judged."""

    generated_at: str
    report: str
    status: str
    verdicts: tuple[tuple[str | None, str | None], ...]
    """``(pci_id, verdict)`` per GPU."""


@dataclass(frozen=True, slots=True)
class FleetSystem:
    """The newest report of one host."""

    host: str
    report: str
    """Path of the ``compat-report.json`` this system comes from."""
    generated_at: str
    profile: str | None
    source: str | None
    """The snapshot the report judged."""
    status: str
    error: str | None
    os: OsInfo | None
    gpus: tuple[GpuEntry, ...]
    benchmarks: tuple[Benchmark, ...]
    history: tuple[Sighting, ...] = ()
    """Older reports of this host, newest first."""
    matrix_sha256: str | None = None
    """The SHA-256 of the matrix the report was judged by."""

    @property
    def judged_by(self) -> tuple[str | None, str | None]:
        """``(profile, matrix SHA-256)``: reports judged differently are never merged into one."""
        return self.profile, self.matrix_sha256


@dataclass(frozen=True, slots=True)
class ModelKey:
    """A row of the matrix: a catalog model, or a brand or name for GPUs outside the catalog."""

    key: str
    label: str
    in_catalog: bool


@dataclass(frozen=True, slots=True)
class Release:
    """A column of the matrix: a Windows release (name, or build when unnamed) and edition."""

    key: str
    name: str
    edition: str
    build: int | None
    """The lowest build seen in this column (for ordering)."""

    @property
    def label(self) -> str:
        """``name · edition``."""
        return f"{self.name} \u00b7 {self.edition}"


@dataclass(frozen=True, slots=True)
class CellSystem:
    """One GPU of one system in a cell."""

    host: str
    gpu: str | None
    pci_id: str | None
    verdict: str | None
    report: str
    generated_at: str
    profile: str | None


@dataclass(frozen=True, slots=True)
class Cell:
    """GPU model x Windows release: its systems and their best and worst verdicts."""

    id: str
    """A sanitised HTML id (``cell-…``), unique in the fleet."""
    model: ModelKey
    release: Release
    systems: tuple[CellSystem, ...]
    count: int
    """Distinct systems (a system with two GPUs of the model counts once)."""
    best: str | None
    worst: str | None
    verdicts: tuple[tuple[str, int], ...]
    """GPUs per verdict, best first."""


@dataclass(frozen=True, slots=True)
class Change:
    """A difference from the baseline: a verdict or a benchmark that got worse (or better)."""

    kind: str
    """``verdict``, ``gpu-missing``, ``system-error``, ``benchmark`` or ``benchmark-failed``."""
    host: str
    subject: str
    """The GPU's PCI id, or the benchmark id."""
    before: str
    after: str
    detail: str
    gpu: str | None = None
    """The GPU's name (verdict changes)."""
    criteria: tuple[str, ...] = ()
    """The criteria whose status got worse (or better), as ``id before -> after``."""

    @property
    def what(self) -> str:
        """The GPU's name and PCI id (``NVIDIA Tesla T4 (10DE:1EB8)``), or the benchmark id."""
        return f"{self.gpu} ({self.subject})" if self.gpu else self.subject

    @property
    def full_detail(self) -> str:
        """The detail and the criteria that changed (``eligible -> not-eligible; dda.acs pass -> fail``)."""
        return self.detail + (f"; {', '.join(self.criteria)}" if self.criteria else "")

    def line(self) -> str:
        """One line for the terminal: system, GPU, both verdicts and the criteria that changed."""
        return f"{self.host} / {self.what}: {self.full_detail}"


@dataclass(frozen=True, slots=True)
class Judgement:
    """The profile and matrix some of the merged reports were judged by, and how many reports."""

    profile: str | None
    matrix_sha256: str | None
    reports: int

    @property
    def label(self) -> str:
        """``profile (matrix 1a2b3c4d)``."""
        sha = f"matrix {self.matrix_sha256[:12]}" if self.matrix_sha256 else "matrix unknown"
        return f"{self.profile or '(no profile)'} ({sha})"


class MixedProfilesError(ValueError):
    """Reports judged by different profiles or matrices, given without asking to mix them (one line)."""


@dataclass(frozen=True, slots=True)
class BaselineComparison:
    """The fleet against an earlier fleet report."""

    path: str
    generated_at: str | None
    regressions: tuple[Change, ...]
    improvements: tuple[Change, ...]
    new_systems: tuple[str, ...]
    removed_systems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Fleet:
    """The merged fleet."""

    generated_at: str
    reports: tuple[str, ...]
    """The reports that were read."""
    input_errors: tuple[InputError, ...]
    systems: tuple[FleetSystem, ...]
    models: tuple[ModelKey, ...]
    releases: tuple[Release, ...]
    cells: tuple[Cell, ...]
    baseline: BaselineComparison | None = field(default=None)
    judgements: tuple[Judgement, ...] = ()
    """The profiles and matrices the reports were judged by (more than one only when mixed on purpose)."""

    def cell(self, model_key: str, release_key: str) -> Cell | None:
        """The cell of a model and release, if any system has it."""
        for cell in self.cells:
            if cell.model.key == model_key and cell.release.key == release_key:
                return cell
        return None
