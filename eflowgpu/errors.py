"""The pack's exception types: one per kind of bad input, each with a message a person can act on."""

from __future__ import annotations

from pathlib import Path


class EflowGpuError(Exception):
    """Base class of the pack's own errors."""


class MatrixError(EflowGpuError):
    """The support matrix is malformed; the message names the file, the line and the field."""

    def __init__(self, path: Path | str, line: int | None, field: str, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


class SnapshotError(EflowGpuError):
    """A snapshot cannot be read or is not in the expected format (one line, for the report)."""
