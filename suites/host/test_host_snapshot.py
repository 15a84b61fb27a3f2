"""The host snapshots of the run: each one read and evaluated.

A test for each snapshot that the criteria tests cannot cover (``test_host_snapshot[corrupt-truncated]``):
a snapshot that cannot be read or evaluated is an *error* of its own test (JUnit ``<error>``, Allure
*broken*) with the one-line reason, and the other snapshots are judged as usual; a host without a
GPU skips with that reason.
"""

from eflowgpu.pytest_plugin.cases import HostCase


def test_host_snapshot(host_snapshot: HostCase) -> None:
    """The host's snapshot was read and evaluated, and lists at least one GPU."""
    host_snapshot.check()
