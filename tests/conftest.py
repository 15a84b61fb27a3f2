"""Shared fixtures of the project's own tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from eflowgpu.matrix import Matrix, load_matrix

from helpers import PROJECT, healthy_probes


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The project's root folder (where matrix.yaml is)."""
    return PROJECT


@pytest.fixture(scope="session")
def matrix() -> Matrix:
    """The project's support matrix, loaded once."""
    return load_matrix(PROJECT / "matrix.yaml")


@pytest.fixture
def make_snapshot() -> Callable[..., dict[str, Any]]:
    """A factory of host snapshot dicts: a healthy GeForce host on Windows 11 Pro, probes overridable."""

    def build(
        host: str = "TEST-HOST", drop: tuple[str, ...] = (), **probes: Mapping[str, Any]
    ) -> dict[str, Any]:
        base = healthy_probes()
        base.update(probes)
        for name in drop:
            base.pop(name, None)
        return {
            "format": "eflow-gpu-host-snapshot/1",
            "host": host,
            "captured_at": "2026-11-20T10:00:00Z",
            "collector": "test",
            "probes": base,
        }

    return build
