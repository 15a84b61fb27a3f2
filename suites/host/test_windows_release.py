"""The Windows release of each host, for each of its GPUs, as the support profile's row allows.

``os.edition``: the Windows edition is one the GPU's row allows (Server, Enterprise, Pro, IoT...).
``os.build``: the build, and the update revision where the row names one, reaches the row's minimum
for that edition ("upgrade to build 19044.1620").

One test per system x GPU x criterion: ``test_windows_release[LAB-T4-SRV2019-gpu1-t4-os.build]``.
Each passes, fails, warns or skips exactly as the library judged the criterion, with the
criterion's detail and remedy as its message; the reports are built from the same criteria.
"""

import pytest

from eflowgpu.pytest_plugin.cases import HostCase


@pytest.mark.area("windows-release")
def test_windows_release(criterion: HostCase) -> None:
    """One criterion of the host's Windows release for one GPU (os.*)."""
    criterion.check()
