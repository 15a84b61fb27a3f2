"""Parsing ``nvidia-smi -q -x`` XML from other machines, safely (``defusedxml``).

Real drivers print values with units, ``N/A``, ``[N/A]``, ``Not Supported`` and odd or redacted
ids; every field here is optional and only what could be read is returned.

Two levels of API:

* :func:`parse_nvidia_smi` gives the few fields the host side uses (:class:`SmiLog`).
* :func:`parse_root`, :func:`read_field` and the ``parse_*`` helpers are the building blocks of
  the full per-GPU reading in :mod:`eflowgpu.vm.smi`. :func:`read_field` tells an absent element
  (``None``, nothing to say) from one that reads ``N/A``/``Not Supported`` (the platform cannot
  report it) and from one that reads an error (``Unknown Error``, ``[REDACTED]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException

NVIDIA_VENDOR = "10DE"
"""The PCI vendor id of NVIDIA, upper-case hex."""

MAX_XML_CHARS = 32 * 1024 * 1024
"""Longer input is refused before parsing (a real 8-GPU log with clock tables is about 2 MB)."""

_NOT_AVAILABLE = frozenset(
    {
        "n/a",
        "[n/a]",
        "not supported",
        "[not supported]",
        "not available",
        "not found",
        "requested functionality has been deprecated",
    }
)
_UNREADABLE = frozenset({"unknown", "unknown error", "[unknown error]", "err!", "gpu is lost"})
_PCI_ID = re.compile(r"^(?:0x)?([0-9A-Fa-f]{4})([0-9A-Fa-f]{4})$")
_NUMBER = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*([A-Za-z%]*)$")
_FLAGS = (
    ("enabled", True),
    ("disabled", False),
    ("active", True),
    ("not active", False),
    ("yes", True),
    ("no", False),
)


class NvidiaSmiError(ValueError):
    """The XML cannot be parsed or is not nvidia-smi's."""


class State(Enum):
    """What an element of the XML says."""

    ABSENT = "absent"
    """No such element (or an empty one): the driver does not print this field."""
    NOT_SUPPORTED = "not supported"
    """``N/A``, ``[N/A]``, ``Not Supported``…: the platform cannot report it."""
    UNREADABLE = "unreadable"
    """An error or an edited value: ``Unknown Error``, ``ERR!``, ``[REDACTED]``, ``[GPU is lost]``."""
    VALUE = "value"
    """A value (which may still fail to parse as the number or flag it should be)."""


@dataclass(frozen=True)
class SmiField:
    """One element's reading: its state and, for VALUE and UNREADABLE, its stripped text."""

    state: State
    text: str | None = None


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


def classify_text(text: str | None) -> SmiField:
    """The state of one element's text (see :class:`State`); empty text is ABSENT."""
    stripped = (text or "").strip()
    if not stripped:
        return SmiField(State.ABSENT)
    folded = stripped.casefold()
    if folded in _NOT_AVAILABLE:
        return SmiField(State.NOT_SUPPORTED)
    if folded in _UNREADABLE or (stripped.startswith("[") and stripped.endswith("]")):
        return SmiField(State.UNREADABLE, stripped)
    return SmiField(State.VALUE, stripped)


def read_field(element: Element | None, path: str) -> SmiField:
    """What the element at ``path`` (``a/b/c``) below ``element`` says.

    An element missing below an ancestor that itself reads ``N/A`` with no children (e.g.
    ``remapped_rows/remapped_row_corr`` under ``<remapped_rows>N/A</remapped_rows>``) is
    NOT_SUPPORTED, not ABSENT: the driver knows the field and says the platform cannot report it.
    """
    if element is None:
        return SmiField(State.ABSENT)
    node = element
    for part in path.split("/"):
        child = node.find(part)
        if child is None:
            inside_unsupported = (
                node is not element
                and len(node) == 0
                and classify_text(node.text).state is State.NOT_SUPPORTED
            )
            return SmiField(State.NOT_SUPPORTED if inside_unsupported else State.ABSENT)
        node = child
    return classify_text(node.text)


def value(element: Element | None, path: str) -> str | None:
    """Text at ``path`` below ``element``; None for absent, empty, "not available" or error values."""
    found = read_field(element, path)
    return found.text if found.state is State.VALUE else None


def split_pci_id(text: str | None) -> tuple[str, str] | None:
    """``1EB810DE`` → (device ``1EB8``, vendor ``10DE``); None when it is not 8 hex digits.

    A ``0x`` prefix is allowed. The vendor half is not checked: see :func:`nvidia_pci_id`.
    """
    match = _PCI_ID.match((text or "").strip())
    return (match.group(1).upper(), match.group(2).upper()) if match else None


def nvidia_pci_id(text: str | None) -> tuple[str, str] | None:
    """(device, vendor) of an NVIDIA id such as ``1EB810DE``/``0x12A210DE``; None otherwise.

    Per the VM snapshot contract an id whose vendor half is not ``10DE`` is not an id: this drops
    ``000000DE`` (seen in real A10G captures), ``00001F06`` (old WSL drivers print the device id
    with no vendor half), ``[REDACTED]`` and anything malformed. Subsystem ids are read with
    :func:`subsystem_pci_id`.
    """
    parts = split_pci_id(text)
    return parts if parts is not None and parts[1] == NVIDIA_VENDOR else None


def subsystem_pci_id(text: str | None) -> tuple[str, str] | None:
    """(subsystem device, subsystem vendor) of ``pci_sub_system_id`` such as ``397D1462``; None otherwise.

    The one rule both parsers (host and VM) follow. The subsystem vendor is the board's maker (MSI
    ``1462``, ASUS ``1043``, Colorful ``7377``, NVIDIA ``10DE``), so the contract's "vendor half must
    be 10DE" rule applies to the device id only. A subsystem device ``0000`` is a real value and is
    kept (``00007377``: Colorful boards). The vendor half must be a board maker's id: ``00000000``
    (no id), ``000000DE`` (what passthrough drivers print for an id they cannot read; no board maker's
    vendor id starts with ``00``), ``[REDACTED]`` and anything malformed are not ids.
    """
    parts = split_pci_id(text)
    return parts if parts is not None and not parts[1].startswith("00") else None


def _number(text: str | None, unit: str | None) -> str | None:
    match = _NUMBER.match((text or "").strip())
    if match is None:
        return None
    if unit is not None and match.group(2) and match.group(2) != unit:
        return None
    return match.group(1)


def parse_int(text: str | None, unit: str | None = None) -> int | None:
    """``15360 MiB`` → 15360, ``41 C`` → 41, ``16x`` → 16, ``3`` → 3; None when not an integer.

    With ``unit``, a number printed with another unit is refused (a bare number is accepted).
    """
    number = _number(text, unit)
    if number is None or "." in number:
        return None
    return int(number)


def parse_float(text: str | None, unit: str | None = None) -> float | None:
    """``70.00 W`` → 70.0, ``25 W`` → 25.0; None when not a number (or in another ``unit``)."""
    number = _number(text, unit)
    return float(number) if number is not None else None


def parse_bool(text: str | None) -> bool | None:
    """``Enabled``/``Active``/``Yes`` → True, ``Disabled``/``Not Active``/``No`` → False, else None."""
    folded = (text or "").strip().casefold()
    for word, flag in _FLAGS:
        if folded == word:
            return flag
    return None


MAX_XML_GPUS = 64
"""``<gpu>`` elements one nvidia-smi document may hold (the pack's limit of GPUs per system)."""


def parse_root(xml_text: str) -> Element:
    """The ``<nvidia_smi_log>`` root of ``nvidia-smi -q -x`` output; NvidiaSmiError otherwise.

    The real DOCTYPE line (an external DTD that is never fetched) is accepted; entity
    declarations (billion laughs, external entities) and DTD fetches are refused by ``defusedxml``
    before anything is expanded or read.
    """
    text = xml_text.lstrip("\ufeff").strip()
    if not text:
        raise NvidiaSmiError("empty output")
    if len(text) > MAX_XML_CHARS:
        raise NvidiaSmiError(f"output too large for nvidia-smi XML ({len(text)} characters)")
    try:
        root: Element = safe_et.fromstring(text, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except (safe_et.ParseError, DefusedXmlException, ValueError) as exc:
        detail = " ".join(str(exc).split())[:160]
        raise NvidiaSmiError(f"not valid nvidia-smi XML: {detail}") from exc
    if root.tag != "nvidia_smi_log":
        raise NvidiaSmiError(f"not nvidia-smi XML: the root element is <{str(root.tag)[:40]}>")
    count = sum(1 for child in root if child.tag == "gpu")
    if count > MAX_XML_GPUS:
        raise NvidiaSmiError(f"{count} <gpu> elements, over the limit of {MAX_XML_GPUS}")
    return root


def parse_nvidia_smi(xml_text: str) -> SmiLog:
    """Parse ``nvidia-smi -q -x`` output; raise NvidiaSmiError when it is not that."""
    root = parse_root(xml_text)
    gpus = []
    for gpu in root.findall("gpu"):
        device = nvidia_pci_id(value(gpu, "pci/pci_device_id"))
        subsys = subsystem_pci_id(value(gpu, "pci/pci_sub_system_id"))
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
