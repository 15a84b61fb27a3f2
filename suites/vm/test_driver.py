"""The driver stack inside the VM.

``vm.driver``: the driver supports the CUDA version the pack needs.
``vm.toolkit`` (recommended): the NVIDIA container toolkit has no known defect or CVE.
``vm.cuda_arch`` (recommended): the pack's CUDA build has kernels for the GPU and accepts its driver.

One test per VM x criterion: ``test_driver[LAB-T4-SRV2022-EFLOW-vm.driver]``.
"""

import pytest

from eflowgpu.pytest_plugin.vmcases import VmCase


@pytest.mark.area("driver")
def test_driver(vm_criterion: VmCase) -> None:
    """One driver criterion of one VM."""
    vm_criterion.check()
