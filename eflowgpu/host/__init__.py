"""Windows host side of the pack: the host probes, the live collector and host snapshots.

``commands`` holds the probe commands (the single source of truth, mirrored by
``eflowgpu/scripts/collect-host.ps1``); ``collector`` runs them through PowerShell and builds an
``eflow-gpu-host-snapshot/1`` envelope (see ``shared/contracts/host-snapshot.md``).
"""
