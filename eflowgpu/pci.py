"""PCI identities: parsing Windows instance ids and formatting ids the way the report shows them."""

from __future__ import annotations

import re
from dataclasses import dataclass

_INSTANCE = re.compile(
    r"^(?P<enum>PCIP?)\\VEN_(?P<ven>[0-9A-F]{4})&DEV_(?P<dev>[0-9A-F]{4})"
    r"(?:&SUBSYS_(?P<subdev>[0-9A-F]{4})(?P<subven>[0-9A-F]{4}))?",
    re.IGNORECASE,
)
_VEN_DEV = re.compile(r"VEN_([0-9A-F]{4})&DEV_([0-9A-F]{4})", re.IGNORECASE)


@dataclass(frozen=True)
class PciIdentity:
    """Vendor, device and (optional) subsystem ids, upper-case hex."""

    vendor: str
    device: str
    subsys_vendor: str | None = None
    subsys_device: str | None = None

    @property
    def pci_id(self) -> str:
        """``10DE:1EB8``."""
        return f"{self.vendor}:{self.device}"

    @property
    def subsys_id(self) -> str | None:
        """``10DE:12A2`` (subsystem vendor first), or None."""
        if self.subsys_vendor is None or self.subsys_device is None:
            return None
        return f"{self.subsys_vendor}:{self.subsys_device}"


@dataclass(frozen=True)
class InstanceId:
    """A parsed Windows device instance id of a PCI function (``PCI\\…`` or dismounted ``PCIP\\…``)."""

    text: str
    identity: PciIdentity
    dismounted: bool


def parse_instance_id(text: str | None) -> InstanceId | None:
    """Parse ``PCI\\VEN_10DE&DEV_1EB8&SUBSYS_12A210DE&REV_A1\\…``; None for non-PCI (software) ids.

    ``SUBSYS_12A210DE`` is the subsystem device (``12A2``) followed by the subsystem vendor
    (``10DE``).
    """
    if not text:
        return None
    match = _INSTANCE.match(text.strip())
    if not match:
        return None
    identity = PciIdentity(
        match["ven"].upper(),
        match["dev"].upper(),
        match["subven"].upper() if match["subven"] else None,
        match["subdev"].upper() if match["subdev"] else None,
    )
    return InstanceId(text.strip(), identity, match["enum"].upper() == "PCIP")


def ven_dev_in(text: str | None) -> tuple[str, str] | None:
    """The first ``VEN_xxxx&DEV_xxxx`` pair anywhere in ``text`` (device paths), upper-case."""
    match = _VEN_DEV.search(text or "")
    return (match.group(1).upper(), match.group(2).upper()) if match else None


def instance_key(text: str) -> str:
    """A comparison key for instance ids: Windows compares them case-insensitively."""
    return text.strip().upper()
