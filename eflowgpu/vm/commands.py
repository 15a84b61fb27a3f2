"""The VM probes: the single source of truth for what runs inside the EFLOW VM (or any Linux machine).

Every probe is a read-only shell command from ``shared/contracts/vm-snapshot.md``, byte for byte; a
VM snapshot records it in each probe's ``command`` field. The commands are shell text (the
``pci_devices`` loop, the ``/dev/nvidia*`` glob, the quoted ``docker`` template), so they run as
``/bin/sh -c <command>`` (:func:`shell_argv`). A command never carries data: it is a constant of
this module, and nothing read from a machine, a snapshot or a matrix is ever put into one.

Exit codes are the shell's: the command's own, 127 when the program is not found (``nvidia-smi`` on
a machine without the driver), 2 from ``ls`` when a name is missing (``dev_nodes`` on any machine
that lacks one of ``/dev/nvidia*`` and ``/dev/dxg``, which is every machine: readers use stdout).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_PROBE_TIMEOUT_S",
    "NVIDIA_SMI_FALLBACKS",
    "SCOPES",
    "SHELL",
    "VM_NAMESPACE_PREFIX",
    "VM_NAMESPACE_PROBES",
    "VM_PROBES",
    "VM_SNAPSHOT_FORMAT",
    "VmProbe",
    "shell_argv",
]

VM_SNAPSHOT_FORMAT = "eflow-gpu-vm-snapshot/1"
"""The ``format`` field of a VM snapshot envelope."""

DEFAULT_PROBE_TIMEOUT_S = 60.0
"""Per-probe wall-clock limit. ``nvidia-smi`` against a wedged driver and ``docker info`` against a
stuck daemon are the probes that can hang; everything else answers at once."""

SHELL = "/bin/sh"
"""The shell every probe runs in (``dash`` on Debian and Ubuntu, ``bash`` on CBL-Mariner/Azure Linux)."""


@dataclass(frozen=True, slots=True)
class VmProbe:
    """One read-only VM probe.

    ``fallbacks`` are commands tried in order when ``command`` exits non-zero (not on timeout); the
    first that exits 0 is recorded with its own command text instead.
    """

    name: str
    command: str
    timeout_s: float = DEFAULT_PROBE_TIMEOUT_S
    fallbacks: tuple[str, ...] = ()


# --- probe commands, exactly as in shared/contracts/vm-snapshot.md --------------------------------

OS_RELEASE = "cat /etc/os-release"
KERNEL = "uname -r"
PCI_DEVICES = (
    "for d in /sys/bus/pci/devices/*; do"
    ' echo "$(basename $d) $(cat $d/vendor) $(cat $d/device) $(cat $d/subsystem_vendor)'
    ' $(cat $d/subsystem_device) $(cat $d/class)"; done'
)
DEV_NODES = "ls -1 /dev/nvidia* /dev/dxg"
WSL_LIBS = "ls -1 /usr/lib/wsl/lib"
NVIDIA_DRIVER = "cat /proc/driver/nvidia/version"
NVIDIA_SMI = "nvidia-smi -q -x"
MEMINFO = "cat /proc/meminfo"
CONTAINER_RUNTIME = "docker info --format '{{json .Runtimes}}'"
CONTAINER_TOOLKIT = "nvidia-container-cli --version"
LOADER_LIBS = "ldconfig -p"

NVIDIA_SMI_FALLBACKS: tuple[str, ...] = ("/usr/lib/wsl/lib/nvidia-smi -q -x",)
"""Under GPU-PV ``nvidia-smi`` comes with the host's driver in ``/usr/lib/wsl/lib``, which is often
not on a non-login shell's PATH. Recorded as the probe's command when it is what worked."""

VM_PROBES: tuple[VmProbe, ...] = (
    VmProbe("os_release", OS_RELEASE),
    VmProbe("kernel", KERNEL),
    VmProbe("pci_devices", PCI_DEVICES),
    VmProbe("dev_nodes", DEV_NODES),
    VmProbe("wsl_libs", WSL_LIBS),
    VmProbe("nvidia_driver", NVIDIA_DRIVER),
    VmProbe("nvidia_smi", NVIDIA_SMI, fallbacks=NVIDIA_SMI_FALLBACKS),
    VmProbe("meminfo", MEMINFO),
    VmProbe("container_runtime", CONTAINER_RUNTIME),
    VmProbe("container_toolkit", CONTAINER_TOOLKIT),
    VmProbe("loader_libs", LOADER_LIBS),
)
"""Every VM probe, in the contract's order."""

SCOPES = ("vm", "container")
"""The envelope's ``scope`` (contract revision 2): where the probes ran. Absent means ``vm``."""

VM_NAMESPACE_PREFIX = "vm_"
"""Prefix of the probes recorded in the EFLOW VM's own namespace while the others ran in the pack's
container (``vm_os_release``, ``vm_container_runtime``, ``vm_container_toolkit``)."""

VM_NAMESPACE_PROBES: tuple[VmProbe, ...] = (
    VmProbe("vm_os_release", OS_RELEASE),
    VmProbe("vm_container_runtime", "sudo " + CONTAINER_RUNTIME),
    VmProbe("vm_container_toolkit", CONTAINER_TOOLKIT),
)
"""The contract's container-describing probes as run in the VM's own namespace (by the EFLOW
transport, through ``Invoke-EflowVmCommand``). ``docker`` needs root there: EFLOW's ``iotedge-user``
runs it with ``sudo``, which works without a password in the EFLOW VM."""


def shell_argv(command: str) -> list[str]:
    """Build the argument vector that runs ``command``: ``["/bin/sh", "-c", command]``.

    ``command`` is one of this module's constants; the shell parses it, so it must never be built
    from anything a machine or a snapshot supplied.
    """
    return [SHELL, "-c", command]
