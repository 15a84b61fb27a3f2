"""Passthrough seen from inside the EFLOW VM.

``vm.passthrough``: the GPU arrives by the passthrough type the host predicts (DDA: an NVIDIA PCI
function; GPU-PV: ``/dev/dxg`` and the WSL libraries), or ``--expect-passthrough`` without host data.
``vm.gpu_visible``: the VM sees the GPU and its driver answers (nvidia-smi / NVML).

One test per VM x criterion: ``test_passthrough[LAB-T4-SRV2022-EFLOW-vm.passthrough]``.
"""

import pytest

from eflowgpu.pytest_plugin.vmcases import VmCase


@pytest.mark.area("passthrough")
def test_passthrough(vm_criterion: VmCase) -> None:
    """One passthrough criterion of one VM."""
    vm_criterion.check()
