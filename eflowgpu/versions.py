"""Version numbers the rules compare: Windows builds and driver versions.

All parsing works on strings, never through float or :class:`packaging.version.Version`, so that
leading zeros (``31.0.15.0512``) and odd inputs are handled exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_BUILD_RE = re.compile(r"^\s*(\d{1,6})(?:\.(\d{1,6}))?\s*$")
_DRIVER_RE = re.compile(r"^\s*(\d{1,4})\.(\d{1,3})(?:\.(\d{1,3}))?\s*$")
_WINDOWS_DRIVER_RE = re.compile(r"^\s*(\d{1,5})\.(\d{1,5})\.(\d{1,5})\.(\d{1,5})\s*$")


@dataclass(frozen=True, order=True)
class WindowsBuild:
    """A Windows build with its update revision (UBR): ``19044.1620``. ``ubr`` None means not given."""

    build: int
    ubr: int | None = None

    @classmethod
    def parse(cls, text: str | int) -> WindowsBuild:
        """Parse ``"19044"``, ``"19044.1620"`` or an int; raise ValueError otherwise."""
        match = _BUILD_RE.match(str(text))
        if not match:
            raise ValueError(f"not a Windows build number: {text!r}")
        return cls(int(match.group(1)), int(match.group(2)) if match.group(2) is not None else None)

    def meets(self, minimum: WindowsBuild) -> bool | None:
        """Whether this build reaches ``minimum``; None when only the missing UBR could tell.

        A minimum without an update revision is met at any revision of its build.
        """
        if self.build != minimum.build or minimum.ubr is None:
            return self.build >= minimum.build
        if self.ubr is None:
            return None
        return self.ubr >= minimum.ubr

    def __str__(self) -> str:
        return str(self.build) if self.ubr is None else f"{self.build}.{self.ubr}"


@total_ordering
@dataclass(frozen=True)
class DriverVersion:
    """An NVIDIA-style driver version: ``536.23`` or ``535.104.05``; compared numerically."""

    parts: tuple[int, ...]
    text: str

    @classmethod
    def parse(cls, text: str) -> DriverVersion:
        """Parse ``"536.23"`` or ``"535.104.05"``; raise ValueError otherwise."""
        match = _DRIVER_RE.match(text)
        if not match:
            raise ValueError(f"not a driver version: {text!r}")
        parts = tuple(int(g) for g in match.groups() if g is not None)
        return cls(parts, text.strip())

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, DriverVersion):
            return NotImplemented
        return self.parts < other.parts

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DriverVersion):
            return NotImplemented
        return self.parts == other.parts

    def __hash__(self) -> int:
        return hash(self.parts)

    def __str__(self) -> str:
        return self.text


def nvidia_version_from_windows(driver_version: str) -> DriverVersion | None:
    """NVIDIA's version from a Windows ``DriverVersion``: ``31.0.15.3623`` gives ``536.23``.

    The last digit of the third field and the fourth field padded to four digits make five digits;
    a dot goes after the third. Returns None when the text is not four numeric fields.
    """
    match = _WINDOWS_DRIVER_RE.match(driver_version or "")
    if not match:
        return None
    digits = match.group(3)[-1] + match.group(4).zfill(4)[-4:]
    return DriverVersion.parse(f"{int(digits[:3])}.{digits[3:]}")
