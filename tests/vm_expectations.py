"""Expected results for the sample VM snapshots in fixtures/vms/ (written by fixtures/vms/_make_vms.py).

Plain data, derived BY HAND from the rules of shared/contracts/vm-snapshot.md, not from the
implementation: it is a cross-check of the VM evaluator.

EXPECTED[file stem] = {
    "host": the Windows host's label the VM joins to (a `host` in fixtures/hosts), or None,
    "passthrough": "DDA" | "GPU-PV" | "none",
    "gpus": [{"pci_id", "model", "driver_version", "cuda_version", "memory_total_mib", "pcie"}],
    "gpu_visible": "pass" | "fail" | "skip",
    "status": "ok" | "error",
}

The rules applied:

* DDA: an NVIDIA PCI function (vendor `0x10de`, class `0x03xxxx`) in `pci_devices`. It works when
  `/dev/nvidia0` and `/proc/driver/nvidia/version` exist and nvidia-smi answers; a function without a
  driver is DDA that is broken (`gpu_visible` fail), not "no GPU".
* GPU-PV: `/dev/dxg` and `libcuda.so.1` in `/usr/lib/wsl/lib` or, inside the pack's container
  (contract revision 2, `scope` container), through the dynamic linker (`loader_libs`: `ldconfig -p`
  lists `/usr/lib/x86_64-linux-gnu/libcuda.so.1`), no NVIDIA PCI function (Microsoft's `1414:008e`
  render device is not one). nvidia-smi there reports the host's Windows driver.
* none: neither (`gpu_visible` skip: there is nothing to see).
* `pci_id` is `VVVV:DDDD`. An XML id that is redacted or whose vendor half is not `10DE` is not an id:
  the XML's GPU is paired with its sysfs function by bus id (`00003A5E:00:00.0` is `3a5e:00:00.0`) and
  the sysfs ids are used. Under GPU-PV there is no sysfs function: the ids come from the XML.
* `model` is the matrix.yaml catalog key, by PCI device id (subsystem where ids are shared), else by
  product name.
* `pcie` is {gen_max, width_max, gen_current, width_current} from the XML, None when no XML was usable.
* An nvidia_smi stdout that cannot be parsed (truncated, or hostile entity definitions) costs that VM
  its XML facts only: the snapshot is fine (`status` ok), `gpus` holds what sysfs alone shows and
  `gpu_visible` fails.
* A file that is not a readable `eflow-gpu-vm-snapshot/1` is `status` error; for it only `status` is
  meant to be compared (the other fields are None or empty).
"""

from __future__ import annotations

from typing import Any

T4 = "10DE:1EB8"
PCIE_T4 = {"gen_max": 3, "width_max": 16, "gen_current": 3, "width_current": 16}


def _gpu(
    pci_id: str | None,
    model: str | None,
    driver_version: str | None = None,
    cuda_version: str | None = None,
    memory_total_mib: int | None = None,
    pcie: dict[str, int] | None = None,
) -> dict[str, Any]:
    return {
        "pci_id": pci_id,
        "model": model,
        "driver_version": driver_version,
        "cuda_version": cuda_version,
        "memory_total_mib": memory_total_mib,
        "pcie": pcie,
    }


def _vm(host: str | None, passthrough: str, gpus: list[dict[str, Any]], gpu_visible: str) -> dict[str, Any]:
    return {
        "host": host,
        "passthrough": passthrough,
        "gpus": gpus,
        "gpu_visible": gpu_visible,
        "status": "ok",
    }


def _error() -> dict[str, Any]:
    return {"host": None, "passthrough": None, "gpus": [], "gpu_visible": None, "status": "error"}


EXPECTED: dict[str, dict[str, Any]] = {
    # (a) Healthy DDA T4 (vPCI 7870:00:00.0), proprietary 535.104.05, CBL-Mariner 2.0.
    "vm-t4-srv2022-dda": _vm(
        "LAB-T4-SRV2022",
        "DDA",
        [_gpu(T4, "t4", "535.104.05", "12.2", 15360, PCIE_T4)],
        "pass",
    ),
    # (b) GPU-PV RTX 4070: no NVIDIA PCI function (only 1414:008e), /dev/dxg, WSL libs; the XML is the
    # host's Windows driver 565.90 (through /usr/lib/wsl/lib/nvidia-smi), ids from the XML.
    "vm-rtx4070-w11ent-gpupv": _vm(
        "LAB-4070-W11ENT",
        "GPU-PV",
        [
            _gpu(
                "10DE:2786",
                "rtx4070",
                "565.90",
                "12.7",
                12282,
                {"gen_max": 4, "width_max": 16, "gen_current": 4, "width_current": 16},
            )
        ],
        "pass",
    ),
    # (c) GPU-PV Quadro P2000 on Windows 10: no PCI function at all, host driver 537.42.
    "vm-quadro-p2000-w10ent-gpupv": _vm(
        "LAB-P2000-W10ENT",
        "GPU-PV",
        [
            _gpu(
                "10DE:1C30",
                "quadro_p2000",
                "537.42",
                "12.2",
                5120,
                {"gen_max": 3, "width_max": 16, "gen_current": 3, "width_current": 16},
            )
        ],
        "pass",
    ),
    # (d) Broken DDA: the T4 function is there, no driver (no /dev/nvidia*, no NVRM), nvidia-smi exit 9.
    "vm-t4-dismounted-nodriver": _vm("LAB-T4-DISMOUNTED", "DDA", [_gpu(T4, "t4")], "fail"),
    # (e) Working DDA T4 in a VM with EFLOW's default 1024 MB (MemTotal 1009612 kB); open module 570.
    "vm-t4-srv2025-lowmem": _vm(
        "LAB-T4-SRV2025",
        "DDA",
        [_gpu(T4, "t4", "570.133.20", "12.8", 15360, PCIE_T4)],
        "pass",
    ),
    # (f) Plain Linux machine, no host: the Bochs VGA (1234:1111, class 030000) is not NVIDIA.
    "vm-plain-linux-nogpu": _vm(None, "none", [], "skip"),
    # (g) XML ids 000000DE / [REDACTED]: the ids come from the sysfs function at 3a5e:00:00.0.
    "vm-t4-win11pro-redacted-ids": _vm(
        "LAB-T4-WIN11PRO",
        "DDA",
        [_gpu(T4, "t4", "550.90.07", "12.4", 15360, PCIE_T4)],
        "pass",
    ),
    # (h) Old driver 410.48 names the T4 "Graphics Device"; the id 1EB8 still makes it a t4.
    "vm-t4-srv2019-graphics-device": _vm(
        "LAB-T4-SRV2019",
        "DDA",
        [_gpu(T4, "t4", "410.48", "10.0", 15079, PCIE_T4)],
        "pass",
    ),
    # (i) Unusable nvidia_smi XML (cut mid-element; billion-laughs entities): sysfs facts only.
    "vm-t4-partial-truncated-xml": _vm("LAB-T4-PARTIAL", "DDA", [_gpu(T4, "t4")], "fail"),
    "vm-t4-win10pro-hostile-xml": _vm("LAB-T4-WIN10PRO", "DDA", [_gpu(T4, "t4")], "fail"),
    # (k) Container scope, GPU-PV RTX A2000: /dev/dxg only, no /usr/lib/wsl/lib, libcuda.so.1 through
    # the linker in /usr/lib/x86_64-linux-gnu, nvidia-smi on PATH answers with the host's 561.09.
    "vm-rtxa2000-w11-gpupv-container": _vm(
        "LAB-A2000-W11",
        "GPU-PV",
        [
            _gpu(
                "10DE:2531",
                "rtx_a2000",
                "561.09",
                "12.6",
                6138,
                {"gen_max": 4, "width_max": 16, "gen_current": 4, "width_current": 16},
            )
        ],
        "pass",
    ),
    # (l) Container scope, DDA NVIDIA A2 (vPCI 6b0e:00:00.0): the function, /dev/nvidia0, NVRM 580.95.05.
    "vm-a2-iot-dda-container": _vm(
        "LAB-A2-IOT1620",
        "DDA",
        [
            _gpu(
                "10DE:25B6",
                "a2",
                "580.95.05",
                "13.0",
                15356,
                {"gen_max": 4, "width_max": 8, "gen_current": 4, "width_current": 8},
            )
        ],
        "pass",
    ),
    # (j) Not readable as eflow-gpu-vm-snapshot/1: invalid JSON, and format eflow-gpu-vm-snapshot/2.
    "vm-corrupt-truncated": _error(),
    "vm-wrong-format": _error(),
}
