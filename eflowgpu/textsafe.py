"""Making text from snapshots safe to keep and to print.

Two concerns, one place:

- :func:`readable` keeps every string writable: a lone surrogate (from ``"\\udc80"`` in a snapshot's
  JSON, or from a file name that is not UTF-8, which Python decodes with ``surrogateescape``) becomes
  visible escape text (``\\xe9`` for an undecodable byte, ``\\udc80`` otherwise), so no UTF-8 writer
  ever fails on it. :func:`strict_json` applies it to a whole document and turns NaN and infinities
  into ``null``, so that the report is strict JSON.
- :func:`neutral` makes a value inert on a terminal or in a CI log: control characters (ANSI escape
  sequences, BEL, carriage returns, line breaks) become ``\\xNN`` text, and what CI systems read as
  commands (GitHub Actions' ``::error``/``::add-mask::`` at a line's start, Azure Pipelines'
  ``##vso[`` anywhere and ``##[`` formatting commands) is broken up the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CI_COMMAND = re.compile(r"#(?=#(?:vso)?\[)", re.IGNORECASE)
_LINE_COMMAND = re.compile(r"^(\s*):(?=:)")


def _surrogate(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def readable(text: str) -> str:
    """``text`` with each lone surrogate written as visible escape text; otherwise unchanged."""
    return _SURROGATE.sub(_surrogate, text) if _SURROGATE.search(text) else text


def _control(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def neutral(value: object, limit: int | None = None) -> str:
    """``value`` as one inert line for a terminal, a CI log, a warning or a JUnit property.

    Control and bidirectional-override characters become ``\\xNN``/``\\uNNNN`` text, lone surrogates
    become escapes (:func:`readable`), a leading ``::`` (a GitHub Actions workflow command) and
    ``##[``/``##vso[`` anywhere (Azure Pipelines logging commands) are broken with ``\\x3a``/``\\x23``.
    With ``limit``, the result is cut to that many characters and ends with ``…``.
    """
    text = str(value)
    if not text.isprintable() or "##" in text or text.lstrip().startswith("::"):  # else nothing to do
        text = readable(text)
        text = _CONTROL.sub(_control, text)
        text = _CI_COMMAND.sub(r"\\x23", text)
        text = _LINE_COMMAND.sub(r"\1\\x3a", text)
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text


def strict_json(value: Any) -> Any:
    """A copy of a JSON-like document that :func:`json.dumps` writes as strict, encodable JSON.

    Strings (keys included) go through :func:`readable`; NaN and infinite floats become ``None``;
    tuples become lists. Other values are returned as they are.
    """
    if isinstance(value, str):
        return readable(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {readable(str(k)): strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    return value
