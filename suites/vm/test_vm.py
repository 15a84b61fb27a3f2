"""In-VM checks: the GPU as the EFLOW VM sees it, live (NVML, sysfs) or from VM snapshots.

The pack's plugin expands ``test_vm_criterion`` into one test per VM x ``vm.*`` criterion, with
ids like ``test_vm_criterion[LAB-T4-01-EFLOW-vm.passthrough]``. Without ``--vm-snapshot`` the
suite examines the machine it runs on; a machine with no GPU reports passthrough ``none`` and
skips the GPU checks with the reason. Results join the host's in the same compatibility report.
"""

from eflowgpu.pytest_plugin.items import vm_suite

test_vm_criterion = vm_suite("One in-VM criterion of one VM, compared with the host's verdict where known.")
