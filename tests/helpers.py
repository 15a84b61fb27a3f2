"""Helpers shared by the project's tests: paths and builders of recorded PowerShell output."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
SHARED = PROJECT.parent / "shared"


def probe(stdout: str = "", exit_code: int = 0, stderr: str = "", command: str = "cmd") -> dict[str, Any]:
    """One probe entry of a snapshot."""
    return {"command": command, "exit_code": exit_code, "stdout": stdout, "stderr": stderr}


def ps(value: Any) -> str:
    """What ``ConvertTo-Json`` prints for ``value`` (indent 4, CRLF line ends)."""
    return json.dumps(value, indent=4).replace("\n", "\r\n")


def healthy_probes() -> dict[str, Any]:
    """Probe results of a healthy Windows 11 Pro host with an RTX 3060 (GPU-PV)."""
    return {
        "os": probe(
            ps(
                {
                    "ProductName": "Windows 10 Pro",
                    "EditionID": "Professional",
                    "InstallationType": "Client",
                    "CurrentBuild": "22631",
                    "CurrentBuildNumber": "22631",
                    "UBR": 4890,
                    "DisplayVersion": "23H2",
                }
            )
        ),
        "os_cim": probe(
            ps(
                {
                    "Caption": "Microsoft Windows 11 Pro",
                    "ProductType": 1,
                    "FreePhysicalMemory": 12582912,
                    "TotalVisibleMemorySize": 33554432,
                }
            )
        ),
        "insider": probe("", 1, "Get-ItemProperty : Cannot find path"),
        "video_controllers": probe(
            ps(
                {
                    "Name": "NVIDIA GeForce RTX 3060",
                    "Caption": "NVIDIA GeForce RTX 3060",
                    "PNPDeviceID": "PCI\\VEN_10DE&DEV_2503&SUBSYS_397D1462&REV_A1\\4&2283F625&0&0019",
                    "AdapterCompatibility": "NVIDIA",
                    "DriverVersion": "31.0.15.3623",
                    "Status": "OK",
                    "ConfigManagerErrorCode": 0,
                    "AdapterRAM": 4293918720,
                }
            )
        ),
        "computer_system": probe(
            ps(
                {
                    "Manufacturer": "Micro-Star International Co., Ltd.",
                    "Model": "MS-7D25",
                    "HypervisorPresent": True,
                    "TotalPhysicalMemory": "34359738368",
                }
            )
        ),
        "processor": probe(
            ps(
                {
                    "Name": "12th Gen Intel(R) Core(TM) i7-12700K",
                    "VirtualizationFirmwareEnabled": False,
                    "SecondLevelAddressTranslationExtensions": False,
                }
            )
        ),
        "features": probe(
            ps(
                [
                    {"Name": "Microsoft-Hyper-V-All", "InstallState": 1},
                    {"Name": "Microsoft-Hyper-V", "InstallState": 1},
                    {"Name": "Microsoft-Hyper-V-Hypervisor", "InstallState": 1},
                    {"Name": "Microsoft-Windows-Subsystem-Linux", "InstallState": 2},
                ]
            )
        ),
        "disk": probe(ps({"DeviceID": "C:", "FreeSpace": "412316860416", "Size": 1000202039296})),
        "vmhost": probe(
            ps({"IovSupport": False, "IovSupportReasons": ["Missing IOMMU"], "LogicalProcessorCount": 20})
        ),
        "pci_survey": probe(
            ps(
                {
                    "InstanceId": "PCI\\VEN_10DE&DEV_2503&SUBSYS_397D1462&REV_A1\\4&2283F625&0&0019",
                    "FriendlyName": "NVIDIA GeForce RTX 3060",
                    "Class": "Display",
                    "Status": "OK",
                    "ConfigManagerErrorCode": 0,
                    "LocationPath": "PCIROOT(0)#PCI(0100)#PCI(0000)",
                    "PciDeviceType": 2,
                    "AcsCompatibleUpHierarchy": 3,
                    "RequiresReservedMemoryRegion": 0,
                    "InterruptTypes": "msi",
                    "MmioBytes": 302006272,
                    "DriverProvider": "NVIDIA",
                    "DriverInfPath": "oem45.inf",
                    "DriverService": "nvlddmkm",
                }
            )
        ),
        "assignable_devices": probe(""),
        "partitionable_gpus": probe(
            ps(
                {
                    "Name": "\\\\?\\PCI#VEN_10DE&DEV_2503&SUBSYS_397D1462&REV_A1#4&2283f625&0&0019#"
                    "{064092b3-625e-43bf-9eb5-dc845897dd59}\\GPUPARAV",
                    "ValidPartitionCounts": [32],
                    "PartitionCount": 32,
                }
            )
        ),
        "hyperv_policy": probe("", 1, "Get-ItemProperty : Cannot find path"),
        "eflow": probe(""),
        "eflow_host": probe("", 1, "Get-EflowHostConfiguration : The term is not recognized"),
    }


def find_chromium() -> str | None:
    """Debian's headless Chromium, if installed."""
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


CHROMIUM = find_chromium()
NO_CHROMIUM = (
    "headless Chromium is not installed (/usr/bin/chromium or chromium on PATH); "
    "install it with: apt-get install -y chromium"
)


def _chromium(profile: Path, window: tuple[int, int] | None) -> list[str]:
    """Chromium's command line for a headless, offline run that works as root."""
    assert CHROMIUM is not None, NO_CHROMIUM
    return [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *([f"--window-size={window[0]},{window[1]}", "--hide-scrollbars"] if window else []),
    ]


def dump_dom(page: Path, profile: Path, *, window: tuple[int, int] | None = None) -> str:
    """Load ``page`` in headless Chromium (flags that work as root, offline) and return its final DOM.

    ``window`` sets the window size (width, height); Chromium keeps at least 500 px of width.
    """
    command = [*_chromium(profile, window), "--dump-dom", page.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    assert "</html>" in done.stdout, f"chromium printed no DOM: {done.stderr[-2000:]}"
    return done.stdout


def screenshot(page: Path, profile: Path, out: Path, *, window: tuple[int, int]) -> bytes:
    """A PNG screenshot of ``page`` at exactly ``window`` (width, height) pixels."""
    command = [*_chromium(profile, window), f"--screenshot={out}", page.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and out.is_file(), (
        f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    )
    return out.read_bytes()
