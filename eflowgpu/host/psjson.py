"""Reading what PowerShell's ``ConvertTo-Json`` printed, quirks included.

Real Windows PowerShell 5.1 and PowerShell 7 output differs from tidy JSON in ways a reader must
absorb: a UTF-8 byte-order mark, CRLF line ends, a single object where several were expected (and an
array where one was expected), empty output for "no results", ``\\/Date(ms)\\/`` and ISO-8601 dates,
numbers printed as strings, ``null`` fields, and property names whose case varies between
collectors. Objects are returned with case-folded keys so lookups do not depend on that case.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

_MS_DATE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")
_TRUE = frozenset({"true", "1", "yes", "enabled"})
_FALSE = frozenset({"false", "0", "no", "disabled"})

PsObject = dict[str, Any]


class PsJsonError(ValueError):
    """The output is not the JSON ``ConvertTo-Json`` prints."""


def parse(stdout: str) -> Any:
    """Parse ``ConvertTo-Json`` output; None for empty output ("no results").

    Raises:
        PsJsonError: the text is not JSON.
    """
    text = stdout.lstrip("\ufeff").strip()
    if not text:
        return None
    try:
        return _fold(json.loads(text))
    except (ValueError, RecursionError) as exc:
        raise PsJsonError(f"not JSON: {str(exc).splitlines()[0][:120]}") from exc


def _fold(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).casefold(): _fold(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fold(v) for v in value]
    return value


def objects(value: Any) -> list[PsObject]:
    """A list of objects from a single object, an array, or nothing; non-objects are dropped."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]


def one(value: Any) -> PsObject | None:
    """One object from an object or a one-element array (the first of several); None otherwise."""
    found = objects(value)
    return found[0] if found else None


MAX_INT = 2**64
"""Largest magnitude of an integer a probe may print (CIM's widest type is uint64)."""


def to_int(value: Any) -> int | None:
    """An integer from a number or a numeric string (``"412316860416"``); None otherwise.

    Raises:
        PsJsonError: a number beyond what any CIM property holds (bad input, not a defect).
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise PsJsonError(f"a number out of range ({len(str(abs(value)))} digits)")
        return value
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?[0-9]{1,20}", text) and abs(int(text)) <= MAX_INT:
            return int(text)
        if re.fullmatch(r"0[xX][0-9a-fA-F]{1,16}", text):
            return int(text, 16)
    return None


def to_bool(value: Any) -> bool | None:
    """A boolean from ``true``, ``"True"``, ``1``, ``"1"`` and their opposites; None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0 if value in (0, 1) else None
    if isinstance(value, str):
        folded = value.strip().casefold()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
    return None


def to_text(value: Any) -> str | None:
    """A stripped string for strings and numbers; None for empty, null and other values."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        return text or None
    return None


def to_texts(value: Any) -> list[str]:
    """A list of strings from one string or an array of them (``IovSupportReasons``)."""
    items = value if isinstance(value, list) else [value]
    return [text for text in (to_text(item) for item in items) if text]


def to_datetime(value: Any) -> datetime | None:
    """A datetime from ``/Date(ms)/`` (PowerShell 5.1) or ISO-8601 (PowerShell 7); None otherwise."""
    if isinstance(value, dict):
        value = value.get("datetime") or value.get("value")
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _MS_DATE.match(text)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
