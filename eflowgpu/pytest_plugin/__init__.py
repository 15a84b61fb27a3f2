"""The pack's pytest plugin: a thin layer that turns the library's criteria into tests and reports.

Load it with ``-p eflowgpu.pytest_plugin`` or ``pytest_plugins = ["eflowgpu.pytest_plugin"]``.
"""

from eflowgpu.pytest_plugin.hooks import (
    bench_run,
    pytest_addoption,
    pytest_benchmark_update_machine_info,
    pytest_collection_finish,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_configure_node,
    pytest_deselected,
    pytest_generate_tests,
    pytest_pycollect_makeitem,
    pytest_report_header,
    pytest_runtest_call,
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_unconfigure,
)

__all__ = [
    "bench_run",
    "pytest_addoption",
    "pytest_benchmark_update_machine_info",
    "pytest_collection_finish",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_configure_node",
    "pytest_deselected",
    "pytest_generate_tests",
    "pytest_pycollect_makeitem",
    "pytest_report_header",
    "pytest_runtest_call",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
    "pytest_unconfigure",
]
