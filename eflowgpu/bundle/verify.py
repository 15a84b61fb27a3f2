"""Verifying a bundle: the manifest, the signature, every file's hash, then a re-judgement.

The certifier does not have to trust the packaged verdicts: every snapshot is judged again with
the pack's own rules, the packaged matrix and the waivers the run recorded, and the result is
compared with the packaged report. Any difference, any file changed, missing or added, a matrix
that is not the one named, or a signature that does not hold is a problem; the package verifies
only when there is none. A judgement under another matrix, profile or waivers file (the
certifier's) is shown beside the packaged verdicts, and is not a problem.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from eflowgpu import __version__
from eflowgpu.bundle.archive import DEFAULT_LIMITS, ArchiveError, ArchiveLimits, read_archive
from eflowgpu.bundle.benchcheck import check_benchmarks
from eflowgpu.bundle.compare import compare_reports, verdict_rows
from eflowgpu.bundle.manifest import (
    MANIFEST_NAME,
    REPORT_MEMBER,
    SIGNATURE_NAME,
    Manifest,
    ManifestError,
    parse_manifest,
)
from eflowgpu.bundle.rejudge import Judgement, expected_passthrough, matrix_from_bytes, rejudge
from eflowgpu.bundle.signing import signature_holds
from eflowgpu.errors import MatrixError
from eflowgpu.matrix import Matrix
from eflowgpu.report.labels import as_mapping, as_mappings
from eflowgpu.waivers import WaiverSet, parse_entries

VERIFY_FORMAT = "eflow-gpu-verify/1"


class VerifyUsageError(ValueError):
    """The certifier's options cannot be used with this package (one line)."""


@dataclass(frozen=True)
class Finding:
    """One problem: what kind (``file``, ``verdict``, ``signature``, …) and one line naming it."""

    kind: str
    message: str


@dataclass(frozen=True)
class CertifierView:
    """The certifier's own judgement: another matrix, profile or waivers file."""

    matrix: Matrix | None = None
    profile: str | None = None
    waivers: WaiverSet | None = None

    @property
    def wanted(self) -> bool:
        """True when any of the three was given."""
        return self.matrix is not None or self.profile is not None or self.waivers is not None


@dataclass
class Verification:
    """Everything ``eflowgpu verify`` found."""

    bundle: str
    manifest: Manifest | None = None
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rejudged_systems: int = 0
    other: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when everything holds."""
        return not self.findings

    def problem(self, kind: str, message: str) -> None:
        """Record a problem."""
        self.findings.append(Finding(kind, message))

    def to_dict(self) -> dict[str, Any]:
        """``verify.json`` (``eflow-gpu-verify/1``)."""
        manifest = self.manifest
        return {
            "format": VERIFY_FORMAT,
            "bundle": self.bundle,
            "verified_at": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "ok": self.ok,
            "package": None
            if manifest is None
            else {
                "pack_version": manifest.pack_version,
                "report_generated_at": manifest.report_generated_at,
                "python": manifest.python,
                "platform": manifest.platform,
                "submitter": manifest.submitter,
                "profile": manifest.profile,
                "matrix_sha256": manifest.matrix_sha256,
                "files": len(manifest.files),
                "snapshots": len(manifest.snapshots),
            },
            "rejudged_systems": self.rejudged_systems,
            "problems": [{"kind": f.kind, "message": f.message} for f in self.findings],
            "notes": list(self.notes),
            "other_judgement": self.other,
        }

    def text(self) -> str:
        """The human summary ``verify`` prints and writes as ``verify.txt``."""
        lines = [f"eflowgpu verify {self.bundle}"]
        if self.manifest is not None:
            m = self.manifest
            lines.append(
                f"package: eflowgpu {m.pack_version}, {m.python}, {m.platform}; submitter "
                f"{m.submitter or '(not named)'}; profile {m.profile}; "
                f"matrix sha256 {m.matrix_sha256[:16]}…; "
                f"{len(m.snapshots)} snapshots, {len(m.files)} files"
            )
        lines += [f"note: {note}" for note in self.notes]
        lines += [f"PROBLEM ({f.kind}): {f.message}" for f in self.findings]
        if self.other is not None:
            lines.append(
                f"under matrix {self.other['matrix']} profile {self.other['profile']}"
                f"{' with ' + self.other['waivers'] if self.other.get('waivers') else ''} "
                "(beside the packaged verdicts; not a problem):"
            )
            changed = [r for r in self.other["rows"] if r["packaged"] != r["other"]]
            for row in changed:
                where = f"{row['system']} / {row['gpu']}" if row["gpu"] else f"{row['system']} (system)"
                lines.append(f"  {where}: packaged {row['packaged']}, here {row['other']}")
            lines.append(
                f"  {len(changed)} verdict(s) differ, {len(self.other['rows']) - len(changed)} the same"
            )
        lines.append(
            "result: OK, everything holds" if self.ok else f"result: FAILED, {len(self.findings)} problem(s)"
        )
        return "\n".join(lines) + "\n"


def verify_bundle(
    path: Path,
    *,
    public_key: Ed25519PublicKey | None = None,
    certifier: CertifierView | None = None,
    limits: ArchiveLimits = DEFAULT_LIMITS,
) -> Verification:
    """Verify the bundle at ``path``; problems are findings, never exceptions.

    Raises:
        VerifyUsageError: the certifier's profile is not in the matrix it applies to.
    """
    result = Verification(str(path))
    try:
        files = read_archive(path, limits)
    except ArchiveError as exc:
        result.problem("archive", f"refused: {exc}")
        return result
    manifest_raw = files.pop(MANIFEST_NAME, None)
    if manifest_raw is None:
        result.problem("manifest", f"the package has no {MANIFEST_NAME}")
        return result
    try:
        manifest = parse_manifest(manifest_raw)
    except ManifestError as exc:
        result.problem("manifest", str(exc))
        return result
    result.manifest = manifest
    if manifest.pack_version != __version__:
        result.notes.append(
            f"the package was made with eflowgpu {manifest.pack_version}, this is {__version__}: "
            "differences below may come from rule changes between the versions"
        )
    for entry in manifest.absent:
        result.notes.append(f"{entry.host}: no snapshot was captured ({entry.source}): {entry.error}")
    _check_signature(result, manifest_raw, files.pop(SIGNATURE_NAME, None), public_key)
    _check_files(result, manifest, files)
    report = _report(result, files)
    if report is None:
        return result
    matrix = _check_matrix(result, manifest, report, files)
    recorded = _recorded_waivers(result, manifest, report, certifier)
    if matrix is not None:
        _rejudge(result, manifest, report, files, Judgement(matrix, manifest.profile, *recorded))
    bench = check_benchmarks(report, {n: files[n] for n in manifest.benchmarks if n in files})
    result.notes.extend(bench.notes)
    for problem in bench.problems:
        result.problem("benchmark", problem)
    if certifier is not None and certifier.wanted:
        base = certifier.matrix or matrix
        if base is not None:
            _other_judgement(result, manifest, report, files, base, certifier, recorded)
    return result


def _check_signature(
    result: Verification, manifest_raw: bytes, signature: bytes | None, key: Ed25519PublicKey | None
) -> None:
    if key is None:
        result.notes.append(
            "signed; the signature was not checked (give --public-key)"
            if signature
            else "the package is not signed"
        )
    elif signature is None:
        result.problem("signature", "the package is not signed, but a public key was given")
    elif not signature_holds(key, manifest_raw, signature):
        result.problem("signature", f"the signature does not match {MANIFEST_NAME} (changed, or another key)")
    else:
        result.notes.append("signature: good (Ed25519, the given public key)")


def _check_files(result: Verification, manifest: Manifest, files: Mapping[str, bytes]) -> None:
    sources = {s.file: s.source for s in manifest.snapshots}
    for name, entry in sorted(manifest.files.items()):
        data = files.get(name)
        if data is None:
            result.problem("file", f"{name}: listed in the manifest, missing from the package")
            continue
        actual = hashlib.sha256(data).hexdigest()
        if actual != entry.sha256:
            what = f"snapshot {name} (source {sources[name]})" if name in sources else name
            result.problem(
                "file",
                f"{what} changed after the run: sha256 {entry.sha256[:16]}… in the manifest, "
                f"{actual[:16]}… in the package",
            )
    for name in sorted(set(files) - set(manifest.files)):
        result.problem("file", f"{name}: in the package, not in the manifest (added)")
    for snapshot in manifest.snapshots:
        if snapshot.file not in manifest.files:
            result.problem("manifest", f"snapshot {snapshot.file} is not among the manifest's files")


def _report(result: Verification, files: Mapping[str, bytes]) -> Mapping[str, Any] | None:
    raw = files.get(REPORT_MEMBER)
    if raw is None:
        return None
    try:
        report = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        result.problem("report", f"{REPORT_MEMBER} is not valid JSON ({exc})")
        return None
    if not isinstance(report, Mapping):
        result.problem("report", f"{REPORT_MEMBER} is not a JSON object")
        return None
    return report


def _check_matrix(
    result: Verification, manifest: Manifest, report: Mapping[str, Any], files: Mapping[str, bytes]
) -> Matrix | None:
    named = as_mapping(report.get("matrix"))
    if named.get("sha256") != manifest.matrix_sha256:
        result.problem(
            "matrix",
            f"the report names matrix sha256 {str(named.get('sha256'))[:16]}…, "
            f"the manifest {manifest.matrix_sha256[:16]}…",
        )
    if named.get("profile") != manifest.profile:
        result.problem(
            "matrix",
            f"the report's profile {named.get('profile')!r} is not the manifest's {manifest.profile!r}",
        )
    raw = files.get(manifest.matrix_file)
    if raw is None:
        result.problem("matrix", f"the matrix {manifest.matrix_file} is not in the package")
        return None
    actual = hashlib.sha256(raw).hexdigest()
    if actual != named.get("sha256"):
        result.problem(
            "matrix",
            f"the packaged matrix {manifest.matrix_file} (sha256 {actual[:16]}…) is not the one the report "
            f"was judged by (sha256 {str(named.get('sha256'))[:16]}…)",
        )
    try:
        return matrix_from_bytes(raw, manifest.matrix_file)
    except MatrixError as exc:
        result.problem("matrix", f"the packaged matrix cannot be loaded: {exc}")
        return None


def _recorded_waivers(
    result: Verification, manifest: Manifest, report: Mapping[str, Any], certifier: CertifierView | None
) -> tuple[WaiverSet | None, date | None]:
    """The waivers the run recorded (and the day it applied them), audited against the certifier's."""
    section = as_mapping(report.get("waivers"))
    applied_ids = sorted({str(a.get("waiver")) for a in as_mappings(section.get("applied"))})
    recorded_ids = sorted(str(i) for i in (manifest.waivers or {}).get("applied") or [])
    if applied_ids != recorded_ids:
        result.problem(
            "waiver",
            f"the manifest records waivers {recorded_ids or 'none'}, "
            f"the report applied {applied_ids or 'none'}",
        )
    if not section:
        return None, None
    try:
        waivers = parse_entries(
            as_mappings(section.get("entries")), REPORT_MEMBER, str(section.get("sha256") or "")
        )
        judged_on = date.fromisoformat(str(section.get("judged_on")))
    except (MatrixError, ValueError) as exc:
        result.problem("waiver", f"the report's waivers section is malformed: {exc}")
        return None, None
    by_id = {w.id: w for w in waivers.waivers}
    for waiver_id in applied_ids:
        waiver = by_id.get(waiver_id)
        if waiver is None:
            result.problem("waiver", f"waiver {waiver_id} is applied in the report but not among its entries")
            continue
        result.notes.append(
            f"waiver {waiver.id} applied by the run: {waiver.criterion} on {waiver.gpu} at {waiver.host}, "
            f"approved by {waiver.approved_by}, expires {waiver.expires.isoformat()}"
        )
        if certifier is None or certifier.waivers is None:
            continue
        mine = next((w for w in certifier.waivers.waivers if w.id == waiver.id), None)
        if mine is None:
            result.problem("waiver", f"waiver {waiver.id} applied in the package is not in your waivers file")
        elif mine.to_dict() != waiver.to_dict():
            result.problem("waiver", f"waiver {waiver.id} applied in the package differs from yours")
    if applied_ids and (certifier is None or certifier.waivers is None):
        result.notes.append("the applied waivers were not checked against yours (give --waivers)")
    return waivers, judged_on


def _judge(
    manifest: Manifest, report: Mapping[str, Any], files: Mapping[str, bytes], judgement: Judgement
) -> dict[str, Any]:
    """The packaged snapshots judged as ``judgement`` says (KeyError: no such profile)."""
    snapshots = [(s, files[s.file]) for s in manifest.snapshots if s.file in files]
    expected = expected_passthrough(report)
    return rejudge(snapshots, judgement, expect_passthrough=expected, absent=manifest.absent)


def _rejudge(
    result: Verification,
    manifest: Manifest,
    report: Mapping[str, Any],
    files: Mapping[str, bytes],
    judgement: Judgement,
) -> None:
    try:
        mine = _judge(manifest, report, files, judgement)
    except KeyError as exc:
        result.problem("matrix", f"the packaged matrix has no profile {manifest.profile!r} ({exc})")
        return
    result.rejudged_systems = len(as_mappings(mine.get("systems")))
    for difference in compare_reports(report, mine):
        result.problem(difference.kind, difference.message())
    theirs_applied = as_mappings(as_mapping(report.get("waivers")).get("applied"))
    my_applied = as_mappings(as_mapping(mine.get("waivers")).get("applied"))
    if [dict(a) for a in theirs_applied] != [dict(a) for a in my_applied]:
        result.problem("waiver", "the waivers the report says were applied are not what applying them gives")
    result.notes.append(
        f"re-judged {result.rejudged_systems} system(s) from their snapshots with profile {manifest.profile} "
        f"of the packaged matrix (eflowgpu {manifest.pack_version} made the package)"
    )


def _other_judgement(
    result: Verification,
    manifest: Manifest,
    report: Mapping[str, Any],
    files: Mapping[str, bytes],
    matrix: Matrix,
    certifier: CertifierView,
    recorded: tuple[WaiverSet | None, date | None],
) -> None:
    profile = certifier.profile or (None if certifier.matrix is not None else manifest.profile)
    waivers, judged_on = recorded
    if certifier.waivers is not None:
        waivers, judged_on = certifier.waivers, datetime.now(UTC).date()
    try:
        other = _judge(manifest, report, files, Judgement(matrix, profile, waivers, judged_on))
    except KeyError as exc:
        raise VerifyUsageError(f"--profile: {exc.args[0]}") from None
    result.other = {
        "matrix": matrix.path,
        "matrix_sha256": matrix.sha256,
        "profile": as_mapping(other.get("matrix")).get("profile"),
        "waivers": certifier.waivers.path if certifier.waivers is not None else None,
        "rows": verdict_rows(report, other),
    }


def verified_report(path: Path) -> Any:
    """The packaged report of the bundle at ``path`` once it verifies (for ``eflowgpu fleet``).

    Raises:
        ReportError: the package does not verify (one line: the first problem and how many more).
    """
    from eflowgpu.fleet.load import ReportError

    result = verify_bundle(path)
    if not result.ok:
        first = result.findings[0].message
        more = f" (and {len(result.findings) - 1} more problems)" if len(result.findings) > 1 else ""
        raise ReportError(f"the package does not verify: {first}{more}")
    return json.loads(read_archive(path)[REPORT_MEMBER])
