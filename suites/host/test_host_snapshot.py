"""The host snapshots of the run: each one read and evaluated.

One test per system (``test_host_snapshot[LAB-T4-SRV2019]``). A snapshot that cannot be read or
evaluated is an *error* of its own test (JUnit ``<error>``, Allure *broken*) with the one-line
reason; the other snapshots are judged as usual. A host without a GPU skips with that reason.
"""

from eflowgpu.pytest_plugin.cases import HostCase


def test_host_snapshot(host_snapshot: HostCase) -> None:
    """The host's snapshot was read and evaluated, and lists at least one GPU."""
    host_snapshot.check()
