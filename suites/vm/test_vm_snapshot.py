"""The VMs of the run: each VM's snapshot read (live: this machine; or --vm-snapshot files).

A VM snapshot that cannot be read is an *error* of its own test here, in the in-VM suite
(``test_vm_snapshot[vm-corrupt-truncated]``: JUnit ``<error>``, Allure *broken*); the VMs that could
be read are judged by the other files of this suite.
"""

from eflowgpu.pytest_plugin.vmcases import VmCase


def test_vm_snapshot(vm_snapshot: VmCase) -> None:
    """The VM's snapshot could be read (an error with the reason otherwise)."""
    vm_snapshot.check()
