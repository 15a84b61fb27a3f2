"""The benchmarks: one function per id, the registry :data:`BENCHMARKS`, and :func:`run_benchmark`.

Every benchmark takes an :class:`~eflowgpu.bench.engine.Engine` and a
:class:`~eflowgpu.bench.levels.Level`, times its operation with :meth:`Engine.timed` (CUDA events
on CUDA, ``perf_counter`` on the CPU), samples with :func:`~eflowgpu.bench.stats.sample` (warm-up,
then until the CV target, the budget or the sample count), and returns a
:class:`~eflowgpu.bench.results.BenchResult` whose ``value`` comes from the **median** sample. The
GEMM and ResNet-50 code is the same for ``cuda`` and ``cpu``; only the sizes differ
(:meth:`Level.sizes`). A short operation is repeated inside one sample so that a sample lasts at
least ``min_sample_s`` (:meth:`Engine.repeats_for`, calibrated once; ``repeats_per_sample`` in
``extra``).

This module imports without PyTorch (the registry is plain data); running a benchmark imports
it. CUDA benchmarks on a machine without CUDA raise
:class:`~eflowgpu.bench.results.BenchmarkUnavailable` ``CUDA is not available: …``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, NamedTuple

from eflowgpu.bench.levels import MIB, DeviceKind, Level, resolve_level
from eflowgpu.bench.results import BenchmarkFailed, BenchmarkUnavailable, BenchResult, Json
from eflowgpu.bench.stats import Samples, sample

if TYPE_CHECKING:
    from eflowgpu.bench.engine import Engine
    from eflowgpu.bench.health import HealthApi
    from eflowgpu.bench.torchlib import torch

SEED = 20240601
"""Seed of every random input (same inputs in every run)."""
GB = 1e9
"""GB/s are 10⁹ bytes per second, as in every anchor tool (reference §2.9)."""
STRESS_TOLERANCE = 1e-3
"""gpu-burn's EPSILON for fp32: an element further than this from the first result is faulty."""
STRESS_POLL_S = 1.0
"""How often ``stress`` samples NVML."""
STRESS_MAX_SLOTS = 4096
VERIFY_SLICE = 64 * MIB
"""``memory_alloc`` compares in slices of this size (bounds the temporary it needs)."""
ALLOC_CHUNK = 256 * MIB
MIN_ALLOC_SHARE = 0.5
"""``memory_alloc`` fails when it cannot allocate at least this share of its target."""
MEMORY_PATTERNS = (0x00, 0xFF, 0xAA, 0x55)
"""DCGM ``memory``'s byte patterns; a fifth pass writes each chunk its own value (catches aliasing)."""


class BenchmarkInfo(NamedTuple):
    """One registry entry: the id, the device kind it runs on, its unit and what it measures."""

    id: str
    kind: DeviceKind
    unit: str
    measures: str


BENCHMARKS: tuple[BenchmarkInfo, ...] = (
    BenchmarkInfo(
        "h2d_pinned",
        "cuda",
        "GB/s",
        "host-to-device copy bandwidth from pinned memory (bytes the link carries)",
    ),
    BenchmarkInfo(
        "d2h_pinned",
        "cuda",
        "GB/s",
        "device-to-host copy bandwidth into pinned memory (bytes the link carries)",
    ),
    BenchmarkInfo("h2d_pageable", "cuda", "GB/s", "host-to-device copy bandwidth from pageable memory"),
    BenchmarkInfo("d2h_pageable", "cuda", "GB/s", "device-to-host copy bandwidth into pageable memory"),
    BenchmarkInfo("d2d", "cuda", "GB/s", "device memory bandwidth of a copy, read + write counted once each"),
    BenchmarkInfo("launch_latency", "cuda", "us", "time to launch and complete an empty kernel"),
    BenchmarkInfo("gemm_fp32", "cuda", "TFLOP/s", "n x n fp32 matrix multiply throughput (TF32 off)"),
    BenchmarkInfo(
        "gemm_tf32", "cuda", "TFLOP/s", "n x n fp32 matrix multiply on TF32 tensor cores (CC >= 8.0)"
    ),
    BenchmarkInfo("gemm_fp16", "cuda", "TFLOP/s", "n x n fp16 matrix multiply throughput"),
    BenchmarkInfo(
        "resnet50_fp16", "cuda", "images/s", "ResNet-50 fp16 inference; p50/p99 latency at batch 1"
    ),
    BenchmarkInfo(
        "resnet50_fp32", "cuda", "images/s", "ResNet-50 fp32 inference; p50/p99 latency at batch 1"
    ),
    BenchmarkInfo(
        "memory_alloc", "cuda", "MiB", "allocate most of the free device memory, write and verify it"
    ),
    BenchmarkInfo(
        "stress", "cuda", "TFLOP/s", "sustained GEMM checked against the first result, NVML watched"
    ),
    BenchmarkInfo("cpu_gemm_fp32", "cpu", "TFLOP/s", "n x n fp32 matrix multiply on the CPU"),
    BenchmarkInfo(
        "cpu_resnet50_fp32", "cpu", "images/s", "ResNet-50 fp32 inference on the CPU; batch-1 latency"
    ),
)
"""Every benchmark id, in the order a full run takes them."""


def benchmark_info(bench_id: str) -> BenchmarkInfo:
    """The registry entry of ``bench_id``; ``ValueError`` naming the known ids otherwise."""
    for info in BENCHMARKS:
        if info.id == bench_id:
            return info
    raise ValueError(f"unknown benchmark {bench_id!r}: one of {', '.join(b.id for b in BENCHMARKS)}")


def run_benchmark(
    bench_id: str, level: str | Level, device: str | None = None, *, threads: int | None = None
) -> BenchResult:
    """Run one benchmark in this process and return its result.

    ``device`` defaults to the benchmark's kind (``cuda`` or ``cpu``); ``cuda:N`` picks a GPU. A
    device of the wrong kind is a ``ValueError``. ``threads`` sets torch's CPU thread count (for
    the CPU benchmarks, the level's ``cpu.threads`` wins when it sets one).
    Raises :class:`BenchmarkUnavailable` (cannot run here) or :class:`BenchmarkFailed` (a fault
    found). For a hard timeout, run it through :func:`eflowgpu.bench.runner.run_isolated`.
    """
    info = benchmark_info(bench_id)
    chosen = resolve_level(level)
    target = device or info.kind
    if target.partition(":")[0] != info.kind:
        raise ValueError(f"{bench_id} runs on a {info.kind} device, not {target!r}")
    from eflowgpu.bench.engine import Engine  # imports torch

    if info.kind == "cpu" and chosen.cpu.threads is not None:
        threads = chosen.cpu.threads  # the level fixes the CPU figures' thread count (stability)
    engine = Engine(target, threads=threads)
    return _FUNCTIONS[bench_id](engine, chosen)


# --- host <-> device copies -------------------------------------------------------------------


def h2d_pinned(engine: Engine, level: Level) -> BenchResult:
    """Host-to-device copies from pinned memory (``non_blocking``, async on the stream)."""
    return _copy(engine, level, "h2d_pinned", "h2d", pinned=True)


def d2h_pinned(engine: Engine, level: Level) -> BenchResult:
    """Device-to-host copies into pinned memory (``non_blocking``, async on the stream)."""
    return _copy(engine, level, "d2h_pinned", "d2h", pinned=True)


def h2d_pageable(engine: Engine, level: Level) -> BenchResult:
    """Host-to-device copies from pageable memory (the driver stages them)."""
    return _copy(engine, level, "h2d_pageable", "h2d", pinned=False)


def d2h_pageable(engine: Engine, level: Level) -> BenchResult:
    """Device-to-host copies into pageable memory (the driver stages them)."""
    return _copy(engine, level, "d2h_pageable", "d2h", pinned=False)


def _copy(
    engine: Engine, level: Level, bench_id: str, direction: Literal["h2d", "d2h"], *, pinned: bool
) -> BenchResult:
    from eflowgpu.bench.torchlib import torch

    _require_cuda(engine)
    host = engine.host_buffer(level.copy_bytes, pinned=pinned)
    nbytes = host.nbytes
    pattern = _random_bytes(engine, nbytes)
    if direction == "h2d":
        host.tensor.copy_(pattern)  # blocking device-to-host: the source holds the pattern
        src, dst = host.tensor, torch.empty(nbytes, dtype=torch.uint8, device=engine.device)
    else:
        host.tensor.zero_()  # touch every page before timing
        src, dst = pattern, host.tensor

    def copy() -> None:
        # Pinned: cudaMemcpyAsync on the current stream, returns at once. Pageable: PyTorch's
        # blocking copy (staged by the driver, then the stream is synchronised).
        dst.copy_(src, non_blocking=pinned)

    samples, repeats = _sampled(engine, level, copy)
    # No device sync needed to verify: the last sample's end.synchronize() already waited for the
    # last (possibly non_blocking) copy, and the verification runs on the same stream after it.
    # The host never reads the pinned buffer directly (that would need the copy waited for).
    copied = dst if direction == "h2d" else dst.to(engine.device)
    if not torch.equal(copied, pattern):
        raise BenchmarkFailed(f"{bench_id}: the copied data differs from the source ({nbytes // MIB} MiB)")
    memory = "pinned (page-locked, non_blocking copies)" if pinned else "pageable (staged by the driver)"
    note = (
        f"{nbytes // MIB} MiB per copy, {repeats} copies per sample, {memory} host memory; "
        "GB = 1e9 bytes; data verified after sampling"
    )
    if host.note:
        note += f"; {host.note}"
    extra: dict[str, Json] = {"buffer_bytes": nbytes, "requested_bytes": host.requested}
    return _rate_result(engine, level, bench_id, "GB/s", samples, nbytes * repeats / GB, repeats, note, extra)


# --- device memory, launch latency ------------------------------------------------------------


def d2d(engine: Engine, level: Level) -> BenchResult:
    """Device-to-device copy of ``copy_bytes``; bandwidth counts the read and the write (2 x bytes)."""
    from eflowgpu.bench.torchlib import torch

    _require_cuda(engine)
    nbytes = level.copy_bytes
    src = _random_bytes(engine, nbytes)
    dst = torch.empty_like(src)
    samples, repeats = _sampled(engine, level, lambda: dst.copy_(src))
    if not torch.equal(dst, src):  # same stream, after the copies; returning a bool waits for it
        raise BenchmarkFailed(f"d2d: the copied data differs from the source ({nbytes // MIB} MiB)")
    note = (
        f"{nbytes // MIB} MiB buffers, {repeats} copies per sample; each copy counts 2 x {nbytes // MIB} MiB "
        "(read + write once each, bandwidthTest's convention; nvbandwidth's device_local_copy reports half)"
    )
    extra: dict[str, Json] = {"buffer_bytes": nbytes, "bytes_counted_per_copy": 2 * nbytes}
    return _rate_result(
        engine, level, "d2d", "GB/s", samples, 2 * nbytes * repeats / GB, repeats, note, extra
    )


def launch_latency(engine: Engine, level: Level) -> BenchResult:
    """Empty-kernel launches: per-kernel time of back-to-back launches (events), plus wall-clock figures.

    ``value`` (µs) is SuperBench's ``event_time``: the event interval around
    ``launches_per_sample`` launches divided by their number. ``extra`` has ``wall_us_per_launch``
    (the same loop timed by the host, SuperBench's ``wall_time``) and ``round_trip_us`` (one
    launch then a device synchronise, host-timed: what a single launch-and-wait costs; under
    GPU-PV the VMBus round trip shows here).
    """
    from eflowgpu.bench.torchlib import torch

    _require_cuda(engine)
    kernel, kernel_name = _empty_kernel(engine)
    count = level.launches_per_sample

    def launches() -> None:
        for _ in range(count):
            kernel()

    sizes = level.sizes(engine.kind)
    engine.synchronize()
    events = _sample(engine, level, lambda: engine.timed(launches), sizes.budget_s)
    wall = _sample(engine, level, lambda: engine.wall_timed(launches), sizes.budget_s / 2)
    round_trip = _sample(engine, level, lambda: engine.wall_timed(kernel), sizes.budget_s / 2)
    scale = 1e6 / count
    note = (
        f"{kernel_name}; {count} back-to-back launches per sample timed with CUDA events "
        "(SuperBench kernel-launch event_time); wall-clock figures in extra"
    )
    extra: dict[str, Json] = {
        "kernel": kernel_name,
        "launches_per_sample": count,
        "wall_us_per_launch": wall.median * scale,
        "wall_cv": _json_float(wall.cv),
        "round_trip_us": round_trip.median * 1e6,
        "round_trip_p99_us": round_trip.percentile(99) * 1e6,
        "round_trip_cv": _json_float(round_trip.cv),
        "torch": torch.__version__,
    }
    return _time_result(engine, level, "launch_latency", "us", events, scale, 1, note, extra)


# --- GEMM -------------------------------------------------------------------------------------


def gemm_fp32(engine: Engine, level: Level) -> BenchResult:
    """fp32 GEMM with TF32 disabled (``set_float32_matmul_precision("highest")``)."""
    return _gemm(engine, level, "gemm_fp32", "fp32")


def gemm_tf32(engine: Engine, level: Level) -> BenchResult:
    """fp32 GEMM on TF32 tensor cores (``"high"`` precision); unavailable below compute capability 8.0."""
    return _gemm(engine, level, "gemm_tf32", "tf32")


def gemm_fp16(engine: Engine, level: Level) -> BenchResult:
    """fp16 GEMM (tensor cores from compute capability 7.0; PyTorch's default reduced-precision reduction)."""
    return _gemm(engine, level, "gemm_fp16", "fp16")


def cpu_gemm_fp32(engine: Engine, level: Level) -> BenchResult:
    """fp32 GEMM on the CPU: the same code as ``gemm_fp32`` at the CPU's size."""
    return _gemm(engine, level, "cpu_gemm_fp32", "fp32")


def gemm_operands(engine: Engine, n: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The two seeded ``n x n`` operands every GEMM benchmark multiplies (``randn``, then cast)."""
    from eflowgpu.bench.torchlib import torch

    generator = torch.Generator(device=engine.device).manual_seed(SEED)
    a = torch.randn(n, n, generator=generator, device=engine.device).to(dtype)
    b = torch.randn(n, n, generator=generator, device=engine.device).to(dtype)
    return a, b


def _gemm(
    engine: Engine, level: Level, bench_id: str, precision: Literal["fp32", "tf32", "fp16"]
) -> BenchResult:
    from eflowgpu.bench.torchlib import torch

    caps = engine.capabilities()
    if precision == "tf32" and not caps.tf32:
        raise BenchmarkUnavailable(
            f"TF32 needs compute capability 8.0 or newer; {caps.name} has {_cc(caps.compute_capability)}"
        )
    n = level.sizes(engine.kind).gemm_n
    dtype = torch.float16 if precision == "fp16" else torch.float32
    a, b = gemm_operands(engine, n, dtype)
    c = torch.empty_like(a)
    with _matmul_precision("high" if precision == "tf32" else "highest"):
        samples, repeats = _sampled(engine, level, lambda: torch.matmul(a, b, out=c))
    flops = 2 * n**3
    notes = [f"n = {n}, FLOPs = 2n^3 per multiply, {repeats} multiplies per sample"]
    if precision == "fp32":
        notes.append("TF32 off (IEEE fp32)")
    elif precision == "fp16":
        cores = "tensor cores" if caps.fp16_tensor_cores else "no tensor cores (compute capability < 7.0)"
        notes.append(f"fp16 inputs and output, {cores}")
    if engine.kind == "cpu":
        notes.append(f"{caps.threads} torch threads")
    extra: dict[str, Json] = {"n": n, "flops_per_multiply": flops, "precision": precision}
    return _rate_result(
        engine, level, bench_id, "TFLOP/s", samples, flops * repeats / 1e12, repeats, "; ".join(notes), extra
    )


# --- ResNet-50 --------------------------------------------------------------------------------


def resnet50_fp16(engine: Engine, level: Level) -> BenchResult:
    """ResNet-50 inference in fp16 (weights and inputs ``half``)."""
    return _resnet(engine, level, "resnet50_fp16", "fp16")


def resnet50_fp32(engine: Engine, level: Level) -> BenchResult:
    """ResNet-50 inference in IEEE fp32 (cuDNN and matmul TF32 off)."""
    return _resnet(engine, level, "resnet50_fp32", "fp32")


def cpu_resnet50_fp32(engine: Engine, level: Level) -> BenchResult:
    """ResNet-50 fp32 inference on the CPU: the same code as ``resnet50_fp32`` at the CPU's batch size."""
    return _resnet(engine, level, "cpu_resnet50_fp32", "fp32")


def _resnet(engine: Engine, level: Level, bench_id: str, precision: Literal["fp32", "fp16"]) -> BenchResult:
    from eflowgpu.bench.resnet import CLASSES, resnet50
    from eflowgpu.bench.torchlib import torch

    sizes = level.sizes(engine.kind)
    dtype = torch.float16 if precision == "fp16" else torch.float32
    model = resnet50(SEED).to(device=engine.device, dtype=dtype)
    generator = torch.Generator(device=engine.device).manual_seed(SEED)
    images = torch.randn(sizes.resnet_batch, 3, 224, 224, generator=generator, device=engine.device).to(dtype)
    single = images[:1].clone()
    with torch.inference_mode(), _conv_precision(engine, tf32=False), _matmul_precision("highest"):
        output = model(images)
        if tuple(output.shape) != (sizes.resnet_batch, CLASSES) or not bool(torch.isfinite(output).all()):
            raise BenchmarkFailed(
                f"{bench_id}: output of shape {tuple(output.shape)} or not finite "
                "(expected finite logits for every image)"
            )
        samples, repeats = _sampled(engine, level, lambda: model(images))
        latency = sample(
            lambda: engine.timed(lambda: model(single)),
            warmup=level.warmup,
            min_samples=max(sizes.latency_samples, 2),  # a fixed count (cv_target 0 is never met),
            max_samples=max(sizes.latency_samples, 2),  # cut short only by the budget
            cv_target=0.0,
            budget_s=sizes.budget_s,
        )
    notes = [
        f"batch {sizes.resnet_batch}, {repeats} batches per sample, 224x224 random images, random weights",
        f"batch-1 latency over {latency.n} runs ({latency.stopped_because})",
    ]
    if engine.kind == "cuda":
        notes.append(
            "cuDNN autotuning on (warm-up absorbs it)" + ("; TF32 off" if precision == "fp32" else "")
        )
    else:
        notes.append(f"{engine.capabilities().threads} torch threads")
    extra: dict[str, Json] = {
        "batch": sizes.resnet_batch,
        "precision": precision,
        "p50_ms": latency.median * 1e3,
        "p99_ms": latency.percentile(99) * 1e3,
        "latency_cv": _json_float(latency.cv),
        "latency_n": latency.n,
    }
    return _rate_result(
        engine,
        level,
        bench_id,
        "images/s",
        samples,
        float(sizes.resnet_batch * repeats),
        repeats,
        "; ".join(notes),
        extra,
    )


# --- memory_alloc -----------------------------------------------------------------------------


def memory_alloc(engine: Engine, level: Level) -> BenchResult:
    """Allocate ``memory_fraction`` of the free device memory in chunks, write patterns, read them back.

    Passes: each of :data:`MEMORY_PATTERNS` written to every chunk then verified, then a pass where
    each chunk holds its own value (written to all before any is read, so two chunks that alias
    the same memory show). Each pass is one timed sample (``value`` is the MiB verified, ``cv``
    that of the pass durations). Any byte that reads back wrong fails; so does allocating less
    than half the target.
    """
    from eflowgpu.bench.torchlib import torch

    _require_cuda(engine)
    free, total = torch.cuda.mem_get_info(engine.device)
    target = int(free * level.memory_fraction) // MIB * MIB
    chunks: list[torch.Tensor] = []
    allocated = 0
    stop_note = ""
    while allocated < target:
        size = min(ALLOC_CHUNK, target - allocated)
        try:
            chunks.append(torch.empty(size, dtype=torch.uint8, device=engine.device))
        except torch.cuda.OutOfMemoryError as exc:
            stop_note = f"allocation stopped at {allocated // MIB} MiB: {str(exc).splitlines()[0]}"
            break
        allocated += size
    extra: dict[str, Json] = {
        "free_bytes_before": int(free),
        "total_bytes": int(total),
        "target_bytes": target,
        "allocated_bytes": allocated,
        "share_of_free": allocated / free if free else 0.0,
        "chunks": len(chunks),
    }
    if allocated < MIN_ALLOC_SHARE * target:
        raise BenchmarkFailed(
            f"memory_alloc: only {allocated // MIB} of {target // MIB} MiB could be allocated "
            f"({free // MIB} MiB reported free){': ' + stop_note if stop_note else ''}",
            extra,
        )
    passes: list[Callable[[int], int]] = [partial(_constant, p) for p in MEMORY_PATTERNS]
    passes.append(_per_chunk)
    mismatched = 0
    durations: list[float] = []
    for value_of in passes:
        counts: list[torch.Tensor] = []
        durations.append(engine.timed(partial(_fill_and_check, chunks, value_of, counts)))
        mismatched += int(counts[0].item())  # .item() waits for the pass: one sync per pass
    del chunks
    torch.cuda.empty_cache()
    extra["mismatched_bytes"] = mismatched
    if mismatched:
        raise BenchmarkFailed(
            f"memory_alloc: {mismatched} bytes read back differently from what was written", extra
        )
    samples = Samples(tuple(durations), "max_samples", 0)
    note = (
        f"{allocated // MIB} MiB of {free // MIB} MiB free ({level.memory_fraction:.0%} target) in "
        f"{extra['chunks']} chunks; patterns 0x00 0xFF 0xAA 0x55 and one value per chunk, all verified"
    )
    if stop_note:
        note += f"; {stop_note}"
    return _build(
        engine,
        level,
        "memory_alloc",
        "MiB",
        samples,
        float(allocated // MIB),
        (allocated // MIB,) * 2,
        note,
        extra,
        1,
    )


def _constant(value: int, _index: int) -> int:
    return value


def _per_chunk(index: int) -> int:
    return (index * 37 + 11) % 251


def _fill_and_check(
    chunks: list[torch.Tensor], value_of: Callable[[int], int], counts: list[torch.Tensor]
) -> None:
    """Write every chunk, then count on the device the bytes that differ; the count goes to ``counts``."""
    from eflowgpu.bench.torchlib import torch

    for index, chunk in enumerate(chunks):
        chunk.fill_(value_of(index))
    bad = torch.zeros((), dtype=torch.int64, device=chunks[0].device)
    for index, chunk in enumerate(chunks):
        expected = value_of(index)
        for start in range(0, chunk.numel(), VERIFY_SLICE):
            bad += chunk[start : start + VERIFY_SLICE].ne(expected).sum()
    counts.append(bad)


# --- stress -----------------------------------------------------------------------------------


def stress(engine: Engine, level: Level, *, nvml: HealthApi | None = None) -> BenchResult:
    """gpu-burn's method for ``stress_s`` seconds: the same fp32 GEMM again and again, each result checked.

    ``C0 = A·B`` (uniform [0, 1) inputs like gpu-burn, TF32 off), then ``A·B`` into result buffers
    filling ``memory_fraction`` of the free memory, in turn, each compared on the device with C0.
    **Comparison: tolerance, gpu-burn's** ``|C - C0| > 1e-3`` **or NaN is faulty.** A bitwise rule
    would be stricter but cuBLAS only promises bitwise-equal results for the same algorithm, and a
    fault that matters (exponent or high mantissa bits) is far above 1e-3; elements that differ at
    all are still counted (``bitwise_differing_elements``) and stated. NVML is watched throughout
    (:mod:`eflowgpu.bench.health`): a throttle other than the software power cap, new ECC errors,
    retired pages, remapped rows or Xid events fail; NVML missing or a query not supported is a
    stated skip. ``nvml`` is the binding to use (tests), default ``pynvml``.
    """
    from eflowgpu.bench.health import HealthMonitor, open_monitor
    from eflowgpu.bench.torchlib import torch

    _require_cuda(engine)
    caps = engine.capabilities()
    n = level.cuda.gemm_n
    generator = torch.Generator(device=engine.device).manual_seed(SEED)
    a = torch.rand(n, n, generator=generator, device=engine.device)
    b = torch.rand(n, n, generator=generator, device=engine.device)
    with _matmul_precision("highest"):
        reference = torch.matmul(a, b)
        diff = torch.empty_like(reference)
        slot_bytes = reference.numel() * reference.element_size()
        free, _total = torch.cuda.mem_get_info(engine.device)
        room = int(free * level.memory_fraction) - 2 * slot_bytes  # temporaries of the comparison
        slots: list[torch.Tensor] = []
        for _ in range(max(1, min(STRESS_MAX_SLOTS, room // slot_bytes))):
            try:
                slots.append(torch.empty_like(reference))
            except torch.cuda.OutOfMemoryError:
                break
        if not slots:
            raise BenchmarkUnavailable("stress: not enough free device memory for one result buffer")
        faulty = torch.zeros((), dtype=torch.int64, device=engine.device)
        differing = torch.zeros((), dtype=torch.int64, device=engine.device)
        monitor = open_monitor(caps.pci_bus_id, nvml)
        if isinstance(monitor, HealthMonitor):
            monitor.start()
        # No sync before the loop: the setup kernels are on the same stream, ahead of the first
        # timed GEMM's start event, so they cannot fall inside an event interval.
        durations: list[float] = []
        started = time.perf_counter()
        deadline = started + level.stress_s
        next_poll = started + STRESS_POLL_S
        cuda_error: RuntimeError | None = None
        try:
            while time.perf_counter() < deadline or len(durations) < 2:
                slot = slots[len(durations) % len(slots)]
                durations.append(engine.timed(partial(torch.matmul, a, b, out=slot)))
                # Issued after the timed GEMM, on the same stream: runs while the host goes on.
                torch.sub(slot, reference, out=diff).abs_()
                faulty += diff.le(STRESS_TOLERANCE).logical_not_().sum()  # NaN is not <= tolerance
                differing += slot.ne(reference).sum()
                if isinstance(monitor, HealthMonitor) and time.perf_counter() >= next_poll:
                    monitor.poll()
                    next_poll += STRESS_POLL_S
            engine.synchronize()  # all GEMMs and comparisons done before NVML's last look
        except torch.cuda.OutOfMemoryError:
            raise  # the comparison's temporaries did not fit: not a fault of the GPU
        except RuntimeError as exc:  # a CUDA error under load (an Xid, a lost GPU): a fault
            cuda_error = exc
        finally:
            verdict = monitor.finish() if isinstance(monitor, HealthMonitor) else None
    wall = time.perf_counter() - started
    if cuda_error is not None:
        nvml_part = f"; NVML: {'; '.join(verdict.failures)}" if verdict and verdict.failures else ""
        first_line = (str(cuda_error).strip() or type(cuda_error).__name__).splitlines()[0]
        raise BenchmarkFailed(
            f"stress: CUDA error after {len(durations)} GEMMs ({wall:.1f} s): {first_line}{nvml_part}",
            {"gemms": len(durations), "nvml": verdict.summary() if verdict else {"skipped": str(monitor)}},
        ) from cuda_error
    faulty_count, differing_count = int(faulty.item()), int(differing.item())
    extra: dict[str, Json] = {
        "n": n,
        "gemms": len(durations),
        "result_buffers": len(slots),
        "result_bytes": len(slots) * slot_bytes,
        "seconds": wall,
        "tolerance": STRESS_TOLERANCE,
        "faulty_elements": faulty_count,
        "bitwise_differing_elements": differing_count,
    }
    failures: list[str] = []
    if faulty_count:
        failures.append(
            f"{faulty_count} result elements differ from the first result by more than 1e-3 or are NaN"
        )
    notes = [
        f"{len(durations)} GEMMs n = {n} fp32 (TF32 off) over {wall:.1f} s into {len(slots)} result buffers "
        f"({len(slots) * slot_bytes // MIB} MiB), each compared with the first: "
        "faulty if |diff| > 1e-3 or NaN"
    ]
    if differing_count and not faulty_count:
        notes.append(f"{differing_count} elements differ bitwise within the tolerance")
    if verdict is None:
        notes.append(f"NVML checks skipped: {monitor}")
        extra["nvml"] = {"skipped": str(monitor)}
    else:
        extra["nvml"] = verdict.summary()
        failures.extend(verdict.failures)
        if verdict.not_supported:
            notes.append(f"NVML not supported here: {', '.join(verdict.not_supported)}")
        if "sw_power_cap" in verdict.reasons_seen:
            notes.append("software power cap seen (not a failure)")
        if isinstance(monitor, HealthMonitor) and monitor.match_note:
            notes.append(monitor.match_note)
    if failures:
        raise BenchmarkFailed("stress: " + "; ".join(failures), extra)
    samples = Samples(tuple(durations), "budget", 0)
    return _rate_result(
        engine, level, "stress", "TFLOP/s", samples, 2 * n**3 / 1e12, 1, "; ".join(notes), extra
    )


# --- shared helpers ---------------------------------------------------------------------------


def _require_cuda(engine: Engine) -> None:
    if engine.kind != "cuda":
        raise BenchmarkUnavailable("CUDA is not available: this benchmark needs a CUDA device")


def _random_bytes(engine: Engine, nbytes: int) -> torch.Tensor:
    from eflowgpu.bench.torchlib import torch

    generator = torch.Generator(device=engine.device).manual_seed(SEED)
    return torch.randint(0, 256, (nbytes,), dtype=torch.uint8, generator=generator, device=engine.device)


def _empty_kernel(engine: Engine) -> tuple[Callable[[], object], str]:
    """An empty kernel: ``torch.cuda._sleep(0)`` (a spin kernel spinning 0 cycles), else a 1-element fill."""
    from eflowgpu.bench.torchlib import torch

    spin: Callable[[int], None] | None = getattr(torch.cuda, "_sleep", None)
    if spin is not None:
        return (lambda: spin(0)), "torch.cuda._sleep(0) (spin kernel, 0 cycles)"
    tiny = torch.zeros(1, device=engine.device)
    return tiny.zero_, "fill of a 1-element tensor"


def _sample(engine: Engine, level: Level, run_once: Callable[[], float], budget_s: float) -> Samples:
    return sample(
        run_once,
        warmup=level.warmup,
        min_samples=level.min_samples,
        max_samples=level.max_samples,
        cv_target=level.cv_target,
        budget_s=budget_s,
    )


def _sampled(engine: Engine, level: Level, op: Callable[[], object]) -> tuple[Samples, int]:
    """Calibrate how many ``op`` make a sample, sync the device once, then sample; (samples, repeats)."""
    sizes = level.sizes(engine.kind)
    engine.synchronize()  # calibrate on an idle device
    repeats = engine.repeats_for(op, sizes.min_sample_s)

    def repeated() -> None:
        for _ in range(repeats):
            op()

    engine.synchronize()  # setup (fills, library initialisation) must not overlap the samples
    return _sample(engine, level, lambda: engine.timed(repeated), sizes.budget_s), repeats


def _rate_result(
    engine: Engine,
    level: Level,
    bench_id: str,
    unit: str,
    samples: Samples,
    work: float,
    repeats: int,
    note: str,
    extra: dict[str, Json],
) -> BenchResult:
    """A figure that is ``work`` per sample divided by the sample's duration (GB/s, TFLOP/s, images/s)."""
    value = work / samples.median
    spread = (work / samples.p90, work / samples.p10)
    return _build(engine, level, bench_id, unit, samples, value, spread, note, extra, repeats)


def _time_result(
    engine: Engine,
    level: Level,
    bench_id: str,
    unit: str,
    samples: Samples,
    scale: float,
    repeats: int,
    note: str,
    extra: dict[str, Json],
) -> BenchResult:
    """A figure that is a sample's duration times ``scale`` (µs per launch)."""
    spread = (samples.p10 * scale, samples.p90 * scale)
    return _build(
        engine, level, bench_id, unit, samples, samples.median * scale, spread, note, extra, repeats
    )


def _build(
    engine: Engine,
    level: Level,
    bench_id: str,
    unit: str,
    samples: Samples,
    value: float,
    spread: tuple[float, float],
    note: str,
    extra: dict[str, Json],
    repeats: int,
) -> BenchResult:
    caps = dataclasses.asdict(engine.capabilities())
    full: dict[str, Json] = {
        **extra,
        "level": level.name,
        "warmup": samples.warmup,
        "repeats_per_sample": repeats,
        "device": caps,
    }
    return BenchResult(
        id=bench_id,
        value=value,
        unit=unit,
        samples=samples.values,
        cv=samples.cv,
        median_s=samples.median,
        spread=spread,
        n=samples.n,
        stopped_because=samples.stopped_because,
        note=note,
        extra=full,
    )


def _json_float(value: float) -> float | None:
    return value if value == value and abs(value) != float("inf") else None


def _cc(capability: tuple[int, int] | None) -> str:
    return f"compute capability {capability[0]}.{capability[1]}" if capability else "no compute capability"


@contextmanager
def _matmul_precision(precision: Literal["highest", "high"]) -> Iterator[None]:
    """``torch.set_float32_matmul_precision`` for the block (``highest``: IEEE fp32; ``high``: TF32)."""
    from eflowgpu.bench.torchlib import torch

    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(precision)
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


@contextmanager
def _conv_precision(engine: Engine, *, tf32: bool) -> Iterator[None]:
    """On CUDA: cuDNN autotuning on and TF32 convolutions as asked, for the block; nothing on the CPU."""
    from eflowgpu.bench.torchlib import torch

    if engine.kind != "cuda":
        yield
        return
    cudnn = torch.backends.cudnn
    before = (cudnn.benchmark, cudnn.allow_tf32)
    cudnn.benchmark, cudnn.allow_tf32 = True, tf32
    try:
        yield
    finally:
        cudnn.benchmark, cudnn.allow_tf32 = before


_FUNCTIONS: Mapping[str, Callable[[Engine, Level], BenchResult]] = MappingProxyType(
    {
        "h2d_pinned": h2d_pinned,
        "d2h_pinned": d2h_pinned,
        "h2d_pageable": h2d_pageable,
        "d2h_pageable": d2h_pageable,
        "d2d": d2d,
        "launch_latency": launch_latency,
        "gemm_fp32": gemm_fp32,
        "gemm_tf32": gemm_tf32,
        "gemm_fp16": gemm_fp16,
        "resnet50_fp16": resnet50_fp16,
        "resnet50_fp32": resnet50_fp32,
        "memory_alloc": memory_alloc,
        "stress": stress,
        "cpu_gemm_fp32": cpu_gemm_fp32,
        "cpu_resnet50_fp32": cpu_resnet50_fp32,
    }
)
"""The function of each id in :data:`BENCHMARKS` (read-only)."""
