"""EFLOW GPU qualification pack: host eligibility, in-VM checks and compatibility reports.

The library is usable without pytest: load a matrix (:mod:`eflowgpu.matrix`), read host snapshots
(:mod:`eflowgpu.snapshot`), turn them into facts (:mod:`eflowgpu.host.facts`), judge them
(:mod:`eflowgpu.rules`) and write reports (:mod:`eflowgpu.report`). The pytest plugin
(:mod:`eflowgpu.pytest_plugin`) is a thin layer over these functions.
"""

__version__ = "0.1.0"
