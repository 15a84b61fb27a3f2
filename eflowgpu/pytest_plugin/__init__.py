"""The pack's pytest plugin: a thin layer that turns the library's criteria into tests and reports.

Installed as the ``pytest11`` entry point ``eflowgpu`` (see pyproject.toml), so its options parse
wherever their paths point. It does nothing in a run that does not use the pack: the pack's
``pytest.ini`` switches it on (``eflowgpu_pack = true``), or one of its options does.
"""

from eflowgpu.pytest_plugin.hooks import (
    pytest_addoption,
    pytest_benchmark_update_machine_info,
    pytest_collection_finish,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_deselected,
    pytest_generate_tests,
    pytest_load_initial_conftests,
    pytest_pycollect_makeitem,
    pytest_report_header,
    pytest_runtest_call,
    pytest_runtest_makereport,
    pytest_runtest_setup,
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_testnodedown,
    pytest_unconfigure,
)

__all__ = [
    "pytest_addoption",
    "pytest_benchmark_update_machine_info",
    "pytest_collection_finish",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_deselected",
    "pytest_generate_tests",
    "pytest_load_initial_conftests",
    "pytest_pycollect_makeitem",
    "pytest_report_header",
    "pytest_runtest_call",
    "pytest_runtest_makereport",
    "pytest_runtest_setup",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
    "pytest_testnodedown",
    "pytest_unconfigure",
]
