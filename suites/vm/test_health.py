"""The GPU's health and the VM's resources.

``vm.health``: no retired-page, row-remap, ECC or Xid trouble (volatile and lifetime counters,
with DCGM's thresholds).
``vm.memory`` (recommended): the VM has enough memory for GPU work (EFLOW's 1024 MB default does not).
Newer ``vm.*`` criteria of the library appear here without editing this file.

One test per VM x criterion: ``test_health[LAB-T4-SRV2022-EFLOW-vm.health]``.
"""

import pytest

from eflowgpu.pytest_plugin.vmcases import VmCase


@pytest.mark.area("health")
def test_health(vm_criterion: VmCase) -> None:
    """One health criterion of one VM."""
    vm_criterion.check()
