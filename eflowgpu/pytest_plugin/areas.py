"""The areas the pack's suites check, and which criteria belong to each.

A suite function names its area with ``@pytest.mark.area("...")`` and receives every criterion of
that area for every system x GPU (host) or VM (in-VM). Criteria come from the library: a new
criterion id lands in the area its prefix names, or in the side's last area, without editing a suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from typing import Literal

AreaSide = Literal["host", "vm"]


@dataclass(frozen=True)
class Area:
    """One area of a suite: the criteria whose ids match its patterns."""

    name: str
    side: AreaSide
    patterns: tuple[str, ...]
    title: str


AREAS: tuple[Area, ...] = (
    Area("windows-release", "host", ("os.*",), "the Windows release: edition and build"),
    Area("host-platform", "host", ("host.*",), "the host platform: Hyper-V, virtualization, memory, disk"),
    Area("dda-survey", "host", ("dda.*",), "the DDA survey of the GPU's PCI device"),
    Area("gpu-pv", "host", ("gpupv.*",), "GPU-PV: partitioning, policy, driver model"),
    Area("gpu-driver", "host", ("gpu.*",), "the GPU and its driver"),
    Area("passthrough", "vm", ("vm.passthrough", "vm.gpu_visible"), "the GPU arriving in the VM"),
    Area("identity", "vm", ("vm.identity", "vm.pcie_link"), "the GPU's identity and link in the VM"),
    Area("driver", "vm", ("vm.driver", "vm.toolkit", "vm.cuda_arch"), "the VM's driver, CUDA and toolkit"),
    Area("health", "vm", ("vm.*",), "the GPU's health and the VM's resources"),
)
"""Every area, host side first; the last of a side takes the ids no other area of it claims."""

FALLBACK = {"host": "host-platform", "vm": "health"}


def area_named(name: str) -> Area | None:
    """The area called ``name``, or None."""
    return next((area for area in AREAS if area.name == name), None)


@cache
def area_of(criterion_id: str, side: AreaSide) -> str:
    """The area a criterion id belongs to (exact patterns first, then prefixes, then the fallback)."""
    areas = [a for a in AREAS if a.side == side]
    for area in areas:
        if criterion_id in area.patterns:
            return area.name
    for area in areas:
        if any(fnmatchcase(criterion_id, p) for p in area.patterns):
            return area.name
    return FALLBACK[side]
