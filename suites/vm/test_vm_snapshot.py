"""The VMs of the run: each VM's snapshot read (live: this machine; or --vm-snapshot files).

One test per VM (``test_vm_snapshot[LAB-T4-SRV2022-EFLOW]``). A VM snapshot that cannot be read is
an *error* of its own test here, in the in-VM suite (JUnit ``<error>``, Allure *broken*).
"""

from eflowgpu.pytest_plugin.vmcases import VmCase


def test_vm_snapshot(vm_snapshot: VmCase) -> None:
    """The VM's snapshot was read and observed."""
    vm_snapshot.check()
