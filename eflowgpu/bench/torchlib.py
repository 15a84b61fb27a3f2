"""PyTorch, imported once and quietly; the only module of the package that imports ``torch`` first.

PyTorch is an optional extra of the pack: the host side never needs it, and
:mod:`eflowgpu.bench.levels`, :mod:`~eflowgpu.bench.stats`, :mod:`~eflowgpu.bench.results`,
:mod:`~eflowgpu.bench.runner` and the registry in :mod:`~eflowgpu.bench.workloads` import without
it. Everything that needs torch imports it from here, so that:

* a machine without torch gets :class:`~eflowgpu.bench.results.BenchmarkUnavailable` ("PyTorch is
  not installed …"), which the worker reports as ``unavailable``, rather than an ``ImportError``;
* the one warning a torch wheel without NumPy prints on import ("Failed to initialize NumPy") is
  not shown: the benchmarks never convert to NumPy, and the project's tests turn warnings into
  errors. Only that message is filtered, only during the import.
"""

from __future__ import annotations

import warnings

from eflowgpu.bench.results import BenchmarkUnavailable

try:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Failed to initialize NumPy", category=UserWarning)
        import torch
        from torch import nn
except ImportError as exc:  # pragma: no cover - torch is installed where the benchmarks run
    raise BenchmarkUnavailable(
        f"PyTorch is not installed ({exc}): install the pack's bench extra (torch) in the VM"
    ) from exc

__all__ = ["nn", "torch"]
