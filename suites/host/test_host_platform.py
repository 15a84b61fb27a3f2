"""The host platform under each GPU: what EFLOW's VM needs from the Windows host.

``host.hyperv``: the Hyper-V feature (or its Server role) is enabled, not only a running hypervisor.
``host.virtualization``: hardware virtualization and SLAT are on.
``host.physical``: the host is not itself a virtual machine (passthrough does not nest).
``host.memory``: the memory the EFLOW VM will be given is free.
``host.disk``: at least 10 GB free on the system drive.
Newer ``host.*`` criteria of the library (e.g. ``host.eflow``) appear here without editing this file.

One test per system x GPU x criterion: ``test_host_platform[LAB-T4-SRV2019-gpu1-t4-host.hyperv]``.
"""

import pytest

from eflowgpu.pytest_plugin.cases import HostCase


@pytest.mark.area("host-platform")
def test_host_platform(criterion: HostCase) -> None:
    """One criterion of the host platform for one GPU (host.*)."""
    criterion.check()
