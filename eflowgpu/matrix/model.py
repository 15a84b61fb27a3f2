"""The typed support matrix: what ``matrix.yaml`` holds once it has been validated."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from eflowgpu.versions import DriverVersion, WindowsBuild

Passthrough = Literal["DDA", "GPU-PV"]
PASSTHROUGH_TYPES: tuple[Passthrough, ...] = ("DDA", "GPU-PV")
EditionKind = Literal["server", "client"]


def kind_of_installation(installation_type: str) -> EditionKind:
    """``server`` for ``InstallationType`` Server and Server Core, else ``client``."""
    return "server" if installation_type.strip().casefold().startswith("server") else "client"


@dataclass(frozen=True)
class EditionGroup:
    """Windows editions (``EditionID`` values) that a support table names together."""

    key: str
    label: str
    kind: EditionKind
    editions: frozenset[str]
    hyperv: bool = True


@dataclass(frozen=True)
class WindowsRelease:
    """Names of a build number, for details: client and server releases can share a build."""

    build: int
    client: str | None = None
    server: str | None = None


@dataclass(frozen=True)
class Brand:
    """How a GPU outside the catalog is classified: by PCI vendor and, optionally, by name."""

    key: str
    label: str
    vendors: tuple[str, ...]
    name_patterns: tuple[re.Pattern[str], ...] = ()
    note: str | None = None

    def matches(self, vendor: str | None, name: str | None) -> bool:
        """True when ``vendor`` is one of the brand's and its patterns (if any) match ``name``."""
        if vendor is None or vendor.upper() not in self.vendors:
            return False
        if not self.name_patterns:
            return True
        return bool(name) and any(p.search(name or "") for p in self.name_patterns)


@dataclass(frozen=True)
class GpuSpecs:
    """Reference specs of a product, for identity checks and, later, benchmark references."""

    cc: str | None = None
    sm: int | None = None
    cuda_cores: int | None = None
    boost_mhz: int | None = None
    mem_gib: float | None = None
    mem_type: str | None = None
    bus_bits: int | None = None
    bw_gbs: float | None = None
    fp32_tflops: float | None = None
    fp16_tensor_tflops: float | None = None
    pcie_gen: int | None = None
    pcie_lanes: int | None = None
    tdp_w: float | None = None


@dataclass(frozen=True)
class CatalogGpu:
    """A GPU product of the catalog, keyed like ``shared/reference/gpus.yaml`` (``t4``, ``a2``, …)."""

    key: str
    name: str
    nvsmi_name: str | None
    brand: str
    family: str | None
    vendor: str
    devices: tuple[str, ...]
    subsystems: tuple[str, ...]
    specs: GpuSpecs


@dataclass(frozen=True)
class WindowsRule:
    """One line of a row's Windows list: which editions, which builds, and extra needs."""

    editions: tuple[str, ...]
    min_build: WindowsBuild | None = None
    max_build: int | None = None
    builds: tuple[int, ...] = ()
    current_updates: frozenset[int] = frozenset()
    requires_wsl: bool = False
    note: str | None = None
    excluded: tuple[tuple[int, str], ...] = ()

    def exclusion(self, build: int) -> str | None:
        """Why ``build`` is excluded from this entry's range (a known-broken build), or None."""
        return next((reason for number, reason in self.excluded if number == build), None)

    def describe(self) -> str:
        """The build range in words: ``19044.1620 to 19045``, ``17763 or 20348``, ``22000 or later``."""
        if self.builds:
            return " or ".join(str(b) for b in self.builds)
        low = str(self.min_build) if self.min_build else "any"
        if self.max_build is not None:
            return f"{low} to {self.max_build}"
        return f"{low} or later"


@dataclass(frozen=True)
class DriverRule:
    """The host driver a GPU-PV row needs."""

    vendor: str
    name: str
    min_version: DriverVersion | None = None
    recommended_version: DriverVersion | None = None
    note: str | None = None


@dataclass(frozen=True)
class SupportRow:
    """A row of a support table: which GPUs, by which passthrough type, on which Windows."""

    id: str
    models: tuple[str, ...]
    brands: tuple[str, ...]
    passthrough: Passthrough
    windows: tuple[WindowsRule, ...]
    driver: DriverRule | None = None
    mitigation_driver: Literal["recommended", "none"] = "none"
    why: str | None = None


@dataclass(frozen=True)
class Source:
    """Where a profile's rules come from."""

    document: str
    revision: str
    quote: str | None = None

    def __str__(self) -> str:
        return f"{self.document}, {self.revision}"


@dataclass(frozen=True)
class Profile:
    """A complete support table as one revision of Microsoft's documentation states it."""

    key: str
    title: str
    source: Source
    passthrough_selection: Literal["automatic", "explicit"]
    rows: tuple[SupportRow, ...]

    def row_for(self, model: str | None, brand: str | None) -> SupportRow | None:
        """The first row naming ``model``, else the first row naming ``brand``, else None."""
        if model is not None:
            for row in self.rows:
                if model in row.models:
                    return row
        if brand is not None:
            for row in self.rows:
                if brand in row.brands:
                    return row
        return None


@dataclass(frozen=True)
class HostRequirements:
    """Rules that hold in every profile (EFLOW's host prerequisites)."""

    min_free_memory_mib: int
    min_free_disk_gb: float
    source: str | None = None
    dda_mmio_mib: int | None = None
    dda_mmio_source: str | None = None


@dataclass(frozen=True)
class MitigationDrivers:
    """Shell-style patterns that recognise a vendor's DDA device mitigation driver as Windows records it.

    ``friendly_name_patterns`` match the device's friendly name, ``inf_patterns`` the INF name
    (published ``oemNN.inf`` names never match; original names do), ``service_patterns`` the service;
    ``generic_services`` are Microsoft's generic drivers for a dismounted device (no mitigation).
    """

    service_patterns: tuple[str, ...] = ()
    inf_patterns: tuple[str, ...] = ()
    friendly_name_patterns: tuple[str, ...] = ()
    generic_services: tuple[str, ...] = ()


def parse_module_version(text: str) -> tuple[int, ...] | None:
    """``1.3.1.02092`` or ``1.3.1.2092`` → (1, 3, 1, 2092); None when it is not 2-4 numeric parts."""
    parts = text.strip().split(".")
    if not 2 <= len(parts) <= 4 or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


@dataclass(frozen=True)
class EflowDefect:
    """A known GPU defect of EFLOW releases: which versions, for which GPUs, editions and passthrough."""

    id: str
    issue: str
    source: str
    before: tuple[int, ...] | None = None
    versions: tuple[tuple[int, ...], ...] = ()
    models: tuple[str, ...] = ()
    passthrough: Passthrough | None = None
    edition_kind: EditionKind | None = None

    def affects_version(self, version: tuple[int, ...]) -> bool:
        """Whether an EFLOW module ``version`` (numeric parts) has this defect."""
        if self.versions and version in self.versions:
            return True
        return self.before is not None and version < self.before


@dataclass(frozen=True)
class CudaDriver:
    """The minimum driver for a CUDA major.minor, on Linux (DDA) and Windows (GPU-PV)."""

    cuda: tuple[int, int]
    linux: DriverVersion
    windows: DriverVersion | None = None

    def minimum(self, passthrough: Passthrough) -> DriverVersion:
        """The minimum for the driver the VM sees; a missing Windows entry means the Linux branch."""
        if passthrough == "GPU-PV":
            return self.windows or DriverVersion((self.linux.parts[0], 0), f"{self.linux.parts[0]}.00")
        return self.linux


@dataclass(frozen=True)
class ToolkitDefect:
    """A release of the NVIDIA container toolkit with a known defect (``wsl_only``: under GPU-PV)."""

    version: tuple[int, int, int]
    defect: str
    wsl_only: bool = True


@dataclass(frozen=True)
class ToolkitRequirements:
    """The VM's NVIDIA container toolkit: the oldest release without a known CVE, and bad releases."""

    min_version: tuple[int, int, int] | None = None
    min_reason: str | None = None
    defects: tuple[ToolkitDefect, ...] = ()


@dataclass(frozen=True)
class VmRequirements:
    """What the in-VM suite needs.

    The CUDA chain is stated once, here: ``image`` (the container's base) and ``torch`` (its PyTorch
    build) are what deploy/Dockerfile builds (a test checks that it agrees), ``required_cuda`` is
    that build's CUDA (the driver must support it: ``cuda_drivers``), ``min_compute_capability``
    the oldest GPU architecture it has kernels for.
    """

    required_cuda: tuple[int, int] = (12, 0)
    min_memory_mib: int = 4096
    memory_tolerance: float = 0.88
    cuda_drivers: tuple[CudaDriver, ...] = ()
    image: str | None = None
    torch: str | None = None
    min_compute_capability: tuple[int, int] | None = None
    toolkit: ToolkitRequirements = field(default_factory=ToolkitRequirements)

    def driver_for(self, cuda: tuple[int, int]) -> CudaDriver | None:
        """The entry of the highest CUDA at or below ``cuda`` within the same major version."""
        entries = [d for d in self.cuda_drivers if d.cuda[0] == cuda[0] and d.cuda <= cuda]
        return max(entries, key=lambda d: d.cuda) if entries else None


BENCHMARK_IDS: tuple[str, ...] = (
    "h2d_pinned",
    "d2h_pinned",
    "h2d_pageable",
    "d2h_pageable",
    "d2d",
    "launch_latency",
    "gemm_fp32",
    "gemm_tf32",
    "gemm_fp16",
    "resnet50_fp16",
    "resnet50_fp32",
    "cpu_gemm_fp32",
    "cpu_resnet50_fp32",
    "memory_alloc",
    "stress",
)
"""The in-VM benchmark ids (contracts: report ``vm.benchmarks[].id``)."""

# PCIe bandwidth per lane and direction after line coding, GB/s (128b/130b from Gen3 on).
PCIE_LANE_GBS = {1: 0.25, 2: 0.5, 3: 0.985, 4: 1.969, 5: 3.938, 6: 7.563}


@dataclass(frozen=True)
class BenchReference:
    """A benchmark's reference figure for a GPU and passthrough type, and where it comes from."""

    value: float
    source: str


@dataclass(frozen=True)
class DerivedReference:
    """A reference derived from a catalog spec (``pcie`` means the PCIe link) times a factor."""

    spec: str
    factor: float
    why: str


@dataclass(frozen=True)
class BenchmarkReferences:
    """Benchmark references and the pass threshold (a fraction of the reference)."""

    threshold: float = 0.75
    derived: Mapping[str, DerivedReference] = field(default_factory=dict)
    measured: Mapping[tuple[str, str], Mapping[str, BenchReference]] = field(default_factory=dict)

    def reference(self, gpu: CatalogGpu | None, passthrough: str, bench_id: str) -> BenchReference | None:
        """The measured reference for this product and passthrough type, else a derived one, else None."""
        if gpu is None:
            return None
        measured = self.measured.get((gpu.key, passthrough), {}).get(bench_id)
        if measured is not None:
            return measured
        rule = self.derived.get(bench_id)
        if rule is None:
            return None
        specs = gpu.specs
        if rule.spec == "pcie":
            if not specs.pcie_gen or not specs.pcie_lanes or specs.pcie_gen not in PCIE_LANE_GBS:
                return None
            base = PCIE_LANE_GBS[specs.pcie_gen] * specs.pcie_lanes
            shown = f"PCIe Gen{specs.pcie_gen} x{specs.pcie_lanes} ({base:.2f} GB/s per direction)"
        else:
            spec_value = getattr(specs, rule.spec, None)
            if not isinstance(spec_value, int | float) or isinstance(spec_value, bool) or spec_value <= 0:
                return None
            base, shown = float(spec_value), f"{rule.spec} {spec_value:g}"
        return BenchReference(
            round(base * rule.factor, 3), f"{rule.factor:g} x {shown} of the spec: {rule.why}"
        )


@dataclass(frozen=True)
class Matrix:
    """The validated support matrix."""

    path: str
    sha256: str
    default_profile: str
    edition_groups: dict[str, EditionGroup]
    windows_releases: dict[int, WindowsRelease]
    brands: dict[str, Brand]
    gpus: dict[str, CatalogGpu]
    host: HostRequirements
    mitigation_drivers: MitigationDrivers
    profiles: dict[str, Profile]
    vm: VmRequirements = field(default_factory=VmRequirements)
    benchmarks: BenchmarkReferences = field(default_factory=BenchmarkReferences)
    eflow_defects: tuple[EflowDefect, ...] = ()
    _edition_index: dict[str, EditionGroup] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for group in self.edition_groups.values():
            for edition in group.editions:
                self._edition_index[edition.casefold()] = group

    def edition_group(self, edition_id: str | None) -> EditionGroup | None:
        """The group an ``EditionID`` belongs to (case-insensitive), or None."""
        if not edition_id:
            return None
        return self._edition_index.get(edition_id.strip().casefold())

    def profile(self, key: str | None) -> Profile:
        """The profile named ``key`` (the default when None); KeyError lists the known ones."""
        name = key or self.default_profile
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise KeyError(f"unknown profile {name!r} (the matrix has: {known})") from None

    def release_name(self, build: int, kind: EditionKind | None) -> str | None:
        """A readable name for ``build``: the server name on servers, else the client name."""
        release = self.windows_releases.get(build)
        if release is None:
            return None
        if kind == "server":
            return release.server or release.client
        return release.client or release.server
