"""Which product a GPU is: its catalog entry from PCI ids, or its brand when the catalog lacks it."""

from __future__ import annotations

from dataclasses import dataclass

from eflowgpu.matrix import Brand, CatalogGpu, Matrix
from eflowgpu.pci import PciIdentity


@dataclass(frozen=True)
class GpuIdentity:
    """The catalog entry (or None), the brand (or None) and how they were found."""

    model: CatalogGpu | None
    brand: Brand | None
    how: str


def identify(matrix: Matrix, pci: PciIdentity | None, name: str | None) -> GpuIdentity:
    """Identify a GPU by PCI vendor and device id, the subsystem where products share a device id,
    and by product name when ids are missing. NVIDIA GPUs outside the catalog get a brand by name."""
    model, how = _by_pci(matrix, pci) if pci is not None else (None, "")
    if model is None and not how and name:
        model = _by_name(matrix, name)
        how = f"by product name {name!r}" if model else ""
    if model is not None:
        return GpuIdentity(model, matrix.brands.get(model.brand), how)
    vendor = pci.vendor if pci is not None else None
    for brand in matrix.brands.values():
        if brand.matches(vendor, name) if vendor else _name_only(brand, name):
            reason = how or "not in the catalog"
            return GpuIdentity(None, brand, f"{reason}; classified as {brand.label}")
    return GpuIdentity(None, None, how or "not in the catalog and of no known brand")


def _by_pci(matrix: Matrix, pci: PciIdentity) -> tuple[CatalogGpu | None, str]:
    candidates = [g for g in matrix.gpus.values() if g.vendor == pci.vendor and pci.device in g.devices]
    if len(candidates) == 1:
        return candidates[0], f"by PCI id {pci.pci_id}"
    if len(candidates) > 1:
        subsys = pci.subsys_id
        chosen = [g for g in candidates if subsys and subsys in g.subsystems]
        if len(chosen) == 1:
            return chosen[0], f"by PCI id {pci.pci_id} and subsystem {subsys}"
        keys = ", ".join(g.key for g in candidates)
        return None, (
            f"PCI id {pci.pci_id} is shared by {keys} and subsystem {subsys or 'unknown'} names none of them"
        )
    return None, ""


def _by_name(matrix: Matrix, name: str) -> CatalogGpu | None:
    wanted = _simplify(name)
    for gpu in matrix.gpus.values():
        if wanted in (_simplify(gpu.name), _simplify(gpu.nvsmi_name or "")):
            return gpu
    return None


def _simplify(name: str) -> str:
    words = name.casefold().replace("(r)", "").replace("(tm)", "").split()
    return " ".join(w for w in words if w != "nvidia")


def _name_only(brand: Brand, name: str | None) -> bool:
    return bool(brand.name_patterns) and bool(name) and any(p.search(name or "") for p in brand.name_patterns)
