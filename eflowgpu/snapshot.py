"""Reading snapshot envelopes (host and VM) from files other people made, with limits.

A snapshot is untrusted input: it is read with a size limit, parsed as JSON only, checked for its
format and shape, and never executed or interpolated into a command. Problems raise
:class:`~eflowgpu.errors.SnapshotError` with one line a person can act on.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eflowgpu.errors import SnapshotError

HOST_FORMAT = "eflow-gpu-host-snapshot/1"
VM_FORMAT = "eflow-gpu-vm-snapshot/1"

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_PROBE_TEXT = 16 * 1024 * 1024
MAX_PROBES = 256
MAX_LABEL = 256


@dataclass(frozen=True)
class Probe:
    """One probe's raw result: the command, its exit code and what it printed."""

    command: str
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """True when the command ran and exited 0."""
        return self.exit_code == 0


@dataclass(frozen=True)
class Snapshot:
    """A validated snapshot envelope."""

    format: str
    host: str
    captured_at: str | None
    collector: str | None
    probes: Mapping[str, Probe]
    source: str
    extra: Mapping[str, str]
    host_given: bool = True

    def probe(self, name: str) -> Probe | None:
        """The probe called ``name``, or None when it was not captured."""
        return self.probes.get(name)


def label_from_path(path: Path | str) -> str:
    """The system label of an unreadable snapshot: its file name without ``.json``."""
    name = Path(path).name
    return name[:-5] if name.lower().endswith(".json") else name


def read_snapshot(path: Path | str, expected_format: str) -> Snapshot:
    """Read and validate a snapshot file; raise SnapshotError with a one-line reason."""
    return parse_snapshot(read_limited(Path(path)), expected_format, source=str(path))


def read_limited(file: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file, at most ``limit``; SnapshotError for anything else.

    A FIFO, a device, a socket or a folder is refused from its ``stat`` before it is opened, and the
    file is opened non-blocking and checked again, so a FIFO swapped in meanwhile cannot hang the
    run; a dangling link says so.
    """
    try:
        info = file.stat()
    except FileNotFoundError:
        if file.is_symlink():
            raise SnapshotError("a dangling symbolic link: its target does not exist") from None
        raise SnapshotError("cannot read the file: no such file") from None
    except OSError as exc:
        raise SnapshotError(f"cannot read the file: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise SnapshotError(f"not a regular file but {_file_kind(info.st_mode)}")
    if info.st_size > limit:
        raise SnapshotError(f"file is {info.st_size} bytes, over the {limit} byte limit for a snapshot")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(file, flags)
    except OSError as exc:
        raise SnapshotError(f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SnapshotError(f"not a regular file but {_file_kind(os.fstat(fd).st_mode)}")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise SnapshotError(f"cannot read the file: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise SnapshotError(f"file is over the {limit} byte limit for a snapshot")
    return raw


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "a special file")


def parse_snapshot(raw: bytes | str, expected_format: str, *, source: str = "<memory>") -> Snapshot:
    """Validate the JSON text of a snapshot envelope; raise SnapshotError with a one-line reason."""
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw.removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise SnapshotError(f"not UTF-8 text (byte {exc.start})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})") from exc
    except (ValueError, RecursionError) as exc:
        raise SnapshotError(f"not valid JSON: {str(exc).splitlines()[0][:200]}") from exc
    return snapshot_from_data(data, expected_format, source=source)


def snapshot_from_data(data: Any, expected_format: str, *, source: str = "<memory>") -> Snapshot:
    """Validate an already parsed envelope (for example one the live collector built in memory)."""
    if not isinstance(data, dict):
        raise SnapshotError(f"not a snapshot: the JSON is {_what(data)}, not an object")
    fmt = data.get("format")
    if fmt != expected_format:
        shown = _short(fmt) if isinstance(fmt, str) else _what(fmt)
        raise SnapshotError(f"not a {expected_format} snapshot: format is {shown}")
    host = data.get("host")
    if host is not None and (not isinstance(host, str) or not host.strip()):
        raise SnapshotError("'host' must be a non-empty string")
    probes_raw = data.get("probes")
    if not isinstance(probes_raw, dict):
        raise SnapshotError(f"'probes' must be an object of probe results, not {_what(probes_raw)}")
    if len(probes_raw) > MAX_PROBES:
        raise SnapshotError(f"{len(probes_raw)} probes, over the limit of {MAX_PROBES}")
    probes = {str(name): _probe(str(name), value) for name, value in probes_raw.items()}
    extra = {k: v for k, v in data.items() if isinstance(v, str) and k not in ("format", "host")}
    return Snapshot(
        format=fmt,
        host=(host or label_from_path(source))[:MAX_LABEL],
        captured_at=_optional_text(data, "captured_at"),
        collector=_optional_text(data, "collector"),
        probes=probes,
        source=source,
        extra=extra,
        host_given=host is not None,
    )


def _probe(name: str, value: Any) -> Probe:
    if not isinstance(value, dict):
        raise SnapshotError(f"probe {_short(name)} is {_what(value)}, not an object")
    code = value.get("exit_code")
    if isinstance(code, bool) or not isinstance(code, int):
        raise SnapshotError(f"probe {_short(name)}: exit_code must be an integer, not {_what(code)}")
    texts = []
    for key in ("command", "stdout", "stderr"):
        text = value.get(key, "")
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise SnapshotError(f"probe {_short(name)}: {key} must be a string, not {_what(text)}")
        if len(text) > MAX_PROBE_TEXT:
            raise SnapshotError(f"probe {_short(name)}: {key} is over the {MAX_PROBE_TEXT} character limit")
        texts.append(text)
    return Probe(texts[0], code, texts[1], texts[2])


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value[:MAX_LABEL] if isinstance(value, str) else None


def _what(value: Any) -> str:
    if value is None:
        return "missing"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _short(text: str, limit: int = 60) -> str:
    """Quote untrusted text for a one-line message: printable, bounded."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return repr(clean if len(clean) <= limit else clean[:limit] + "…")


def snapshot_files(paths: Iterable[Path | str]) -> list[Path]:
    """Expand files and folders (their ``*.json``, sorted) into the list of snapshot files.

    Every ``*.json`` entry of a folder that is not itself a folder is listed, also a FIFO, a device,
    a dangling link or an unreadable file: reading it makes it an ``error`` system, never a silent skip.
    """
    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            files.extend(sorted(p for p in path.glob("*.json") if not p.is_dir()))
        else:
            files.append(path)
    return files
