"""Merging reports into a fleet: the newest report of each host, grouped by GPU model and release.

Cells are keyed by the GPU's catalog model (or, outside the catalog, its brand or name) and the
Windows release (``os.name``, or ``build N`` when the report has no name, and ``os.edition``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from eflowgpu.fleet.load import MAX_REPORT_BYTES, LoadedReport, load_report
from eflowgpu.fleet.model import (
    Cell,
    CellSystem,
    Fleet,
    FleetSystem,
    GpuEntry,
    InputError,
    Judgement,
    MixedProfilesError,
    ModelKey,
    OsInfo,
    Release,
    Sighting,
    host_key,
    verdict_rank,
)

_UNSAFE = re.compile(r"[^a-z0-9]+")


def model_key(gpu: GpuEntry) -> ModelKey:
    """The matrix row of a GPU: its catalog model, else its brand, else its name."""
    if gpu.model:
        return ModelKey(gpu.model, gpu.model, True)
    if gpu.brand:
        return ModelKey(f"brand:{gpu.brand}", f"{gpu.brand} (not in catalog)", False)
    if gpu.name:
        return ModelKey(f"name:{gpu.name}", f"{gpu.name} (not in catalog)", False)
    return ModelKey("unknown", "unknown GPU", False)


def release_of(os_info: OsInfo | None) -> Release:
    """The matrix column of a system: its release name (or build) and edition."""
    build = os_info.build if os_info else None
    name = os_info.name if os_info and os_info.name else None
    if name is None:
        name = f"build {build}" if build is not None else "unknown release"
    edition = os_info.edition if os_info and os_info.edition else "unknown edition"
    return Release(f"{name}|{edition}", name, edition, build)


def cell_id(model: str, release: str) -> str:
    """A safe, unique HTML id for a cell: ``cell-`` + slugs + a short hash of the exact keys."""
    digest = hashlib.sha1(f"{model}\0{release}".encode(), usedforsecurity=False).hexdigest()[:8]
    slug_model = _UNSAFE.sub("-", model.casefold()).strip("-")[:32]
    slug_release = _UNSAFE.sub("-", release.casefold()).strip("-")[:48]
    return f"cell-{slug_model}--{slug_release}-{digest}"


def _timestamp(when: datetime | None) -> str:
    moment = (when or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def _sighting(system: FleetSystem) -> Sighting:
    return Sighting(
        generated_at=system.generated_at,
        report=system.report,
        status=system.status,
        verdicts=tuple((g.pci_id, g.verdict) for g in system.gpus),
    )


def _newest(occurrences: list[tuple[datetime, int, FleetSystem]]) -> FleetSystem:
    """The newest occurrence with the older ones as its history (ties: the later input wins)."""
    occurrences.sort(key=lambda o: (o[0], o[1]))
    newest = occurrences[-1][2]
    if len(occurrences) == 1:
        return newest
    history = tuple(_sighting(o[2]) for o in reversed(occurrences[:-1]))
    return FleetSystem(
        host=newest.host,
        report=newest.report,
        generated_at=newest.generated_at,
        profile=newest.profile,
        source=newest.source,
        status=newest.status,
        error=newest.error,
        os=newest.os,
        gpus=newest.gpus,
        benchmarks=newest.benchmarks,
        history=history,
        matrix_sha256=newest.matrix_sha256,
    )


def per_profile(model: ModelKey, profile: str | None) -> ModelKey:
    """The row of a model in a fleet of several profiles: one row per model and profile."""
    shown = profile or "(no profile)"
    return ModelKey(f"{model.key}@{shown}", f"{model.label} \u00b7 {shown}", model.in_catalog)


def build_cells(
    systems: Iterable[FleetSystem], *, mixed: bool = False
) -> tuple[tuple[ModelKey, ...], tuple[Release, ...], tuple[Cell, ...]]:
    """The matrix: its rows, its columns and its non-empty cells (row-major).

    ``mixed`` (reports of several profiles, merged on purpose): one row per model and profile, so
    that no cell counts verdicts of different tables together.
    """
    members: dict[tuple[str, str], list[tuple[FleetSystem, GpuEntry]]] = {}
    models: dict[str, ModelKey] = {}
    releases: dict[str, Release] = {}
    for system in systems:
        if system.status == "error" or not system.gpus:
            continue
        release = release_of(system.os)
        known = releases.get(release.key)
        if known is None or (
            release.build is not None and (known.build is None or release.build < known.build)
        ):
            releases[release.key] = release
        for gpu in system.gpus:
            model = per_profile(model_key(gpu), system.profile) if mixed else model_key(gpu)
            models.setdefault(model.key, model)
            members.setdefault((model.key, release.key), []).append((system, gpu))
    model_order = sorted(models.values(), key=lambda m: (not m.in_catalog, m.key.casefold(), m.key))
    release_order = sorted(
        releases.values(),
        key=lambda r: (r.build if r.build is not None else 1 << 30, r.name, r.edition),
    )
    cells: list[Cell] = []
    for model in model_order:
        for release in release_order:
            entries = members.get((model.key, release.key))
            if not entries:
                continue
            ranks = [verdict_rank(g.verdict) for _, g in entries]
            best = entries[ranks.index(min(ranks))][1].verdict
            worst = entries[ranks.index(max(ranks))][1].verdict
            counts: dict[str, int] = {}
            for _, gpu in entries:
                key = gpu.verdict if gpu.verdict is not None else "unknown"
                counts[key] = counts.get(key, 0) + 1
            ordered = sorted(counts.items(), key=lambda kv: (verdict_rank(kv[0]), kv[0]))
            cells.append(
                Cell(
                    id=cell_id(model.key, release.key),
                    model=model,
                    release=release,
                    systems=tuple(
                        CellSystem(s.host, g.name, g.pci_id, g.verdict, s.report, s.generated_at, s.profile)
                        for s, g in sorted(
                            entries, key=lambda e: (verdict_rank(e[1].verdict), e[0].host.casefold())
                        )
                    ),
                    count=len({host_key(s.host) for s, _ in entries}),
                    best=best,
                    worst=worst,
                    verdicts=tuple(ordered),
                )
            )
    return tuple(model_order), tuple(release_order), tuple(cells)


def fleet_key(system: FleetSystem, *, mixed: bool) -> str:
    """The key of a system in the fleet: its host (case-folded), and its profile and matrix when mixed."""
    if not mixed:
        return host_key(system.host)
    return f"{host_key(system.host)}\0{system.profile or ''}\0{system.matrix_sha256 or ''}"


def _judgements(loaded: list[LoadedReport]) -> tuple[Judgement, ...]:
    """The profiles and matrices of the reports; a report without a matrix hash joins its profile's."""
    by_profile: dict[str, dict[str, int]] = {}
    for report in loaded:
        shas = by_profile.setdefault(report.profile or "", {})
        shas[report.matrix_sha256 or ""] = shas.get(report.matrix_sha256 or "", 0) + 1
    found: list[Judgement] = []
    for profile, shas in sorted(by_profile.items()):
        known = sorted(sha for sha in shas if sha)
        if len(known) <= 1:
            found.append(Judgement(profile or None, known[0] if known else None, sum(shas.values())))
        else:
            found.extend(Judgement(profile or None, sha or None, n) for sha, n in sorted(shas.items()))
    return tuple(found)


def mixed_message(judgements: tuple[Judgement, ...]) -> str:
    """The one line that refuses to merge reports judged by different profiles or matrices."""
    shown = "; ".join(f"{j.label}: {j.reports} report(s)" for j in judgements)
    return (
        f"the reports were judged by {len(judgements)} different profiles or matrices ({shown}); "
        "merging them would mix verdicts of different tables: choose one with --profile NAME, "
        "or keep each host's reports apart per profile with --mix-profiles"
    )


def merge_reports(
    paths: Iterable[Path | str],
    *,
    max_bytes: int = MAX_REPORT_BYTES,
    generated_at: datetime | None = None,
    profile: str | None = None,
    mix_profiles: bool = False,
) -> Fleet:
    """Merge the reports at ``paths`` into a :class:`Fleet`; unreadable ones become input errors.

    Reports judged by different profiles or matrices are never merged silently: ``profile`` keeps
    only the reports judged by that profile; ``mix_profiles`` keeps them all, each host once per
    profile and matrix; otherwise :class:`MixedProfilesError` says which judgements were found.
    """
    errors: list[InputError] = []
    loaded: list[LoadedReport] = []
    for path in paths:
        report, problems = load_report(Path(path), max_bytes)
        errors.extend(problems)
        if report is not None and (profile is None or report.profile == profile):
            loaded.append(report)
    judgements = _judgements(loaded)
    if len(judgements) > 1 and not mix_profiles:
        raise MixedProfilesError(mixed_message(judgements))
    by_host: dict[str, list[tuple[datetime, int, FleetSystem]]] = {}
    order = 0
    for report in loaded:
        for system in report.systems:
            if not system.matrix_sha256:  # judged by its profile's only known matrix
                known = [j.matrix_sha256 for j in judgements if j.profile == system.profile]
                system = replace(system, matrix_sha256=known[0] if len(known) == 1 else None)
            key = fleet_key(system, mixed=len(judgements) > 1)
            by_host.setdefault(key, []).append((report.when, order, system))
            order += 1
    read = [report.path for report in loaded]
    systems = tuple(_newest(by_host[key]) for key in sorted(by_host))
    models, releases, cells = build_cells(systems, mixed=len(judgements) > 1)
    return Fleet(
        generated_at=_timestamp(generated_at),
        reports=tuple(read),
        input_errors=tuple(errors),
        systems=systems,
        models=models,
        releases=releases,
        cells=cells,
        judgements=judgements,
    )


__all__ = ["build_cells", "cell_id", "fleet_key", "merge_reports", "mixed_message", "model_key", "release_of"]
