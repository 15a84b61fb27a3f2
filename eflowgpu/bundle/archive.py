"""Reading and writing the bundle's ``.tar.gz`` safely.

Reading never extracts: members are read into memory, and an archive is refused with a one-line
:class:`ArchiveError` when it is truncated or not a gzip-compressed tar, when a member's name is
absolute, climbs out (``..``) or is otherwise unsafe, when a member is a link, a device or
anything but a regular file or folder, when a name repeats, or when the member count, a member's
size or the total decompressed size passes its limit (a decompression bomb stops at the limit,
since the decompressed stream itself is counted). Nothing is ever written to disk.

Writing is deterministic: members sorted by name, fixed modification time, owner and mode, and a
gzip header without a time stamp, so the same files always give the same bytes.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import tarfile
import tempfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from eflowgpu.errors import EflowGpuError


class ArchiveError(EflowGpuError):
    """The archive is refused (the message is one line naming why)."""


@dataclass(frozen=True)
class ArchiveLimits:
    """What a bundle may hold."""

    max_members: int = 20_000
    max_member_bytes: int = 64 * 1024 * 1024
    max_total_bytes: int = 1024 * 1024 * 1024


DEFAULT_LIMITS = ArchiveLimits()
_NAME = re.compile(r"^[A-Za-z0-9._@+=,~-][A-Za-z0-9._@+=,~ -]*$")
_MAX_NAME = 255


class _CountingReader(io.RawIOBase):
    """A read-only stream that refuses to give more than ``limit`` bytes (counts the decompressed tar)."""

    def __init__(self, inner: io.BufferedIOBase | gzip.GzipFile, limit: int) -> None:
        self._inner = inner
        self._limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        self.count += len(data)
        if self.count > self._limit:
            raise ArchiveError(f"decompresses to more than {self._limit} bytes (a decompression bomb?)")
        buffer[: len(data)] = data
        return len(data)


def safe_name(name: str) -> str:
    """The member name if it is a safe relative path; raise :class:`ArchiveError` otherwise."""
    shown = repr(name[:80])
    if not name or len(name) > _MAX_NAME:
        raise ArchiveError(f"member name {shown} is empty or longer than {_MAX_NAME} characters")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise ArchiveError(f"member {shown} has an absolute name")
    if "\\" in name or "\0" in name:
        raise ArchiveError(f"member {shown} has a backslash or NUL in its name")
    parts = PurePosixPath(name).parts
    if any(part in ("..", ".") for part in name.split("/")):
        raise ArchiveError(f"member {shown} climbs out of the archive (a '..' or '.' in its path)")
    if not all(_NAME.match(part) for part in parts):
        raise ArchiveError(f"member {shown} has characters outside A-Z a-z 0-9 . _ - @ + = , ~ and space")
    return "/".join(parts)


def read_archive(path: Path | str, limits: ArchiveLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """The regular files of the ``.tar.gz`` at ``path``, by member name, read in memory.

    Raises:
        ArchiveError: the file cannot be read or the archive is refused (one line saying why).
    """
    file = Path(path)
    if not file.is_file():
        raise ArchiveError(f"cannot read {path}: no such file")
    # The uncompressed tar has headers and padding beyond the members' own bytes.
    overhead = 1024 * (limits.max_members + 2) * 3
    try:
        with file.open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            counted = _CountingReader(unzipped, limits.max_total_bytes + overhead)
            stream = io.BufferedReader(counted, buffer_size=64 * 1024)
            return _members(tarfile.open(fileobj=stream, mode="r|"), limits)
    except ArchiveError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ArchiveError(f"truncated or not a gzip-compressed tar archive ({reason})") from None


def _members(tar: tarfile.TarFile, limits: ArchiveLimits) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    count = 0
    total = 0
    for member in tar:
        count += 1
        if count > limits.max_members:
            raise ArchiveError(f"more than {limits.max_members} members")
        name = safe_name(member.name.rstrip("/") if member.isdir() else member.name)
        if member.isdir():
            continue
        if not member.isreg():
            raise ArchiveError(f"member {name!r} is not a regular file ({_kind(member)}); refused")
        if member.size > limits.max_member_bytes:
            raise ArchiveError(
                f"member {name!r} is {member.size} bytes, over the {limits.max_member_bytes} limit"
            )
        total += member.size
        if total > limits.max_total_bytes:
            raise ArchiveError(f"members add up to more than {limits.max_total_bytes} bytes")
        if name in files:
            raise ArchiveError(f"member {name!r} appears twice")
        handle = tar.extractfile(member)
        data = handle.read() if handle is not None else b""
        if len(data) != member.size:
            raise ArchiveError(f"member {name!r} is truncated ({len(data)} of {member.size} bytes)")
        files[name] = data
    return files


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"a symbolic link to {member.linkname[:80]!r}"
    if member.islnk():
        return f"a hard link to {member.linkname[:80]!r}"
    if member.isdev():
        return "a device or FIFO"
    return f"type {member.type!r}"


def write_archive(path: Path, files: Mapping[str, bytes], mtime: int = 0) -> None:
    """Write ``files`` (name to bytes) as a deterministic ``.tar.gz`` at ``path``, atomically."""
    for name in files:
        safe_name(name)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            data = files[name]
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = mtime
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, filename="") as gz:
        gz.write(buffer.getvalue())
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(compressed.getvalue())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
