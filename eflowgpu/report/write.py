"""Writing reports atomically: a reader never sees a half-written file, and a crash leaves the old one.

Reports are published (a share, a CI artefact, a web server running as another user), so they are
created like any file the user writes: mode ``0666`` less the umask (``0644`` with the usual umask),
not the ``0600`` of :func:`tempfile.mkstemp`. Text is encoded so that nothing from a snapshot can make
the writer fail (lone surrogates become escapes), and the JSON is strict (no NaN or Infinity).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eflowgpu.textsafe import readable, strict_json

FILE_MODE = 0o666
"""Mode a report is created with, before the umask applies."""


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = readable(text).encode("utf-8")
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), FILE_MODE)
        except FileExistsError:
            continue
        break
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def dumps_strict(document: Any, *, made_strict: bool = False) -> str:
    """``document`` as indented strict JSON text (see :func:`~eflowgpu.textsafe.strict_json`);
    ``made_strict`` says the caller already passed it through ``strict_json``."""
    strict = document if made_strict else strict_json(document)
    return json.dumps(strict, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json_atomic(path: Path, document: Mapping[str, Any], *, made_strict: bool = False) -> None:
    """Serialise ``document`` as indented, strict UTF-8 JSON and write it atomically (``made_strict``:
    see :func:`dumps_strict`)."""
    write_text_atomic(path, dumps_strict(document, made_strict=made_strict))
