"""The DDA survey: whether the GPU's PCI device can be assigned whole to the EFLOW VM.

``dda.iov``: the platform supports device assignment (``IovSupport``).
``dda.endpoint``: the GPU is a PCI Express endpoint.
``dda.acs``: ACS on the path upstream.
``dda.rmrr``: firmware does not reserve memory for the device.
``dda.interrupts``: message-signalled interrupts.
``dda.location``: the device has a PCI location path.
``dda.mitigation_driver`` (recommended): the vendor's device mitigation driver is installed.
They apply to GPUs whose row is DDA and skip for the others. Select them with ``-m dda``.

One test per system x GPU x criterion: ``test_dda_survey[LAB-T4-SRV2019-gpu1-t4-dda.acs]``.
"""

import pytest

from eflowgpu.pytest_plugin.cases import HostCase


@pytest.mark.area("dda-survey")
def test_dda_survey(criterion: HostCase) -> None:
    """One criterion of the DDA survey for one GPU (dda.*)."""
    criterion.check()
