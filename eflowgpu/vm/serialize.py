"""The ``nvml`` probe: what NVML answered on a live machine, recorded in the VM snapshot.

The contract lets snapshots grow by added probes. The live collector stores NVML's answers as the
JSON of :class:`VmGpu` objects, so that a live run is recorded once and replays exactly.
"""

from __future__ import annotations

import dataclasses
import json
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
    """Read the ``nvml`` probe back; ValueError when it is not what :func:`nvml_probe_stdout` writes."""
    try:
        data = json.loads(stdout)
        gpus = [_gpu(item) for item in data["gpus"]]
        return _opt_str(data.get("driver_version")), _opt_str(data.get("cuda_version")), gpus
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not an nvml probe record ({type(exc).__name__}: {exc})") from exc


def _gpu(item: dict[str, Any]) -> VmGpu:
    known = {f.name for f in dataclasses.fields(VmGpu)}
    values: dict[str, Any] = {k: v for k, v in item.items() if k in known}
    for name, kind in _NESTED.items():
        nested = values.get(name)
        if isinstance(nested, dict):
            allowed = {f.name for f in dataclasses.fields(kind)}
            values[name] = kind(**{k: v for k, v in nested.items() if k in allowed})
        elif name in values:
            del values[name]
    values["not_supported"] = frozenset(str(x) for x in values.get("not_supported") or ())
    reasons = values.get("clocks_event_reasons")
    values["clocks_event_reasons"] = tuple(str(r) for r in reasons) if isinstance(reasons, list) else None
    if not isinstance(values.get("index"), int):
        raise ValueError("a GPU without an integer index")
    return VmGpu(**values)


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
