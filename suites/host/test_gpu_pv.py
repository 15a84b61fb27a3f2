"""GPU-PV: whether Hyper-V can share the GPU with the EFLOW VM (paravirtualization).

``gpupv.partitionable``: Hyper-V lists the GPU as partitionable.
``gpupv.policy`` (recommended): no Hyper-V policy blocks assigning this GPU.
They apply to GPUs whose row is GPU-PV and skip for the others. Select them with ``-m gpupv``.

One test per system x GPU x criterion: ``test_gpu_pv[LAB-RTX3060-W11-gpu0-rtx3060-gpupv.partitionable]``.
"""

import pytest

from eflowgpu.pytest_plugin.cases import HostCase


@pytest.mark.area("gpu-pv")
def test_gpu_pv(criterion: HostCase) -> None:
    """One GPU-PV criterion for one GPU (gpupv.*)."""
    criterion.check()
