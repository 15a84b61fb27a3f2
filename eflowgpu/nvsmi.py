"""Parsing ``nvidia-smi -q -x`` XML from other machines, safely (``defusedxml``).

Real drivers print values with units, ``N/A``, ``[N/A]``, ``Not Supported`` and odd or redacted
ids; every field here is optional and only what could be read is returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException

_NOT_VALUES = frozenset(
    {"", "n/a", "[n/a]", "not supported", "[not supported]", "unknown", "[unknown error]"}
)
_PCI_ID = re.compile(r"^(?:0x)?([0-9A-Fa-f]{4})([0-9A-Fa-f]{4})$")


class NvidiaSmiError(ValueError):
    """The XML cannot be parsed or is not nvidia-smi's."""


@dataclass(frozen=True)
class SmiGpu:
    """One ``<gpu>`` of the XML, the fields the pack uses."""

    bus_id: str | None
    product_name: str | None
    pci_device: str | None
    pci_vendor: str | None
    subsys_device: str | None
    subsys_vendor: str | None
    driver_model: str | None


@dataclass(frozen=True)
class SmiLog:
    """The document: driver and CUDA versions and the GPUs."""

    driver_version: str | None
    cuda_version: str | None
    gpus: tuple[SmiGpu, ...]


def value(element: Element | None, path: str) -> str | None:
    """Text at ``path`` below ``element``; None for absent, empty or "not available" values."""
    if element is None:
        return None
    found = element.find(path)
    if found is None or found.text is None:
        return None
    text = found.text.strip()
    return None if text.casefold() in _NOT_VALUES else text


def split_pci_id(text: str | None) -> tuple[str, str] | None:
    """``1EB810DE`` → (device ``1EB8``, vendor ``10DE``); None when it is not 8 hex digits."""
    match = _PCI_ID.match(text or "")
    return (match.group(1).upper(), match.group(2).upper()) if match else None


def parse_nvidia_smi(xml_text: str) -> SmiLog:
    """Parse ``nvidia-smi -q -x`` output; raise NvidiaSmiError when it is not that."""
    text = xml_text.lstrip("\ufeff").strip()
    if not text:
        raise NvidiaSmiError("empty output")
    try:
        root = safe_et.fromstring(text, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except (safe_et.ParseError, DefusedXmlException, ValueError) as exc:
        raise NvidiaSmiError(f"not valid nvidia-smi XML: {str(exc)[:160]}") from exc
    if root.tag != "nvidia_smi_log":
        raise NvidiaSmiError(f"not nvidia-smi XML: the root element is <{root.tag[:40]}>")
    gpus = []
    for gpu in root.findall("gpu"):
        device = split_pci_id(value(gpu, "pci/pci_device_id"))
        subsys = split_pci_id(value(gpu, "pci/pci_sub_system_id"))
        gpus.append(
            SmiGpu(
                bus_id=gpu.get("id"),
                product_name=value(gpu, "product_name"),
                pci_device=device[0] if device else None,
                pci_vendor=device[1] if device else None,
                subsys_device=subsys[0] if subsys else None,
                subsys_vendor=subsys[1] if subsys else None,
                driver_model=value(gpu, "driver_model/current_dm"),
            )
        )
    return SmiLog(value(root, "driver_version"), value(root, "cuda_version"), tuple(gpus))
