"""The live in-VM path: NVML's answers recorded as the snapshot's ``nvml`` probe.

The live run records what it saw, like the host side: the VM collector runs the contract's
commands, and this module adds what NVML answered, so that the same snapshot replays exactly.
"""

from __future__ import annotations

from typing import Any

from eflowgpu.vm.nvml import LoadError, load_nvml, read_gpus
from eflowgpu.vm.serialize import NVML_COMMAND, NVML_PROBE, nvml_probe_stdout


def nvml_probe() -> dict[str, Any]:
    """Query NVML (from the usual places or ``/usr/lib/wsl/lib``) and return a probe entry.

    A machine without NVML or whose driver does not answer gives a failed probe with the reason.
    """
    api = load_nvml()
    if isinstance(api, LoadError):
        return {"command": NVML_COMMAND, "exit_code": 1, "stdout": "", "stderr": str(api)}
    result = read_gpus(api)
    if isinstance(result, LoadError):
        return {"command": NVML_COMMAND, "exit_code": 1, "stdout": "", "stderr": str(result)}
    driver, cuda, gpus = result
    return {
        "command": NVML_COMMAND,
        "exit_code": 0,
        "stdout": nvml_probe_stdout(driver, cuda, gpus),
        "stderr": "",
    }


def add_nvml_probe(snapshot: dict[str, Any]) -> None:
    """Add the ``nvml`` probe to a VM snapshot envelope built by the VM collector."""
    snapshot.setdefault("probes", {})[NVML_PROBE] = nvml_probe()
