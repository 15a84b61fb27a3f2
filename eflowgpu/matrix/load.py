"""Loading ``matrix.yaml`` into the typed :class:`~eflowgpu.matrix.model.Matrix`.

Every problem (unknown key, wrong type, duplicate key, reference to an undefined GPU, brand or
edition group) raises :class:`~eflowgpu.errors.MatrixError` naming the file, the line and the
dotted field path, e.g. ``matrix.yaml:212: profiles.ga-2022-06.rows[1].passthrough: expected one of
DDA, GPU-PV, got 'DD'``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from eflowgpu.errors import MatrixError
from eflowgpu.matrix.model import (
    BENCHMARK_IDS,
    PASSTHROUGH_TYPES,
    BenchmarkReferences,
    BenchReference,
    Brand,
    CatalogGpu,
    CudaDriver,
    DerivedReference,
    DriverRule,
    EditionGroup,
    EflowDefect,
    GpuSpecs,
    HostRequirements,
    Matrix,
    MitigationDrivers,
    Profile,
    Source,
    SupportRow,
    ToolkitDefect,
    ToolkitRequirements,
    VmRequirements,
    WindowsRelease,
    WindowsRule,
    parse_module_version,
)
from eflowgpu.matrix.yamlstrict import LineList, LineMap, load_yaml
from eflowgpu.versions import DriverVersion, WindowsBuild

MATRIX_FORMAT = "eflow-gpu-matrix/1"
_PCI_HEX = re.compile(r"^[0-9A-Fa-f]{4}$")
_SUBSYS = re.compile(r"^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}$")
_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")

T = TypeVar("T")
C = TypeVar("C", bound=str)
_SELECTION: tuple[Literal["automatic", "explicit"], ...] = ("automatic", "explicit")
_MITIGATION: tuple[Literal["recommended", "none"], ...] = ("recommended", "none")
_KINDS: tuple[Literal["server", "client"], ...] = ("server", "client")


class _Node:
    """A mapping of the YAML with its dotted path, for precise errors."""

    def __init__(self, path: Path, value: Any, where: str, line: int) -> None:
        self.path = path
        self.where = where
        self.line = line
        if not isinstance(value, LineMap):
            raise MatrixError(path, line, where, f"expected a mapping, got {_kind(value)}")
        self.map = value

    def error(self, key: str | None, message: str) -> MatrixError:
        line = self.map.line_of(key) if key else self.map.line
        field = _join(self.where, key) if key else self.where
        return MatrixError(self.path, line, field, message)

    def check_keys(self, required: set[str], optional: Collection[str] = ()) -> None:
        for key in self.map:
            if key not in required and key not in optional:
                allowed = ", ".join(sorted(required | set(optional)))
                raise self.error(key, f"unknown key (allowed here: {allowed})")
        for key in sorted(required):
            if key not in self.map:
                raise self.error(None, f"missing required key {key!r}")

    def get(self, key: str, kind: type[T] | tuple[type, ...], default: Any = None) -> Any:
        value = self.map.get(key, default)
        if key not in self.map:
            return default
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.error(key, f"expected {_names(kinds)}, got a boolean")
        if value is not None and not isinstance(value, kinds):
            raise self.error(key, f"expected {_names(kinds)}, got {_kind(value)}")
        if isinstance(value, int | float) and not isinstance(value, bool) and not _in_range(value):
            raise self.error(key, f"the number is out of range (at most {MAX_NUMBER:g} in size)")
        return value

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.get(key, str, default)
        return cast("str | None", value)

    def require_text(self, key: str) -> str:
        value = self.text(key)
        if not value:
            raise self.error(key, "expected a non-empty string")
        return value

    def child(self, key: str) -> _Node:
        return _Node(self.path, self.map.get(key), _join(self.where, key), self.map.line_of(key))

    def items(self, key: str) -> Iterator[tuple[str, _Node]]:
        node = self.child(key)
        for name, value in node.map.items():
            if not isinstance(name, str) or not _KEY.match(name):
                raise node.error(name, "keys here must be lower-case identifiers (a-z, 0-9, _ . -)")
            yield name, _Node(self.path, value, _join(node.where, name), node.map.line_of(name))

    def strings(
        self, key: str, *, pattern: re.Pattern[str] | None = None, required: bool = True
    ) -> tuple[str, ...]:
        value = self.map.get(key)
        if value is None:
            if required and key in self.map:
                raise self.error(key, "expected a list of strings, got nothing")
            if required:
                raise self.error(None, f"missing required key {key!r}")
            return ()
        if not isinstance(value, list):
            raise self.error(key, f"expected a list, got {_kind(value)}")
        lines = value.item_lines if isinstance(value, LineList) else []
        out = []
        for i, item in enumerate(value):
            line = lines[i] if i < len(lines) else self.map.line_of(key)
            if not isinstance(item, str) or not item:
                raise MatrixError(
                    self.path,
                    line,
                    f"{_join(self.where, key)}[{i}]",
                    f"expected a non-empty string, got {_kind(item)}",
                )
            if pattern is not None and not pattern.match(item):
                raise MatrixError(
                    self.path,
                    line,
                    f"{_join(self.where, key)}[{i}]",
                    f"{item!r} does not have the expected form {pattern.pattern}",
                )
            out.append(item)
        return tuple(out)

    def list_of_nodes(self, key: str) -> list[_Node]:
        value = self.map.get(key)
        if not isinstance(value, list) or not value:
            raise self.error(
                key if key in self.map else None, f"expected a non-empty list for {key!r}, got {_kind(value)}"
            )
        lines = value.item_lines if isinstance(value, LineList) else [self.map.line_of(key)] * len(value)
        return [
            _Node(self.path, item, f"{_join(self.where, key)}[{i}]", lines[i]) for i, item in enumerate(value)
        ]


MAX_NUMBER = 1e15
"""Largest magnitude of a number in the matrix (builds, MiB, GB/s: all far below)."""


def _in_range(value: float) -> bool:
    if isinstance(value, int):  # math.isfinite would overflow on a huge integer
        return abs(value) <= MAX_NUMBER
    return math.isfinite(value) and abs(value) <= MAX_NUMBER


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _names(kinds: tuple[type, ...]) -> str:
    words = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "a list"}
    return " or ".join(words.get(k, k.__name__) for k in kinds)


def load_matrix(path: Path | str) -> Matrix:
    """Read and validate the support matrix at ``path``.

    Raises:
        MatrixError: the file is missing, not YAML, or does not describe a valid matrix.
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise MatrixError(file, None, "", f"cannot read the matrix: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise MatrixError(file, line, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02x})") from exc
    data = load_yaml(text, file)
    if data is None:
        raise MatrixError(file, 1, "", "the matrix is empty")
    return build_matrix(data, file, hashlib.sha256(raw).hexdigest())


def build_matrix(data: Any, path: Path, sha256: str = "") -> Matrix:
    """Validate parsed YAML ``data`` (from :func:`load_yaml`) into a :class:`Matrix`."""
    root = _Node(path, data, "", 1)
    root.check_keys(
        {"format", "default_profile", "edition_groups", "brands", "gpus", "host", "profiles"},
        {"windows_releases", "mitigation_drivers", "vm", "benchmarks", "eflow_defects"},
    )
    if root.get("format", str) != MATRIX_FORMAT:
        raise root.error("format", f"expected {MATRIX_FORMAT!r}, got {root.map.get('format')!r}")
    groups = {key: _edition_group(key, node) for key, node in root.items("edition_groups")}
    _no_shared_editions(root, groups)
    brands = {key: _brand(key, node) for key, node in root.items("brands")}
    gpus = {key: _catalog_gpu(key, node, brands) for key, node in root.items("gpus")}
    releases: dict[int, WindowsRelease] = {}
    if "windows_releases" in root.map:
        for node in root.list_of_nodes("windows_releases"):
            node.check_keys({"build"}, {"client", "server"})
            build = node.get("build", int)
            releases[build] = WindowsRelease(build, node.text("client"), node.text("server"))
    profiles = {key: _profile(key, node, groups, brands, gpus) for key, node in root.items("profiles")}
    default = root.require_text("default_profile")
    if default not in profiles:
        raise root.error("default_profile", f"{default!r} is not a profile (defined: {', '.join(profiles)})")
    return Matrix(
        path=str(path),
        sha256=sha256,
        default_profile=default,
        edition_groups=groups,
        windows_releases=releases,
        brands=brands,
        gpus=gpus,
        host=_host(root.child("host")),
        mitigation_drivers=_mitigation(root),
        profiles=profiles,
        vm=_vm(root.child("vm")) if "vm" in root.map else VmRequirements(),
        benchmarks=_benchmarks(root.child("benchmarks"), gpus)
        if "benchmarks" in root.map
        else BenchmarkReferences(),
        eflow_defects=_eflow_defects(root, gpus),
    )


def _edition_group(key: str, node: _Node) -> EditionGroup:
    node.check_keys({"label", "kind", "editions"}, {"hyperv"})
    kind = _choice(node, "kind", _KINDS)
    hyperv = node.get("hyperv", bool, True)
    return EditionGroup(
        key,
        node.require_text("label"),
        kind,
        frozenset(node.strings("editions")),
        hyperv,
    )


def _no_shared_editions(root: _Node, groups: dict[str, EditionGroup]) -> None:
    owner: dict[str, str] = {}
    for key, group in groups.items():
        for edition in group.editions:
            folded = edition.casefold()
            if folded in owner:
                node = root.child("edition_groups").child(key)
                raise node.error("editions", f"{edition!r} is already in group {owner[folded]!r}")
            owner[folded] = key


def _brand(key: str, node: _Node) -> Brand:
    node.check_keys({"label", "vendors"}, {"name_patterns", "note"})
    patterns = []
    for i, text in enumerate(node.strings("name_patterns", required=False)):
        try:
            patterns.append(re.compile(text, re.IGNORECASE))
        except re.error as exc:
            raise node.error("name_patterns", f"item {i} is not a valid regular expression: {exc}") from exc
    vendors = tuple(v.upper() for v in node.strings("vendors", pattern=_PCI_HEX))
    return Brand(key, node.require_text("label"), vendors, tuple(patterns), node.text("note"))


def _catalog_gpu(key: str, node: _Node, brands: dict[str, Brand]) -> CatalogGpu:
    node.check_keys({"name", "brand", "pci"}, {"nvsmi_name", "family", "specs"})
    brand = node.require_text("brand")
    if brand not in brands:
        raise node.error("brand", f"{brand!r} is not a defined brand ({', '.join(brands)})")
    pci = node.child("pci")
    pci.check_keys({"device"}, {"vendor", "subsystem"})
    vendor = (pci.text("vendor") or next(iter(brands[brand].vendors), "")).upper()
    if not _PCI_HEX.match(vendor):
        raise pci.error("vendor", f"{vendor!r} is not a 4-digit hex PCI vendor id")
    devices = tuple(d.upper() for d in pci.strings("device", pattern=_PCI_HEX))
    subsystems = tuple(s.upper() for s in pci.strings("subsystem", pattern=_SUBSYS, required=False))
    specs = GpuSpecs()
    if "specs" in node.map:
        specs = _specs(node.child("specs"))
    return CatalogGpu(
        key,
        node.require_text("name"),
        node.text("nvsmi_name"),
        brand,
        node.text("family"),
        vendor,
        devices,
        subsystems,
        specs,
    )


_SPEC_TYPES: dict[str, tuple[type, ...]] = {
    "cc": (str,),
    "sm": (int,),
    "cuda_cores": (int,),
    "boost_mhz": (int,),
    "mem_gib": (int, float),
    "mem_type": (str,),
    "bus_bits": (int,),
    "bw_gbs": (int, float),
    "fp32_tflops": (int, float),
    "fp16_tensor_tflops": (int, float),
    "pcie_gen": (int,),
    "pcie_lanes": (int,),
    "tdp_w": (int, float),
}


def _specs(node: _Node) -> GpuSpecs:
    node.check_keys(set(), set(_SPEC_TYPES))
    return GpuSpecs(**{key: node.get(key, kinds) for key, kinds in _SPEC_TYPES.items()})


def _host(node: _Node) -> HostRequirements:
    node.check_keys(
        {"min_free_memory_mib", "min_free_disk_gb"}, {"source", "dda_mmio_mib", "dda_mmio_source"}
    )
    memory = node.get("min_free_memory_mib", int)
    disk = node.get("min_free_disk_gb", (int, float))
    mmio = node.get("dda_mmio_mib", int)
    for key, value in (("min_free_memory_mib", memory), ("min_free_disk_gb", disk), ("dda_mmio_mib", mmio)):
        if (value is None and key != "dda_mmio_mib") or (value is not None and value < 0):
            raise node.error(key, "expected a number of 0 or more")
    return HostRequirements(memory, float(disk), node.text("source"), mmio, node.text("dda_mmio_source"))


def _mitigation(root: _Node) -> MitigationDrivers:
    if "mitigation_drivers" not in root.map:
        return MitigationDrivers()
    node = root.child("mitigation_drivers")
    keys = ("service_patterns", "inf_patterns", "friendly_name_patterns", "generic_services")
    node.check_keys(set(), keys)
    return MitigationDrivers(*(node.strings(key, required=False) for key in keys))


def _module_version(node: _Node, key: str, text: str) -> tuple[int, ...]:
    version = parse_module_version(text)
    if version is None:
        raise node.error(key, f"expected a module version like '1.3.1.2092', got {text!r}")
    return version


def _eflow_defects(root: _Node, gpus: dict[str, CatalogGpu]) -> tuple[EflowDefect, ...]:
    if "eflow_defects" not in root.map:
        return ()
    defects = []
    for node in root.list_of_nodes("eflow_defects"):
        node.check_keys(
            {"id", "issue", "source"}, {"before", "versions", "models", "passthrough", "edition_kind"}
        )
        before = node.text("before")
        versions = tuple(
            _module_version(node, "versions", v) for v in node.strings("versions", required=False)
        )
        if before is None and not versions:
            raise node.error(None, "give before (the fixing release) or versions (the affected releases)")
        models = node.strings("models", required=False)
        _references(node, "models", models, gpus, "GPU in the catalog (gpus)")
        defects.append(
            EflowDefect(
                node.require_text("id"),
                node.require_text("issue"),
                node.require_text("source"),
                _module_version(node, "before", before) if before is not None else None,
                versions,
                models,
                _choice(node, "passthrough", PASSTHROUGH_TYPES) if "passthrough" in node.map else None,
                _choice(node, "edition_kind", _KINDS) if "edition_kind" in node.map else None,
            )
        )
    return tuple(defects)


def _cuda(node: _Node, key: str) -> tuple[int, int]:
    text = str(node.get(key, (str, float)))
    major, _, minor = text.partition(".")
    if not (major.isascii() and major.isdigit() and minor.isascii() and minor.isdigit()):
        raise node.error(key, f"expected a CUDA version like '12.0', got {text!r}")
    return int(major), int(minor)


def _toolkit_version(node: _Node, key: str) -> tuple[int, int, int]:
    text = str(node.get(key, str))
    parts = text.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise node.error(key, f"expected a toolkit version like '1.17.8', got {text!r}")
    return int(parts[0]), int(parts[1]), int(parts[2])


def _toolkit(node: _Node) -> ToolkitRequirements:
    node.check_keys(set(), {"min_version", "min_reason", "defects"})
    defects = []
    if "defects" in node.map:
        for item in node.list_of_nodes("defects"):
            item.check_keys({"version", "defect"}, {"wsl_only"})
            wsl_only = item.get("wsl_only", bool, True)
            defects.append(
                ToolkitDefect(_toolkit_version(item, "version"), item.require_text("defect"), wsl_only)
            )
    return ToolkitRequirements(
        _toolkit_version(node, "min_version") if "min_version" in node.map else None,
        node.text("min_reason"),
        tuple(defects),
    )


def _vm(node: _Node) -> VmRequirements:
    node.check_keys(
        {"required_cuda", "min_memory_mib"},
        {"memory_tolerance", "cuda_drivers", "image", "torch", "min_compute_capability", "toolkit"},
    )
    drivers = []
    if "cuda_drivers" in node.map:
        for item in node.list_of_nodes("cuda_drivers"):
            item.check_keys({"cuda", "linux"}, {"windows"})
            windows = _parse(item, "windows", DriverVersion.parse) if "windows" in item.map else None
            drivers.append(
                CudaDriver(_cuda(item, "cuda"), _parse(item, "linux", DriverVersion.parse), windows)
            )
    tolerance = node.get("memory_tolerance", (int, float), 0.88)
    if tolerance is None or not 0 < tolerance <= 1:
        raise node.error("memory_tolerance", "expected a fraction between 0 and 1")
    memory = node.get("min_memory_mib", int)
    if memory is None or memory < 0:
        raise node.error("min_memory_mib", "expected an integer of 0 or more")
    return VmRequirements(
        _cuda(node, "required_cuda"),
        memory,
        float(tolerance),
        tuple(drivers),
        node.text("image"),
        str(node.get("torch", str)) if "torch" in node.map else None,
        _cuda(node, "min_compute_capability") if "min_compute_capability" in node.map else None,
        _toolkit(node.child("toolkit")) if "toolkit" in node.map else ToolkitRequirements(),
    )


def _benchmarks(node: _Node, gpus: dict[str, CatalogGpu]) -> BenchmarkReferences:
    node.check_keys({"threshold"}, {"derived", "measured"})
    threshold = node.get("threshold", (int, float))
    if threshold is None or not 0 < threshold <= 1:
        raise node.error("threshold", "expected a fraction between 0 and 1")
    derived = {}
    if "derived" in node.map:
        for bench_id, item in node.items("derived"):
            _bench_id(node.child("derived"), bench_id)
            item.check_keys({"spec", "factor", "why"})
            spec = item.require_text("spec")
            if spec != "pcie" and spec not in _SPEC_TYPES:
                raise item.error("spec", f"{spec!r} is not a spec of the catalog (or 'pcie')")
            factor = item.get("factor", (int, float))
            if factor is None or factor <= 0:
                raise item.error("factor", "expected a positive number")
            derived[bench_id] = DerivedReference(spec, float(factor), item.require_text("why"))
    measured: dict[tuple[str, str], dict[str, BenchReference]] = {}
    if "measured" in node.map:
        for entry in node.list_of_nodes("measured"):
            entry.check_keys({"gpu", "passthrough", "values"})
            gpu = entry.require_text("gpu")
            if gpu not in gpus:
                raise entry.error("gpu", f"{gpu!r} is not a defined GPU in the catalog (gpus)")
            passthrough = _choice(entry, "passthrough", PASSTHROUGH_TYPES)
            values: dict[str, BenchReference] = {}
            for bench_id, item in entry.items("values"):
                _bench_id(entry.child("values"), bench_id)
                item.check_keys({"value", "source"})
                value = item.get("value", (int, float))
                if value is None or value <= 0:
                    raise item.error("value", "expected a positive number")
                values[bench_id] = BenchReference(float(value), item.require_text("source"))
            if (gpu, passthrough) in measured:
                raise entry.error("gpu", f"{gpu} / {passthrough} is listed twice")
            measured[(gpu, passthrough)] = values
    return BenchmarkReferences(float(threshold), derived, measured)


def _bench_id(node: _Node, bench_id: str) -> None:
    if bench_id not in BENCHMARK_IDS:
        raise node.error(bench_id, f"unknown benchmark id (known: {', '.join(BENCHMARK_IDS)})")


def _profile(
    key: str,
    node: _Node,
    groups: dict[str, EditionGroup],
    brands: dict[str, Brand],
    gpus: dict[str, CatalogGpu],
) -> Profile:
    node.check_keys({"title", "source", "passthrough_selection", "rows"})
    src = node.child("source")
    src.check_keys({"document", "revision"}, {"quote"})
    selection = _choice(node, "passthrough_selection", _SELECTION)
    rows = tuple(_row(row, groups, brands, gpus) for row in node.list_of_nodes("rows"))
    seen: set[str] = set()
    for row, row_node in zip(rows, node.list_of_nodes("rows"), strict=True):
        if row.id in seen:
            raise row_node.error("id", f"duplicate row id {row.id!r}")
        seen.add(row.id)
    return Profile(
        key,
        node.require_text("title"),
        Source(src.require_text("document"), src.require_text("revision"), src.text("quote")),
        selection,
        rows,
    )


def _row(
    node: _Node, groups: dict[str, EditionGroup], brands: dict[str, Brand], gpus: dict[str, CatalogGpu]
) -> SupportRow:
    node.check_keys({"id", "gpus", "passthrough", "windows"}, {"driver", "mitigation_driver", "why"})
    selector = node.child("gpus")
    selector.check_keys(set(), {"models", "brands"})
    models = selector.strings("models", required=False)
    row_brands = selector.strings("brands", required=False)
    if not models and not row_brands:
        raise selector.error(None, "name at least one catalog model or brand")
    _references(selector, "models", models, gpus, "GPU in the catalog (gpus)")
    _references(selector, "brands", row_brands, brands, "brand")
    passthrough = _choice(node, "passthrough", PASSTHROUGH_TYPES)
    mitigation = _choice(node, "mitigation_driver", _MITIGATION, default="none")
    driver = _driver(node.child("driver")) if "driver" in node.map else None
    windows = tuple(_windows_rule(w, groups) for w in node.list_of_nodes("windows"))
    return SupportRow(
        node.require_text("id"),
        models,
        row_brands,
        passthrough,
        windows,
        driver,
        mitigation,
        node.text("why"),
    )


def _choice(node: _Node, key: str, choices: tuple[C, ...], default: C | None = None) -> C:
    """The value at ``key`` as one of ``choices`` (typed as the choices are)."""
    value = node.text(key, default)
    for choice in choices:
        if value == choice:
            return choice
    raise node.error(key, f"expected one of {', '.join(choices)}, got {value!r}")


def _references(node: _Node, key: str, names: tuple[str, ...], defined: dict[str, Any], what: str) -> None:
    for name in names:
        if name not in defined:
            raise node.error(key, f"{name!r} is not a defined {what}")


def _windows_rule(node: _Node, groups: dict[str, EditionGroup]) -> WindowsRule:
    node.check_keys(
        {"editions"},
        {"min_build", "max_build", "builds", "current_updates", "requires_wsl", "note", "excluded_builds"},
    )
    editions = node.strings("editions")
    _references(node, "editions", editions, groups, "edition group (edition_groups)")
    min_build = _parse(node, "min_build", WindowsBuild.parse) if "min_build" in node.map else None
    builds = tuple(node.get("builds", list) or ())
    if any(not isinstance(b, int) or isinstance(b, bool) for b in builds):
        raise node.error("builds", "expected a list of build numbers (integers)")
    if builds and (min_build is not None or "max_build" in node.map):
        raise node.error("builds", "give either builds or min_build/max_build, not both")
    if not builds and min_build is None:
        raise node.error(None, "give min_build or builds")
    current = tuple(node.get("current_updates", list) or ())
    if any(b not in builds for b in current):
        raise node.error("current_updates", "every build here must also be in builds")
    excluded = []
    if "excluded_builds" in node.map:
        for item in node.list_of_nodes("excluded_builds"):
            item.check_keys({"build", "reason"})
            number = item.get("build", int)
            if number is None:
                raise item.error("build", "expected a build number")
            excluded.append((int(number), item.require_text("reason")))
    return WindowsRule(
        editions,
        min_build,
        node.get("max_build", int),
        builds,
        frozenset(current),
        bool(node.get("requires_wsl", bool, False)),
        node.text("note"),
        tuple(excluded),
    )


def _driver(node: _Node) -> DriverRule:
    node.check_keys({"vendor", "name"}, {"min_version", "recommended_version", "note"})
    vendor = node.require_text("vendor").upper()
    if not _PCI_HEX.match(vendor):
        raise node.error("vendor", f"{vendor!r} is not a 4-digit hex PCI vendor id")
    minimum = _parse(node, "min_version", DriverVersion.parse) if "min_version" in node.map else None
    recommended = (
        _parse(node, "recommended_version", DriverVersion.parse)
        if "recommended_version" in node.map
        else None
    )
    return DriverRule(vendor, node.require_text("name"), minimum, recommended, node.text("note"))


def _parse(node: _Node, key: str, parser: Callable[[str], T]) -> T:
    value = node.get(key, (str, int))
    try:
        return parser(str(value))
    except ValueError as exc:
        raise node.error(key, str(exc)) from exc
