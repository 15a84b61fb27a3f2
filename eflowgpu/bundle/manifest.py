"""The bundle's manifest (``eflow-gpu-bundle/1``): what the package holds and where it came from.

``manifest.json`` names the pack version, the profile, the matrix and its SHA-256, Python and the
platform, the submitter, every file with its SHA-256 and size, the snapshots with the ``source``
the report knows them by, and the waivers the run applied. The signature (``manifest.sig``)
covers the manifest's exact bytes; the manifest's hashes cover everything else.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from eflowgpu.errors import EflowGpuError

BUNDLE_FORMAT = "eflow-gpu-bundle/1"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
REPORT_MEMBER = "report/compat-report.json"

SnapshotKind = Literal["host", "vm"]


class ManifestError(EflowGpuError):
    """The manifest is missing or malformed (one line)."""


@dataclass(frozen=True)
class FileEntry:
    """One packaged file: its SHA-256 and size."""

    sha256: str
    size: int


@dataclass(frozen=True)
class SnapshotEntry:
    """One packaged snapshot: its member name, the ``source`` the report names it by, host or VM."""

    file: str
    source: str
    kind: SnapshotKind


@dataclass(frozen=True)
class AbsentEntry:
    """A system in error whose source was never a file (a transport or collector that failed)."""

    host: str
    source: str
    error: str


@dataclass(frozen=True)
class Manifest:
    """The parsed manifest."""

    pack_version: str
    report_generated_at: str
    """When the packaged run wrote its report (the package has no time of its own: it is reproducible)."""
    python: str
    platform: str
    submitter: str | None
    profile: str
    matrix_file: str
    matrix_path: str
    matrix_sha256: str
    files: Mapping[str, FileEntry]
    snapshots: tuple[SnapshotEntry, ...]
    benchmarks: tuple[str, ...]
    waivers: Mapping[str, Any] | None
    absent: tuple[AbsentEntry, ...] = ()
    """Systems in error without a snapshot file: re-judged as the error the report states."""

    def to_dict(self) -> dict[str, Any]:
        """The manifest as JSON data."""
        return {
            "format": BUNDLE_FORMAT,
            "pack_version": self.pack_version,
            "report_generated_at": self.report_generated_at,
            "python": self.python,
            "platform": self.platform,
            "submitter": self.submitter,
            "profile": self.profile,
            "matrix": {"file": self.matrix_file, "path": self.matrix_path, "sha256": self.matrix_sha256},
            "report": REPORT_MEMBER,
            "snapshots": [{"file": s.file, "source": s.source, "kind": s.kind} for s in self.snapshots],
            "benchmarks": list(self.benchmarks),
            "absent": [{"host": a.host, "source": a.source, "error": a.error} for a in self.absent],
            "waivers": dict(self.waivers) if self.waivers is not None else None,
            "files": {
                name: {"sha256": entry.sha256, "size": entry.size}
                for name, entry in sorted(self.files.items())
            },
        }

    def to_bytes(self) -> bytes:
        """The manifest's canonical bytes (sorted keys, UTF-8), as packaged and signed."""
        return (json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def file_entry(data: bytes) -> FileEntry:
    """The manifest entry of ``data``."""
    return FileEntry(hashlib.sha256(data).hexdigest(), len(data))


def parse_manifest(raw: bytes) -> Manifest:
    """Validate the bytes of ``manifest.json``; raise :class:`ManifestError` with a one-line reason."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ManifestError(f"{MANIFEST_NAME} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise ManifestError(f"{MANIFEST_NAME} is not an {BUNDLE_FORMAT} manifest")
    try:
        matrix = _mapping(data, "matrix")
        files = {
            _text(name, "files"): FileEntry(
                _text(e.get("sha256"), f"files.{name}.sha256"), _int(e.get("size"))
            )
            for name, e in _mapping(data, "files").items()
            if isinstance(e, Mapping)
        }
        if len(files) != len(_mapping(data, "files")):
            raise ManifestError("files: every entry must be an object with sha256 and size")
        snapshots = tuple(
            SnapshotEntry(
                _text(s.get("file"), "snapshots[].file"),
                _text(s.get("source"), "snapshots[].source"),
                _kind(s.get("kind")),
            )
            for s in _list(data, "snapshots")
        )
        waivers = data.get("waivers")
        absent = tuple(
            AbsentEntry(
                _text(a.get("host"), "absent[].host"),
                _text(a.get("source"), "absent[].source"),
                _text(a.get("error"), "absent[].error"),
            )
            for a in (_list(data, "absent") if "absent" in data else [])
        )
        return Manifest(
            pack_version=_text(data.get("pack_version"), "pack_version"),
            report_generated_at=_text(data.get("report_generated_at"), "report_generated_at"),
            python=_text(data.get("python"), "python"),
            platform=_text(data.get("platform"), "platform"),
            submitter=data["submitter"] if isinstance(data.get("submitter"), str) else None,
            profile=_text(data.get("profile"), "profile"),
            matrix_file=_text(matrix.get("file"), "matrix.file"),
            matrix_path=_text(matrix.get("path"), "matrix.path"),
            matrix_sha256=_text(matrix.get("sha256"), "matrix.sha256"),
            files=files,
            snapshots=snapshots,
            benchmarks=tuple(_text(b, "benchmarks[]") for b in data.get("benchmarks") or []),
            waivers=waivers if isinstance(waivers, Mapping) else None,
            absent=absent,
        )
    except (AttributeError, TypeError) as exc:
        raise ManifestError(f"{MANIFEST_NAME} is malformed ({exc})") from None


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise ManifestError(f"{MANIFEST_NAME}: {key}: expected an object")
    return value


def _list(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ManifestError(f"{MANIFEST_NAME}: {key}: expected a list of objects")
    return value


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise ManifestError(f"{MANIFEST_NAME}: {field}: expected a non-empty string")
    return value


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ManifestError(f"{MANIFEST_NAME}: files: size must be a non-negative integer")
    return value


def _kind(value: object) -> SnapshotKind:
    if value == "host":
        return "host"
    if value == "vm":
        return "vm"
    raise ManifestError(f"{MANIFEST_NAME}: snapshots[].kind: expected 'host' or 'vm', got {value!r}")
