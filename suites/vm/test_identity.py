"""The GPU's identity inside the VM.

``vm.identity``: the GPU the VM sees is the one the host has (PCI id, memory).
``vm.pcie_link`` (recommended, DDA): the link trains at the product's generation and width.

One test per VM x criterion: ``test_identity[LAB-T4-SRV2022-EFLOW-vm.identity]``.
"""

import pytest

from eflowgpu.pytest_plugin.vmcases import VmCase


@pytest.mark.area("identity")
def test_identity(vm_criterion: VmCase) -> None:
    """One identity criterion of one VM."""
    vm_criterion.check()
