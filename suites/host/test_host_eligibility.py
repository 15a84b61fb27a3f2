"""Host eligibility: every criterion of every GPU of every system, as the support profile judges it.

The cases come from the pack's plugin (systems x GPUs x criteria); each test passes, fails, warns
or skips exactly as the library's criterion says, with the criterion's detail and remedy as the
message. The compatibility report is built from the same criterion objects.
"""

from eflowgpu.pytest_plugin.cases import HostCase


def test_host_criterion(host_case: HostCase) -> None:
    """One criterion of one GPU of one host."""
    host_case.check()
