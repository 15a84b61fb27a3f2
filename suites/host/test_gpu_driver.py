"""The GPU and its driver on the host.

``gpu.supported``: the support profile has a row for this GPU (an unsupported GPU has only this
test, which skips with the reason).
``gpu.device``: the GPU is present and working, or already dismounted for assignment.
``gpu.driver``: (GPU-PV) an NVIDIA driver with CUDA-on-WSL support at the profile's minimum.
``gpu.wsl``: WSL is installed where the row needs it.

One test per system x GPU x criterion: ``test_gpu_driver[LAB-T4-SRV2019-gpu0-102B_0536-gpu.supported]``.
"""

import pytest

from eflowgpu.pytest_plugin.cases import HostCase


@pytest.mark.area("gpu-driver")
def test_gpu_driver(criterion: HostCase) -> None:
    """One criterion of the GPU and its host driver (gpu.*)."""
    criterion.check()
