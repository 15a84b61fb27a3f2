"""allure-pytest, when it is loaded and writes results in this run (the plugin works without it)."""

from __future__ import annotations

from typing import Any

import pytest

allure: Any
try:  # allure-pytest is a dependency, but the plugin must not break without it
    import allure
except ImportError:  # pragma: no cover
    allure = None


def allure_on(config: pytest.Config) -> bool:
    """True when allure-pytest is loaded and writes results in this run."""
    return (
        allure is not None
        and config.pluginmanager.hasplugin("allure_pytest")
        and bool(getattr(config.option, "allure_report_dir", None))
    )
