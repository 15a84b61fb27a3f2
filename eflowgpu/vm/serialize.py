"""The ``nvml`` probe: what NVML answered on a live machine, recorded in the VM snapshot.

The contract lets snapshots grow by added probes. The live collector stores NVML's answers as the
JSON of :class:`VmGpu` objects, so that a live run is recorded once and replays exactly.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

from eflowgpu.vm.model import EccCounts, MemoryHealth, PcieLink, VmGpu

NVML_PROBE = "nvml"
NVML_COMMAND = "NVML queries through nvidia-ml-py (in-process)"

_NESTED = {"pcie": PcieLink, "ecc": EccCounts, "memory_health": MemoryHealth}


def nvml_probe_stdout(driver: str | None, cuda: str | None, gpus: Sequence[VmGpu]) -> str:
    """The ``nvml`` probe's stdout for NVML's answers."""
    items = []
    for gpu in gpus:
        data = dataclasses.asdict(gpu)
        data["not_supported"] = sorted(gpu.not_supported)
        data["clocks_event_reasons"] = (
            list(gpu.clocks_event_reasons) if gpu.clocks_event_reasons is not None else None
        )
        items.append(data)
    return json.dumps({"driver_version": driver, "cuda_version": cuda, "gpus": items}, indent=1)


def gpus_from_nvml_probe(stdout: str) -> tuple[str | None, str | None, list[VmGpu]]:
    """Read the ``nvml`` probe back; ValueError when it is not what :func:`nvml_probe_stdout` writes.

    The probe is untrusted snapshot data: every value is checked against the type of its field
    (and integers against a range) before a :class:`VmGpu` is built, and the number of GPUs is bounded.
    """
    try:
        data = json.loads(stdout)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"not an nvml probe record (not JSON: {str(exc)[:100]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("gpus"), list):
        raise ValueError("not an nvml probe record (no list of GPUs)")
    items = data["gpus"]
    if len(items) > MAX_NVML_GPUS:
        raise ValueError(f"{len(items)} GPUs, over the limit of {MAX_NVML_GPUS}")
    gpus = [_gpu(item, f"gpus[{n}]") for n, item in enumerate(items)]
    return _opt_str(data.get("driver_version")), _opt_str(data.get("cuda_version")), gpus


MAX_NVML_GPUS = 64
"""GPUs an ``nvml`` probe may list."""
MAX_TEXT = 512
"""Characters of one text value of the ``nvml`` probe."""
MAX_INT = 2**53
"""Largest magnitude of an integer value (exact in JSON everywhere)."""


def _checked(value: Any, kind: str, where: str) -> Any:
    """``value`` when it fits the field annotation ``kind``; ValueError naming ``where`` otherwise."""
    if value is None and kind.endswith("| None"):
        return None
    base = kind.removesuffix(" | None")
    if base == "int" and isinstance(value, int) and not isinstance(value, bool):
        low = -273 if where.endswith("temperature_c") else 0
        if low <= value <= MAX_INT:
            return value
        raise ValueError(f"{where} is {_shown(value)}, out of range")
    if base == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        if abs(value) <= MAX_INT and math.isfinite(value):  # the range first: a huge int is no float
            return float(value)
        raise ValueError(f"{where} is {_shown(value)}, out of range")
    if base == "bool" and isinstance(value, bool):
        return value
    if base == "str" and isinstance(value, str):
        if len(value) <= MAX_TEXT:
            return value
        raise ValueError(f"{where} is over {MAX_TEXT} characters")
    if base in ("tuple[str, ...]", "frozenset[str]") and isinstance(value, list):
        if len(value) <= MAX_NVML_GPUS and all(isinstance(v, str) and len(v) <= MAX_TEXT for v in value):
            return tuple(value) if base.startswith("tuple") else frozenset(value)
        raise ValueError(f"{where} must be a short list of short strings")
    raise ValueError(f"{where} must be {_KIND_NAMES.get(base, base)}, not {_type_name(value)}")


_KIND_NAMES = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list"}
    return names.get(type(value), "an object" if isinstance(value, dict) else type(value).__name__)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:20] + "…"


def _record(kind: type[Any], item: Any, where: str) -> dict[str, Any]:
    """The checked keyword arguments of dataclass ``kind`` from the JSON object ``item``."""
    if not isinstance(item, dict):
        raise ValueError(f"{where} must be an object, not {_type_name(item)}")
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(kind):
        if spec.name not in item:
            continue
        nested = _NESTED.get(spec.name)
        if nested is not None:
            values[spec.name] = nested(**_record(nested, item[spec.name], f"{where}.{spec.name}"))
        else:
            values[spec.name] = _checked(item[spec.name], str(spec.type), f"{where}.{spec.name}")
    return values


def _gpu(item: Any, where: str) -> VmGpu:
    values = _record(VmGpu, item, where)
    if "index" not in values:
        raise ValueError(f"{where} has no integer index")
    return VmGpu(**values)


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value and len(value) <= MAX_TEXT else None
