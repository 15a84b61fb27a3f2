#Requires -Version 5.1
<#
.SYNOPSIS
    Collects an eflow-gpu-host-snapshot/1 file on a Windows host, without Python.

.DESCRIPTION
    Runs the EFLOW GPU qualification pack's read-only host probes and writes their raw output as
    one JSON file (see shared/contracts/host-snapshot.md). The file is the same as the one
    `eflowgpu collect-host` writes: the same probes, the same command text, the same wrapping
    and exit codes. Only the collector field differs.

    Every probe runs in its own child Windows PowerShell process, started with -EncodedCommand
    (nothing is ever pasted into a command line), with a time limit; a probe that fails or hangs
    is recorded with its non-zero exit code and the next one still runs. Run it from an elevated
    prompt: the Hyper-V and PnP probes need administrator rights.

    The probe commands below must stay byte-identical to eflowgpu/host/commands.py; the pack's
    tests compare the two.

.PARAMETER OutFile
    Snapshot file to write. Default: .\<COMPUTERNAME>.json

.PARAMETER HostLabel
    Label of the system under test, as reports will name it. Default: the computer name.

.PARAMETER TimeoutSeconds
    Time limit of each probe, in seconds. Default: 120.

.EXAMPLE
    powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\collect-host.ps1 -OutFile .\LAB-T4-01.json
#>
[CmdletBinding()]
param(
    [string]$OutFile = ".\$env:COMPUTERNAME.json",
    [string]$HostLabel = $env:COMPUTERNAME,
    [ValidateRange(1, 86400)]
    [int]$TimeoutSeconds = 120
)

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$SnapshotFormat = 'eflow-gpu-host-snapshot/1'
$CollectorName = 'collect-host.ps1 1.0'
$PowerShellFlags = @('-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-OutputFormat', 'Text', '-EncodedCommand')
$ExitTimedOut = 124
$ExitNotStarted = 127

# Wrapping of every probe: $Prelude + "`n" + command + "`n" + $Epilogue (as commands.py's wrap_command).
$Prelude = @'
$ProgressPreference = 'SilentlyContinue'
try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false } catch { }
$OutputEncoding = New-Object System.Text.UTF8Encoding $false
$eflowgpuProbeOk = $false
try {
'@

$Epilogue = @'
$eflowgpuProbeOk = $?
} catch {
    [Console]::Error.WriteLine(('{0} [{1}]' -f $_, $_.FullyQualifiedErrorId))
    exit 1
}
if ($LASTEXITCODE) { exit $LASTEXITCODE }
if (-not $eflowgpuProbeOk) { exit 1 }
exit 0
'@

# The probes, in the contract's order. Byte-identical to HOST_PROBES in eflowgpu/host/commands.py.
$Probes = [ordered]@{
    'os' = @'
Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion' | Select-Object ProductName, EditionID, InstallationType, CurrentBuild, CurrentBuildNumber, UBR, DisplayVersion, ReleaseId, BuildLabEx | ConvertTo-Json
'@
    'os_cim' = @'
Get-CimInstance -ClassName Win32_OperatingSystem | Select-Object Caption, Version, BuildNumber, OperatingSystemSKU, ProductType, FreePhysicalMemory, TotalVisibleMemorySize | ConvertTo-Json
'@
    'insider' = @'
Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\WindowsSelfHost\Applicability' -ErrorAction Stop | Select-Object BranchName, Ring, ContentType, EnablePreviewBuilds, IsBuildFlightingEnabled | ConvertTo-Json
'@
    'video_controllers' = @'
Get-CimInstance -ClassName Win32_VideoController | Select-Object Name, Caption, PNPDeviceID, AdapterCompatibility, DriverVersion, DriverDate, Status, ConfigManagerErrorCode, AdapterRAM | ConvertTo-Json
'@
    'computer_system' = @'
Get-CimInstance -ClassName Win32_ComputerSystem | Select-Object Manufacturer, Model, HypervisorPresent, TotalPhysicalMemory, NumberOfLogicalProcessors | ConvertTo-Json
'@
    'processor' = @'
Get-CimInstance -ClassName Win32_Processor | Select-Object Name, VirtualizationFirmwareEnabled, SecondLevelAddressTranslationExtensions, VMMonitorModeExtensions | ConvertTo-Json
'@
    'features' = @'
Get-CimInstance -ClassName Win32_OptionalFeature | Where-Object { $_.Name -in @('Microsoft-Hyper-V', 'Microsoft-Hyper-V-All', 'Microsoft-Hyper-V-Hypervisor', 'Microsoft-Windows-Subsystem-Linux', 'VirtualMachinePlatform') } | Select-Object Name, InstallState | ConvertTo-Json
'@
    'disk' = @'
Get-CimInstance -ClassName Win32_LogicalDisk -Filter "DeviceID='$env:SystemDrive'" | Select-Object DeviceID, FreeSpace, Size | ConvertTo-Json
'@
    'vmhost' = @'
Get-VMHost | Select-Object IovSupport, IovSupportReasons, LogicalProcessorCount | ConvertTo-Json
'@
    'pci_survey' = @'
$ErrorActionPreference = 'Stop'
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
ConvertTo-Json -InputObject @($results)
'@
    'assignable_devices' = @'
Get-VMHostAssignableDevice | Select-Object InstanceID, LocationPath | ConvertTo-Json
'@
    'partitionable_gpus' = @'
$gpuCmdlet = if (Get-Command -Name Get-VMHostPartitionableGpu -ErrorAction SilentlyContinue) { 'Get-VMHostPartitionableGpu' } else { 'Get-VMPartitionableGpu' }
& $gpuCmdlet | Select-Object Name, ValidPartitionCounts, PartitionCount, TotalVRAM, AvailableVRAM, TotalCompute | ConvertTo-Json
'@
    'hyperv_policy' = @'
Get-ItemProperty -Path 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\HyperV' -ErrorAction Stop | Select-Object RequireSecureDeviceAssignment, RequireSupportedDeviceAssignment | ConvertTo-Json
'@
    'nvidia_smi' = @'
nvidia-smi -q -x
'@
    'eflow' = @'
Get-Module -ListAvailable -Name AzureEFLOW | Select-Object Name, Version | ConvertTo-Json
'@
    'eflow_host' = @'
Get-EflowHostConfiguration | ConvertTo-Json -Depth 4
'@
    'wsl' = @'
$storeExe = Join-Path $env:ProgramFiles 'WSL\wsl.exe'
$storeVersion = $null
if (Test-Path -LiteralPath $storeExe) {
    $storeVersion = [string](Get-Item -LiteralPath $storeExe).VersionInfo.ProductVersion
}
[pscustomobject]@{
    StoreWslVersion = $storeVersion
    StoreWslLib = Test-Path -LiteralPath (Join-Path $env:ProgramFiles 'WSL\lib\libdxcore.so')
    InboxWslLib = Test-Path -LiteralPath (Join-Path $env:SystemRoot 'System32\lxss\lib\libdxcore.so')
} | ConvertTo-Json
'@
}

# Tried in order when a probe exits non-zero; the first that exits 0 is recorded with its own command.
$Fallbacks = @{
    'nvidia_smi' = @(
@'
& "$env:SystemRoot\System32\nvidia-smi.exe" -q -x
'@
@'
& "$env:ProgramFiles\NVIDIA Corporation\NVSMI\nvidia-smi.exe" -q -x
'@
    )
}

function ConvertTo-LF([string]$Text) {
    # A checkout with CRLF line ends must not change the command text.
    return $Text -replace "`r`n", "`n"
}

function Get-PowerShellPath {
    $windowsPowerShell = Join-Path $env:SystemRoot 'System32\WindowsPowerShell\v1.0\powershell.exe'
    if (Test-Path -LiteralPath $windowsPowerShell) { return $windowsPowerShell }
    return [System.Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
}

function Test-Administrator {
    try {
        $identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
        $principal = New-Object System.Security.Principal.WindowsPrincipal $identity
        return $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)
    } catch {
        return $false
    }
}

function Stop-ProcessTree([System.Diagnostics.Process]$Process) {
    # Kill the child and everything it started (nvidia-smi, WMI helpers), so no pipe stays open.
    try {
        $killInfo = New-Object System.Diagnostics.ProcessStartInfo
        $killInfo.FileName = Join-Path $env:SystemRoot 'System32\taskkill.exe'
        $killInfo.Arguments = '/T /F /PID ' + $Process.Id
        $killInfo.UseShellExecute = $false
        $killInfo.CreateNoWindow = $true
        $killInfo.RedirectStandardOutput = $true
        $killInfo.RedirectStandardError = $true
        $killer = [System.Diagnostics.Process]::Start($killInfo)
        [void]$killer.WaitForExit(30000)
    } catch {
    }
    try {
        if (-not $Process.HasExited) { $Process.Kill() }
    } catch {
    }
}

function New-ProbeResult([int]$ExitCode, [string]$StdOut, [string]$StdErr, [bool]$TimedOut) {
    return [pscustomobject]@{ ExitCode = $ExitCode; StdOut = $StdOut; StdErr = $StdErr; TimedOut = $TimedOut }
}

function Invoke-ProbeCommand([string]$Command, [int]$Seconds) {
    $wrapped = $Prelude + "`n" + $Command + "`n" + $Epilogue
    $encoded = [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($wrapped))
    $startInfo = New-Object System.Diagnostics.ProcessStartInfo
    $startInfo.FileName = $PowerShellPath
    $startInfo.Arguments = (@($PowerShellFlags) + @($encoded)) -join ' '
    $startInfo.UseShellExecute = $false
    $startInfo.CreateNoWindow = $true
    $startInfo.RedirectStandardInput = $true
    $startInfo.RedirectStandardOutput = $true
    $startInfo.RedirectStandardError = $true
    $process = New-Object System.Diagnostics.Process
    $process.StartInfo = $startInfo
    try {
        [void]$process.Start()
    } catch {
        return New-ProbeResult $ExitNotStarted '' "could not start ${PowerShellPath}: $($_.Exception.Message)" $false
    }
    try {
        $process.StandardInput.Close()
        # Read the raw bytes: a StreamReader would drop a BOM, and stdout is recorded as printed.
        $stdoutBuffer = New-Object System.IO.MemoryStream
        $stderrBuffer = New-Object System.IO.MemoryStream
        $stdoutCopy = $process.StandardOutput.BaseStream.CopyToAsync($stdoutBuffer)
        $stderrCopy = $process.StandardError.BaseStream.CopyToAsync($stderrBuffer)
        if (-not $process.WaitForExit($Seconds * 1000)) {
            Stop-ProcessTree $process
            return New-ProbeResult $ExitTimedOut '' "timed out after $Seconds s" $true
        }
        $copies = [System.Threading.Tasks.Task[]]@($stdoutCopy, $stderrCopy)
        $complete = [System.Threading.Tasks.Task]::WaitAll($copies, 30000)
        $utf8 = New-Object System.Text.UTF8Encoding $false
        $stdout = $utf8.GetString($stdoutBuffer.ToArray())
        $stderr = $utf8.GetString($stderrBuffer.ToArray())
        if (-not $complete) { $stderr += "`noutput pipes still open 30 s after the probe exited" }
        return New-ProbeResult $process.ExitCode $stdout $stderr $false
    } finally {
        $process.Dispose()
    }
}

function Write-Snapshot([string]$Path, [string]$Json) {
    # Atomic: a temporary file in the same directory replaces the target.
    $directory = [System.IO.Path]::GetDirectoryName($Path)
    $fileName = '.' + [System.IO.Path]::GetFileName($Path) + '.' + [guid]::NewGuid().ToString('N') + '.tmp'
    $temporary = [System.IO.Path]::Combine($directory, $fileName)
    try {
        [System.IO.File]::WriteAllText($temporary, $Json, (New-Object System.Text.UTF8Encoding $false))
        if (-not [System.IO.File]::Exists($Path)) {
            [System.IO.File]::Move($temporary, $Path)
        } else {
            try {
                # NullString: a plain $null would reach .NET as an empty backup file name.
                [System.IO.File]::Replace($temporary, $Path, [System.Management.Automation.Language.NullString]::Value)
            } catch {
                # File systems without ReplaceFile (some network shares): overwrite in place.
                [System.IO.File]::Copy($temporary, $Path, $true)
            }
        }
    } finally {
        if ([System.IO.File]::Exists($temporary)) { [System.IO.File]::Delete($temporary) }
    }
}

$outPath = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($OutFile)
$outDirectory = [System.IO.Path]::GetDirectoryName($outPath)
if (-not [System.IO.Directory]::Exists($outDirectory)) {
    throw "directory does not exist: $outDirectory"
}
if (-not (Test-Administrator)) {
    Write-Warning 'Not running elevated: the Hyper-V and PnP probes may fail. Run from an elevated prompt.'
}
$PowerShellPath = Get-PowerShellPath
$Prelude = ConvertTo-LF $Prelude
$Epilogue = ConvertTo-LF $Epilogue

$invariant = [System.Globalization.CultureInfo]::InvariantCulture
$capturedAt = [DateTime]::UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", $invariant)
$records = [ordered]@{}
$failed = New-Object System.Collections.ArrayList
$index = 0
foreach ($name in @($Probes.Keys)) {
    $index++
    Write-Host ('[{0}/{1}] {2}' -f $index, $Probes.Count, $name)
    $command = ConvertTo-LF $Probes[$name]
    $result = Invoke-ProbeCommand $command $TimeoutSeconds
    if ($result.ExitCode -ne 0 -and -not $result.TimedOut -and $Fallbacks.Contains($name)) {
        foreach ($fallback in @($Fallbacks[$name])) {
            $fallbackCommand = ConvertTo-LF $fallback
            $alternative = Invoke-ProbeCommand $fallbackCommand $TimeoutSeconds
            if ($alternative.ExitCode -eq 0) {
                $command = $fallbackCommand
                $result = $alternative
                break
            }
        }
    }
    if ($result.ExitCode -ne 0) { [void]$failed.Add($name) }
    $records[$name] = [ordered]@{
        command = $command
        exit_code = $result.ExitCode
        stdout = $result.StdOut
        stderr = $result.StdErr
    }
}

$envelope = [ordered]@{
    format = $SnapshotFormat
    host = $HostLabel
    captured_at = $capturedAt
    collector = $CollectorName
    probes = $records
}
Write-Snapshot $outPath (ConvertTo-Json -InputObject $envelope -Depth 5)
$summary = 'wrote {0}: {1} probes, {2} with a non-zero exit code' -f $outPath, $Probes.Count, $failed.Count
if ($failed.Count -gt 0) { $summary += ' (' + ($failed -join ', ') + ')' }
Write-Host $summary
