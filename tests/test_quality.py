"""The code stays lint-clean and type-checked: ruff over everything, mypy (strict) over the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import PROJECT


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False, timeout=300)


def tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def test_ruff_check() -> None:
    done = run(tool("ruff"), "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format() -> None:
    done = run(tool("ruff"), "format", "--check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict() -> None:
    done = run(sys.executable, "-m", "mypy")
    assert done.returncode == 0, done.stdout + done.stderr
