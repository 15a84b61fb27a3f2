"""Host eligibility: every criterion of every GPU of every system, as the support profile judges it.

The pack's plugin expands ``test_host_criterion`` into one test per system x GPU x criterion, with
ids like ``test_host_criterion[LAB-T4-01-gpu0-t4-os.build]``. Each passes, fails, warns or skips
exactly as the library's criterion says, with the criterion's detail and remedy as the message; the
compatibility report is built from the same criterion objects.
"""

from eflowgpu.pytest_plugin.items import host_suite

test_host_criterion = host_suite("One criterion of one GPU of one host, as the support profile judges it.")
