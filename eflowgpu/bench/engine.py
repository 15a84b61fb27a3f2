"""One timing engine for ``cuda`` and ``cpu`` devices, over PyTorch.

:meth:`Engine.timed` is the only timer the benchmarks use. On CUDA it brackets the work with two
CUDA events recorded on the device's current stream — the stream every torch operation on that
device is issued to — and reads the GPU-side time between them; on the CPU it reads
``time.perf_counter`` around the work (CPU operations are synchronous).

Synchronisation on CUDA, and why there is so little of it:

* Per sample, ``end.synchronize()`` (``cudaEventSynchronize``) is enough: it returns once the
  stream has passed the end event, hence once everything issued before it on that stream has
  completed, which is all the work ``fn`` issued (the benchmarks issue on the current stream only).
  ``elapsed_time`` is only valid once both events have completed, which this guarantees. A
  ``torch.cuda.synchronize()`` (the whole device, every stream) per sample would add nothing but a
  wait on streams the sample does not use.
* A device-wide :meth:`Engine.synchronize` *is* needed (1) once after setup, before warm-up and
  sampling, so that setup work issued on other streams or by libraries (buffer fills, cuBLAS/cuDNN
  initialisation, the caching allocator) cannot overlap the first samples, and (2) for wall-clock
  timing (:meth:`Engine.wall_timed`), where the host clock may only stop once the GPU is done.
* Pageable copies: for host→device from pageable memory, ``cudaMemcpyAsync`` may return once the
  data is staged, before the DMA to the device completes; device→host to pageable memory returns
  after completion. PyTorch's blocking ``copy_`` also synchronises the stream after such a copy.
  Either way the copy's DMA is ordered on the stream before the end event, so the event interval
  covers it; but a *host* clock around a pageable H2D copy would need a device sync to be right,
  which is why no host clock is used for copies. Since each pageable copy waits, the host's gap
  between two of them is inside the interval, as in bandwidthTest: part of what pageable costs.
  The host may only read (or rewrite) a pinned
  buffer of a ``non_blocking`` copy once that copy is waited for; the benchmarks never touch one
  on the host while copies are in flight and verify copied data on the device, issued on the same
  stream after the copies (stream order is the only ordering that needs).

The start event is recorded before ``fn`` is called, so time the host spends issuing ``fn``'s
work while the GPU waits is in the interval: right for ``launch_latency`` (that is the figure) and
negligible for copies, GEMMs and ResNet, whose GPU work lasts far longer than its issue.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eflowgpu.bench.levels import MIB, DeviceKind
from eflowgpu.bench.results import BenchmarkUnavailable
from eflowgpu.bench.runner import available_cores
from eflowgpu.bench.torchlib import torch

MIN_PINNED_BYTES = 32 * MIB
"""The smallest pinned buffer :meth:`Engine.host_buffer` falls back to (bandwidthTest's size; ≫ L2)."""
GPU_PV_DEVICE = Path("/dev/dxg")
"""The paravirtual GPU device of GPU-PV (WSL-style) guests; absent under DDA and on bare metal."""
MAX_REPEATS = 100_000


@dataclass(frozen=True)
class Capabilities:
    """What the device can do, as far as the benchmarks care.

    ``compute_capability`` is ``None`` on the CPU. ``tf32``: TF32 tensor cores (Ampere, 8.0, and
    newer). ``fp16_tensor_cores``: FP16 tensor cores (Volta, 7.0, and newer; a T4 is 7.5).
    ``gpu_pv``: the guest sees ``/dev/dxg`` (GPU-PV, where pinned memory is limited and NVML is partial).
    """

    name: str
    compute_capability: tuple[int, int] | None
    tf32: bool
    fp16_tensor_cores: bool
    total_memory_bytes: int | None
    multiprocessors: int | None
    pci_bus_id: str | None
    gpu_pv: bool
    torch_version: str
    cuda_runtime: str | None
    threads: int


@dataclass(frozen=True)
class HostBuffer:
    """A host buffer of ``nbytes`` (``requested`` asked for); ``note`` says why it is smaller, if it is."""

    tensor: torch.Tensor
    nbytes: int
    requested: int
    pinned: bool
    note: str = ""


class Engine:
    """Times work on one device: ``Engine("cuda")``, ``Engine("cuda:1")`` or ``Engine("cpu")``.

    ``threads`` sets torch's intra-op thread count for the process (``torch.set_num_threads``);
    the worker passes the cores it may use. A CUDA engine makes its device the current one
    (``torch.cuda.set_device``): the engine is meant for a process of its own (the worker).
    Raises :class:`BenchmarkUnavailable` ``CUDA is not available: …`` where CUDA cannot be used.
    """

    def __init__(self, device: str = "cpu", *, threads: int | None = None) -> None:
        if threads is not None:
            torch.set_num_threads(max(1, threads))
        if device == "cpu":
            self.kind: DeviceKind = "cpu"
            self.device = torch.device("cpu")
            return
        if device != "cuda" and not device.startswith("cuda:"):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', not {device!r}")
        reason = cuda_unavailable_reason()
        if reason is not None:
            raise BenchmarkUnavailable(f"CUDA is not available: {reason}")
        index = torch.cuda.current_device() if device == "cuda" else int(device.partition(":")[2])
        count = torch.cuda.device_count()
        if not 0 <= index < count:
            raise BenchmarkUnavailable(f"CUDA is not available: no device {index} ({count} visible)")
        torch.cuda.set_device(index)
        self.kind = "cuda"
        self.device = torch.device("cuda", index)

    def synchronize(self) -> None:
        """Wait for all work on the device, every stream (``torch.cuda.synchronize``); no-op on the CPU."""
        if self.kind == "cuda":
            torch.cuda.synchronize(self.device)

    def timed(self, fn: Callable[[], object]) -> float:
        """Seconds ``fn``'s work takes: CUDA events around it on CUDA, ``perf_counter`` on the CPU."""
        if self.kind == "cpu":
            start_s = time.perf_counter()
            fn()
            return time.perf_counter() - start_s
        stream = torch.cuda.current_stream(self.device)
        start = _timing_event()
        end = _timing_event()
        start.record(stream)
        fn()
        end.record(stream)
        end.synchronize()  # the stream has passed `end`: fn's work is done and both events completed
        return float(start.elapsed_time(end)) / 1000.0  # elapsed_time is in milliseconds

    def wall_timed(self, fn: Callable[[], object]) -> float:
        """Host wall-clock seconds from before ``fn`` is called until its work has completed.

        Includes the host-side cost of issuing and of waiting (under GPU-PV, the VMBus round trip).
        Both ends synchronise the whole device: the clock must not start while earlier work runs,
        and must not stop before ``fn``'s work is done.
        """
        self.synchronize()
        start_s = time.perf_counter()
        fn()
        self.synchronize()
        return time.perf_counter() - start_s

    def repeats_for(self, fn: Callable[[], object], min_sample_s: float) -> int:
        """How many calls of ``fn`` make one sample last at least ``min_sample_s`` (≥ 1).

        Calls ``fn`` twice (the first is a warm-up) and times the second with :meth:`timed`.
        """
        fn()
        once = self.timed(fn)
        if once <= 0:
            return MAX_REPEATS if min_sample_s > 0 else 1
        return max(1, min(MAX_REPEATS, math.ceil(min_sample_s / once)))

    def host_buffer(self, nbytes: int, *, pinned: bool, min_bytes: int = MIN_PINNED_BYTES) -> HostBuffer:
        """A ``uint8`` host tensor of ``nbytes``: page-locked (``pin_memory=True``) or pageable.

        A pinned allocation that fails (GPU-PV limits pinned memory; WSL fails > ~500 MB in some
        setups) is retried at half the size down to ``min_bytes``; the buffer's ``note`` then says
        so, and the benchmark reports it. A pageable allocation or the last pinned one that fails
        is :class:`BenchmarkUnavailable` (not enough host memory is no fault of the GPU).
        """
        if pinned and self.kind != "cuda":
            raise BenchmarkUnavailable("pinned host memory needs a CUDA device")
        size = nbytes
        first_error = ""
        while True:
            try:
                tensor = torch.empty(size, dtype=torch.uint8, pin_memory=pinned)
                break
            except RuntimeError as exc:  # torch.cuda.OutOfMemoryError is a RuntimeError
                first_error = first_error or (str(exc).strip() or type(exc).__name__).splitlines()[0]
                kind = "pinned" if pinned else "pageable"
                if not pinned or size // 2 < min_bytes:
                    raise BenchmarkUnavailable(
                        f"cannot allocate {size // MIB} MiB of {kind} host memory: {first_error}"
                    ) from exc
                size //= 2
        note = ""
        if size != nbytes:
            why = " (GPU-PV limits pinned memory)" if GPU_PV_DEVICE.exists() else ""
            note = (
                f"pinned buffer {size // MIB} MiB instead of {nbytes // MIB} MiB: "
                f"pinned allocation failed{why}: {first_error}"
            )
        return HostBuffer(tensor, size, nbytes, pinned, note)

    def capabilities(self) -> Capabilities:
        """The device's name, compute capability and what follows from it."""
        threads = torch.get_num_threads()
        gpu_pv = GPU_PV_DEVICE.exists()
        if self.kind == "cpu":
            name = platform.processor() or platform.machine() or "cpu"
            return Capabilities(
                f"CPU {name} ({available_cores()} cores)",
                None,
                False,
                False,
                None,
                None,
                None,
                gpu_pv,
                torch.__version__,
                torch.version.cuda,
                threads,
            )
        props = torch.cuda.get_device_properties(self.device)
        major, minor = torch.cuda.get_device_capability(self.device)
        # The PCI location is there at runtime (cudaDeviceProp) but not in torch's type stubs.
        domain, bus_no, dev_no = (
            getattr(props, f"pci_{part}_id", None) for part in ("domain", "bus", "device")
        )
        bus = None
        if isinstance(domain, int) and isinstance(bus_no, int) and isinstance(dev_no, int):
            bus = f"{domain:08X}:{bus_no:02X}:{dev_no:02X}.0"
        return Capabilities(
            name=props.name,
            compute_capability=(major, minor),
            tf32=major >= 8,
            fp16_tensor_cores=(major, minor) >= (7, 0),
            total_memory_bytes=int(props.total_memory),
            multiprocessors=int(props.multi_processor_count),
            pci_bus_id=bus,
            gpu_pv=gpu_pv,
            torch_version=torch.__version__,
            cuda_runtime=torch.version.cuda,
            threads=threads,
        )


def _timing_event() -> torch.cuda.Event:
    """A CUDA event that records time (``cudaEventDefault``: not ``DisableTiming``; spin-waits on sync)."""
    event_type: Callable[..., torch.cuda.Event] = torch.cuda.Event  # untyped in torch's stubs
    return event_type(enable_timing=True)


def cuda_unavailable_reason() -> str | None:
    """Why CUDA cannot be used in this process (``None`` when it can), in words a person can act on."""
    if torch.version.cuda is None:
        return f"this PyTorch build has no CUDA support (torch {torch.__version__})"
    init: Callable[[], None] = torch.cuda.init  # untyped in torch's stubs
    try:
        init()
    except (RuntimeError, AssertionError) as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if torch.cuda.device_count() == 0:
        return "no CUDA device is visible (CUDA_VISIBLE_DEVICES, driver)"
    return None
