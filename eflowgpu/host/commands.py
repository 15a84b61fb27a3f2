r"""The host probes: the single source of truth for what runs on a Windows host.

Every probe is a read-only PowerShell command from ``shared/contracts/host-snapshot.md``. The
command text here is what ``collect-host.ps1`` holds in its ``$Probes`` table, byte for byte, and
what a snapshot records in each probe's ``command`` field.

A command never carries data: it is a constant of this module, wrapped in the fixed
:data:`PRELUDE` / :data:`EPILOGUE` and handed to PowerShell through ``-EncodedCommand`` (base64 of
UTF-16LE), so nothing read from a host, a snapshot or a matrix is ever interpolated or quoted into
a command line.

Exit codes of a wrapped probe (the same in the Python collector and in ``collect-host.ps1``):

* a terminating error (``-ErrorAction Stop``, an unknown command such as ``Get-VMHost`` without the
  Hyper-V module) writes ``<message> [<FullyQualifiedErrorId>]`` to stderr and exits 1;
* a native command that exits non-zero (``nvidia-smi``) gives its own exit code;
* a last pipeline that reported errors (``$?`` false) exits 1;
* otherwise 0, even if earlier statements wrote non-terminating errors to stderr.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

__all__ = [
    "DEFAULT_PROBE_TIMEOUT_S",
    "EPILOGUE",
    "HOST_PROBES",
    "HOST_SNAPSHOT_FORMAT",
    "NVIDIA_SMI_FALLBACKS",
    "PACK_PROBES",
    "POWERSHELL_FLAGS",
    "PRELUDE",
    "HostProbe",
    "encode_command",
    "powershell_argv",
    "wrap_command",
]

HOST_SNAPSHOT_FORMAT = "eflow-gpu-host-snapshot/1"
"""The ``format`` field of a host snapshot envelope."""

DEFAULT_PROBE_TIMEOUT_S = 120.0
"""Per-probe wall-clock limit; ``collect-host.ps1 -TimeoutSeconds`` has the same default."""

POWERSHELL_FLAGS: tuple[str, ...] = (
    "-NoProfile",
    "-NonInteractive",
    "-ExecutionPolicy",
    "Bypass",
    "-OutputFormat",
    "Text",
    "-EncodedCommand",
)
"""Flags before the encoded command, in order (``collect-host.ps1`` passes the same)."""

PRELUDE = """\
$ProgressPreference = 'SilentlyContinue'
try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false } catch { }
$OutputEncoding = New-Object System.Text.UTF8Encoding $false
$eflowgpuProbeOk = $false
try {"""
"""Runs before every probe: UTF-8 output without a BOM, no progress records, start of the ``try``."""

EPILOGUE = """\
$eflowgpuProbeOk = $?
} catch {
    [Console]::Error.WriteLine(('{0} [{1}]' -f $_, $_.FullyQualifiedErrorId))
    exit 1
}
if ($LASTEXITCODE) { exit $LASTEXITCODE }
if (-not $eflowgpuProbeOk) { exit 1 }
exit 0"""
"""Runs after every probe: maps the outcome to an exit code (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class HostProbe:
    """One read-only host probe.

    ``fallbacks`` are commands tried in order when ``command`` exits non-zero (not on timeout);
    the first that exits 0 is recorded with its own command text instead.
    """

    name: str
    command: str
    timeout_s: float = DEFAULT_PROBE_TIMEOUT_S
    fallbacks: tuple[str, ...] = ()


# --- probe commands, exactly as in shared/contracts/host-snapshot.md -----------------------------

OS = (
    r"Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'"
    r" | Select-Object ProductName, EditionID, InstallationType, CurrentBuild, CurrentBuildNumber, UBR,"
    r" DisplayVersion, ReleaseId, BuildLabEx | ConvertTo-Json"
)
OS_CIM = (
    "Get-CimInstance -ClassName Win32_OperatingSystem | Select-Object Caption, Version, BuildNumber,"
    " OperatingSystemSKU, ProductType, FreePhysicalMemory, TotalVisibleMemorySize | ConvertTo-Json"
)
INSIDER = (
    r"Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\WindowsSelfHost\Applicability' -ErrorAction Stop"
    " | Select-Object BranchName, Ring, ContentType, EnablePreviewBuilds, IsBuildFlightingEnabled"
    " | ConvertTo-Json"
)
VIDEO_CONTROLLERS = (
    "Get-CimInstance -ClassName Win32_VideoController | Select-Object Name, Caption, PNPDeviceID,"
    " AdapterCompatibility, DriverVersion, DriverDate, Status, ConfigManagerErrorCode, AdapterRAM"
    " | ConvertTo-Json"
)
COMPUTER_SYSTEM = (
    "Get-CimInstance -ClassName Win32_ComputerSystem | Select-Object Manufacturer, Model,"
    " HypervisorPresent, TotalPhysicalMemory, NumberOfLogicalProcessors | ConvertTo-Json"
)
PROCESSOR = (
    "Get-CimInstance -ClassName Win32_Processor | Select-Object Name, VirtualizationFirmwareEnabled,"
    " SecondLevelAddressTranslationExtensions, VMMonitorModeExtensions | ConvertTo-Json"
)
FEATURES = (
    "Get-CimInstance -ClassName Win32_OptionalFeature | Where-Object { $_.Name -in @('Microsoft-Hyper-V',"
    " 'Microsoft-Hyper-V-All', 'Microsoft-Hyper-V-Hypervisor', 'Microsoft-Windows-Subsystem-Linux',"
    " 'VirtualMachinePlatform') } | Select-Object Name, InstallState | ConvertTo-Json"
)
DISK = (
    "Get-CimInstance -ClassName Win32_LogicalDisk -Filter \"DeviceID='$env:SystemDrive'\""
    " | Select-Object DeviceID, FreeSpace, Size | ConvertTo-Json"
)
VMHOST = "Get-VMHost | Select-Object IovSupport, IovSupportReasons, LogicalProcessorCount | ConvertTo-Json"
ASSIGNABLE_DEVICES = "Get-VMHostAssignableDevice | Select-Object InstanceID, LocationPath | ConvertTo-Json"
HYPERV_POLICY = (
    r"Get-ItemProperty -Path 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\HyperV' -ErrorAction Stop"
    " | Select-Object RequireSecureDeviceAssignment, RequireSupportedDeviceAssignment | ConvertTo-Json"
)
NVIDIA_SMI = "nvidia-smi -q -x"
EFLOW = "Get-Module -ListAvailable -Name AzureEFLOW | Select-Object Name, Version | ConvertTo-Json"
EFLOW_HOST = "Get-EflowHostConfiguration | ConvertTo-Json -Depth 4"

# --- the two documented exceptions ---------------------------------------------------------------

PARTITIONABLE_GPUS = (
    "$gpuCmdlet = if (Get-Command -Name Get-VMHostPartitionableGpu -ErrorAction SilentlyContinue)"
    " { 'Get-VMHostPartitionableGpu' } else { 'Get-VMPartitionableGpu' }\n"
    "& $gpuCmdlet"
    " | Select-Object Name, ValidPartitionCounts, PartitionCount, TotalVRAM, AvailableVRAM, TotalCompute"
    " | ConvertTo-Json"
)
"""Windows 11 / Server 2022 have ``Get-VMHostPartitionableGpu``; Windows 10 / Server 2019 only
``Get-VMPartitionableGpu``. Without the Hyper-V module neither exists and the probe exits 1. The
lookup is a statement of its own so that the probe's exit status is the last pipeline's alone."""

PCI_SURVEY = r"""$ErrorActionPreference = 'Stop'
# SurveyDDA.ps1's checks (MicrosoftDocs/Virtualization-Documentation), as data: one object per
# present PCI device of base class 3 (display and 3D controllers), dismounted PCIP\ devices included.
# A property that cannot be read is $null; it never loses the other devices.
$pciKey = '{3AB22E31-8264-4b4e-9AF5-A8D2D8E33E62}  '
function Get-DevicePropertyData($Device, [string]$KeyName) {
    try {
        $property = $Device | Get-PnpDeviceProperty -KeyName $KeyName -ErrorAction Stop |
            Select-Object -First 1
    } catch {
        return
    }
    if ($null -eq $property -or $null -eq $property.Data) { return }
    $property.Data
}
function ConvertTo-NullableInt($Value) {
    if ($null -eq $Value) { return $null }
    try { return [int]$Value } catch { return $null }
}
function ConvertTo-NullableString($Value) {
    if ($null -eq $Value) { return $null }
    return [string]$Value
}
function Get-InterruptType($Numbers) {
    $msi = 0
    $line = 0
    foreach ($number in $Numbers) {
        # Message-signalled interrupts have IRQ numbers of 0x80000000 and above (negative as Int32).
        if ($number -ge 2147483648 -or $number -lt 0) { $msi++ } else { $line++ }
    }
    if ($msi -gt 0 -and $line -gt 0) { return 'mixed' }
    if ($msi -gt 0) { return 'msi' }
    if ($line -gt 0) { return 'line' }
    return 'none'
}
# Interrupts and MMIO of every device, read once: Win32_PnPAllocatedResource links a device
# (Dependent) to a Win32_IRQResource or Win32_DeviceMemoryAddress (Antecedent).
$resourcesKnown = $true
$unknownResources = @{}
$irqNumbersByDevice = @{}
$mmioBytesByDevice = @{}
try {
    $memoryRanges = @{}
    foreach ($range in @(Get-CimInstance -ClassName Win32_DeviceMemoryAddress)) {
        $memoryRanges[[string]$range.StartingAddress] = $range
    }
    foreach ($allocation in @(Get-CimInstance -ClassName Win32_PnPAllocatedResource)) {
        $deviceId = [string]$allocation.Dependent.DeviceID
        $resource = $allocation.Antecedent
        if (-not $deviceId -or $null -eq $resource) {
            throw 'a Win32_PnPAllocatedResource entry names no device or no resource'
        }
        $resourceClass = [string]$resource.CimSystemProperties.ClassName
        if ($resourceClass -eq 'Win32_IRQResource') {
            if ($null -eq $resource.IRQNumber) {
                $unknownResources[$deviceId] = $true
                continue
            }
            if (-not $irqNumbersByDevice.ContainsKey($deviceId)) {
                $irqNumbersByDevice[$deviceId] = New-Object System.Collections.ArrayList
            }
            [void]$irqNumbersByDevice[$deviceId].Add([long]$resource.IRQNumber)
        } elseif ($resourceClass -eq 'Win32_DeviceMemoryAddress') {
            $range = $memoryRanges[[string]$resource.StartingAddress]
            if ($null -eq $range -or $null -eq $range.EndingAddress) {
                $unknownResources[$deviceId] = $true
                continue
            }
            $bytes = [decimal]$range.EndingAddress - [decimal]$range.StartingAddress + 1
            if ($mmioBytesByDevice.ContainsKey($deviceId)) {
                $mmioBytesByDevice[$deviceId] += $bytes
            } else {
                $mmioBytesByDevice[$deviceId] = $bytes
            }
        }
    }
} catch {
    $resourcesKnown = $false
    [Console]::Error.WriteLine("pci_survey: interrupts and MMIO not read: $_")
}
$results = New-Object System.Collections.ArrayList
foreach ($device in @(Get-PnpDevice -PresentOnly | Where-Object { $_.InstanceId -like 'PCI*' })) {
    $instanceId = [string]$device.InstanceId
    try {
        $baseClass = ConvertTo-NullableInt (Get-DevicePropertyData $device ($pciKey + '3'))
        if ($null -eq $baseClass) {
            $compatibleIds = @(Get-DevicePropertyData $device 'DEVPKEY_Device_CompatibleIds')
            if (@($compatibleIds -match '^PCIP?\\CC_03').Count -gt 0) { $baseClass = 3 }
        }
        if ($baseClass -ne 3) { continue }
        $locationPaths = @(Get-DevicePropertyData $device 'DEVPKEY_Device_LocationPaths')
        $locationPath = $null
        if ($locationPaths.Count -gt 0) { $locationPath = [string]$locationPaths[0] }
        $interruptTypes = $null
        $mmioBytes = $null
        if ($resourcesKnown -and -not $unknownResources.ContainsKey($instanceId)) {
            $interruptTypes = Get-InterruptType $irqNumbersByDevice[$instanceId]
            $mmioBytes = [uint64]0
            if ($mmioBytesByDevice.ContainsKey($instanceId)) {
                $mmioBytes = [uint64]$mmioBytesByDevice[$instanceId]
            }
        }
        $deviceType = Get-DevicePropertyData $device ($pciKey + '1')
        $acsUp = Get-DevicePropertyData $device ($pciKey + '31')
        $rmrr = Get-DevicePropertyData $device ($pciKey + '34')
        $driverProvider = Get-DevicePropertyData $device 'DEVPKEY_Device_DriverProvider'
        $driverInfPath = Get-DevicePropertyData $device 'DEVPKEY_Device_DriverInfPath'
        $driverService = Get-DevicePropertyData $device 'DEVPKEY_Device_Service'
        [void]$results.Add([pscustomobject]@{
            InstanceId = $instanceId
            FriendlyName = ConvertTo-NullableString $device.FriendlyName
            Class = ConvertTo-NullableString $device.Class
            Status = ConvertTo-NullableString $device.Status
            ConfigManagerErrorCode = ConvertTo-NullableInt $device.ConfigManagerErrorCode
            LocationPath = $locationPath
            PciDeviceType = ConvertTo-NullableInt $deviceType
            AcsCompatibleUpHierarchy = ConvertTo-NullableInt $acsUp
            RequiresReservedMemoryRegion = ConvertTo-NullableInt $rmrr
            InterruptTypes = $interruptTypes
            MmioBytes = $mmioBytes
            DriverProvider = ConvertTo-NullableString $driverProvider
            DriverInfPath = ConvertTo-NullableString $driverInfPath
            DriverService = ConvertTo-NullableString $driverService
        })
    } catch {
        [Console]::Error.WriteLine("pci_survey: ${instanceId}: $_")
    }
}
ConvertTo-Json -InputObject @($results)"""
"""The DDA survey of the contract's ``pci_survey`` table (Windows PowerShell 5.1 and PowerShell 7).

The property keys use two spaces between the GUID and the property id, as SurveyDDA.ps1 does. A
device whose base class cannot be read is still surveyed when its compatible ids carry the PCI
class code ``CC_03``. Always prints a JSON array (``[]`` when there is no display controller)."""

WSL = r"""$storeExe = Join-Path $env:ProgramFiles 'WSL\wsl.exe'
$storeVersion = $null
if (Test-Path -LiteralPath $storeExe) {
    $storeVersion = [string](Get-Item -LiteralPath $storeExe).VersionInfo.ProductVersion
}
[pscustomobject]@{
    StoreWslVersion = $storeVersion
    StoreWslLib = Test-Path -LiteralPath (Join-Path $env:ProgramFiles 'WSL\lib\libdxcore.so')
    InboxWslLib = Test-Path -LiteralPath (Join-Path $env:SystemRoot 'System32\lxss\lib\libdxcore.so')
} | ConvertTo-Json"""
r"""Probe ``wsl`` (added by the pack, revision 2 of the host contract): which WSL the host has.

``wsl --install`` today installs the Microsoft Store WSL into ``C:\Program Files\WSL`` and does not
enable the ``Microsoft-Windows-Subsystem-Linux`` optional component, and the GPU user-mode
libraries moved from ``C:\Windows\System32\lxss\lib`` to ``C:\Program Files\WSL\lib``
(WSL's basic-commands doc; staralt/dxgkrnl-dkms#7). The probe prints one object:
``StoreWslVersion`` (the file version of the Store WSL's ``wsl.exe``, or null),
``StoreWslLib`` and ``InboxWslLib`` (whether ``libdxcore.so`` is in either library folder).
It reads file metadata only (``wsl.exe --version`` prints UTF-16 and starts the WSL service)."""

NVIDIA_SMI_FALLBACKS: tuple[str, ...] = (
    '& "$env:SystemRoot\\System32\\nvidia-smi.exe" -q -x',
    '& "$env:ProgramFiles\\NVIDIA Corporation\\NVSMI\\nvidia-smi.exe" -q -x',
)
"""Where NVIDIA drivers install ``nvidia-smi.exe`` (DCH drivers: System32; older ones: NVSMI), for
hosts where it is not on PATH. Recorded as the probe's command when one of them is what worked."""

HOST_PROBES: tuple[HostProbe, ...] = (
    HostProbe("os", OS),
    HostProbe("os_cim", OS_CIM),
    HostProbe("insider", INSIDER),
    HostProbe("video_controllers", VIDEO_CONTROLLERS),
    HostProbe("computer_system", COMPUTER_SYSTEM),
    HostProbe("processor", PROCESSOR),
    HostProbe("features", FEATURES),
    HostProbe("disk", DISK),
    HostProbe("vmhost", VMHOST),
    HostProbe("pci_survey", PCI_SURVEY),
    HostProbe("assignable_devices", ASSIGNABLE_DEVICES),
    HostProbe("partitionable_gpus", PARTITIONABLE_GPUS),
    HostProbe("hyperv_policy", HYPERV_POLICY),
    HostProbe("nvidia_smi", NVIDIA_SMI, fallbacks=NVIDIA_SMI_FALLBACKS),
    HostProbe("eflow", EFLOW),
    HostProbe("eflow_host", EFLOW_HOST),
    HostProbe("wsl", WSL),
)
"""Every host probe: the contract's table in its order, then those the pack adds (:data:`PACK_PROBES`)."""

PACK_PROBES: tuple[str, ...] = ("wsl",)
"""Probes beyond the contract's table (revision 2 allows them; each is documented here and in README)."""


def wrap_command(command: str) -> str:
    """Return the script PowerShell runs for ``command``: :data:`PRELUDE`, command, :data:`EPILOGUE`.

    The parts are joined with ``"\\n"``; ``collect-host.ps1`` joins the same parts the same way.
    """
    return "\n".join((PRELUDE, command, EPILOGUE))


def encode_command(script: str) -> str:
    """Encode ``script`` for ``-EncodedCommand``: base64 of its UTF-16LE bytes, without a BOM."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def powershell_argv(command: str, executable: str) -> list[str]:
    """Build the argument vector that runs ``command`` (wrapped by :func:`wrap_command`).

    ``executable`` is the PowerShell to start (``pwsh`` or ``powershell.exe``). The command only
    ever travels base64-encoded, so no part of it is parsed by a shell or by the Windows command
    line splitter.
    """
    return [executable, *POWERSHELL_FLAGS, encode_command(wrap_command(command))]
