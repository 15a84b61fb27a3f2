"""Run levels, as DCGM's (reference §1.1-1.2): ``quick``, ``standard``, ``long``; what each costs.

A :class:`Level` fixes, for every benchmark: the sampling rule (warm-up, min/max samples, CV
target, time budget per figure, see :func:`eflowgpu.bench.stats.sample`), the hard timeout after
which the worker is killed (:func:`eflowgpu.bench.runner.run_isolated`), and the sizes. Sizes come
per device kind (:class:`Sizes`): the CUDA sizes are the real ones, the CPU sizes are the CPU
analogues, small enough that the CPU benchmarks stay fast on a 2-core VM.

What each level costs (sampling stops early when the CV target is met, so these are bounds):

``quick`` — a readiness check, **about a minute on a T4** in total (estimate from the sizes, not
measured here): each of the 13 CUDA benchmarks pays a worker start (~3 s: Python, torch, CUDA
context, cuBLAS/cuDNN) and at most 1 s of sampling per figure; ResNet adds cuDNN's algorithm search
and a batch-1 latency figure; ``memory_alloc`` ~2 s (5 passes over ~14 GB); ``stress`` 5 s. That is
~40 s of worker starts plus ~25 s of work. On the CPU side (2 cores, no GPU) the two CPU
benchmarks take < 60 s together, workers included (10-25 s measured with
``benchmarks/bench_cpu_gemm.py``, depending on the load on the VM); their budget is 4 s per
figure. Copies use 256 MiB buffers, GEMMs n = 4096 (CPU: 1024), ResNet batch 32 (CPU: 4).

``standard`` — a qualification run, ~5 min on a T4: 3 s of sampling per figure, 60 s of stress
(a third of DCGM's ``diagnostic`` default of 180 s), GEMM n = 8192 (gpu-burn's size), ResNet at
batch 64 (NVIDIA's T4 reference point, reference §4.2), 200 latency samples.

``long`` — a burn-in, ~20 min on a T4: 10 s per figure, 10 min of stress, 512 MiB copies
(nvbandwidth's default), ResNet at batch 256, 1000 latency samples.

**CPU benchmarks run on one thread.** On a shared 2-core VM a multi-threaded GEMM is at the mercy
of whatever else runs: measured with ``benchmarks/bench_cpu_spread.py`` (4 runs of
``cpu_gemm_fp32`` at ``quick``, alternating variants, other jobs on the machine), the figure moved
by 253 % between runs with the cores' thread count, by 220 % with longer samples and more warm-up,
and by 1.5 % (CV 0.008) with one torch thread, which the scheduler keeps on a free core. The
README's regression gate (``median:10%``) holds only on such a figure; the GPU/CPU speedup is
therefore against one core, and the note of each CPU figure says so.

The hard timeout per benchmark is generous (a healthy run never nears it) and is what a hung GPU
costs: that benchmark fails as ``hung`` and the run goes on. ``stress`` gets its duration on top.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Literal

DeviceKind = Literal["cuda", "cpu"]
MIB = 1024 * 1024


@dataclass(frozen=True)
class Sizes:
    """The sizes of one device kind at one level.

    * ``budget_s``: time budget per sampled figure, warm-up included (:func:`~eflowgpu.bench.stats.sample`);
    * ``min_sample_s``: a timed sample repeats its operation until one run of it lasts at least this
      (calibrated once before sampling), so that short operations are not timed one by one;
    * ``gemm_n``: square matrix size of the GEMM benchmarks and of ``stress``;
    * ``resnet_batch``: ResNet-50 throughput batch size; ``latency_samples``: batch-1 runs for p50/p99;
    * ``threads``: torch's CPU thread count for this kind's benchmarks (None: the cores the worker
      may use). The CPU benchmarks use one thread: see the module docstring.
    """

    budget_s: float
    min_sample_s: float
    gemm_n: int
    resnet_batch: int
    latency_samples: int
    threads: int | None = None


@dataclass(frozen=True)
class Level:
    """One run level: the sampling rule, limits and sizes every benchmark uses (see the module docstring).

    * ``warmup``, ``min_samples``, ``max_samples``, ``cv_target``: the sampling rule;
    * ``timeout_s``: hard timeout per benchmark (worker killed after it; ``stress`` adds ``stress_s``);
    * ``copy_bytes``: host↔device and device-to-device buffer (CUDA only; ≥ 256 MiB ≫ any L2);
    * ``launches_per_sample``: empty kernels per ``launch_latency`` sample;
    * ``memory_fraction``: share of free device memory ``memory_alloc`` and ``stress`` fill
      (gpu-burn's 90 %);
    * ``stress_s``: how long ``stress`` runs GEMMs;
    * ``cuda``, ``cpu``: :class:`Sizes` per device kind.
    """

    name: str
    warmup: int
    min_samples: int
    max_samples: int
    cv_target: float
    timeout_s: float
    copy_bytes: int
    launches_per_sample: int
    memory_fraction: float
    stress_s: float
    cuda: Sizes
    cpu: Sizes

    def sizes(self, kind: DeviceKind) -> Sizes:
        """The sizes for a device kind."""
        return self.cuda if kind == "cuda" else self.cpu

    def hard_timeout(self, bench_id: str) -> float:
        """Seconds after which the worker running ``bench_id`` is killed."""
        return self.timeout_s + (self.stress_s if bench_id == "stress" else 0.0)

    def to_json(self) -> dict[str, object]:
        """The level as a JSON-ready dict (the runner passes it to the worker this way)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Level:
        """The level :meth:`to_json` wrote; ``TypeError``/``KeyError`` for anything else."""
        return cls(
            name=str(data["name"]),
            warmup=_int(data, "warmup"),
            min_samples=_int(data, "min_samples"),
            max_samples=_int(data, "max_samples"),
            cv_target=_float(data, "cv_target"),
            timeout_s=_float(data, "timeout_s"),
            copy_bytes=_int(data, "copy_bytes"),
            launches_per_sample=_int(data, "launches_per_sample"),
            memory_fraction=_float(data, "memory_fraction"),
            stress_s=_float(data, "stress_s"),
            cuda=_sizes(data["cuda"]),
            cpu=_sizes(data["cpu"]),
        )


def _sizes(raw: object) -> Sizes:
    if not isinstance(raw, Mapping):
        raise TypeError(f"sizes must be an object, not {raw!r}")
    return Sizes(
        budget_s=_float(raw, "budget_s"),
        min_sample_s=_float(raw, "min_sample_s"),
        gemm_n=_int(raw, "gemm_n"),
        resnet_batch=_int(raw, "resnet_batch"),
        latency_samples=_int(raw, "latency_samples"),
        threads=None if raw.get("threads") is None else _int(raw, "threads"),
    )


def _int(data: Mapping[str, object], key: str) -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{key} must be an integer, not {value!r}")
    return value


def _float(data: Mapping[str, object], key: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{key} must be a number, not {value!r}")
    return float(value)


LEVELS: Mapping[str, Level] = MappingProxyType(
    {
        "quick": Level(
            name="quick",
            warmup=2,
            min_samples=5,
            max_samples=200,
            cv_target=0.05,
            timeout_s=60.0,
            copy_bytes=256 * MIB,
            launches_per_sample=1000,
            memory_fraction=0.9,
            stress_s=5.0,
            cuda=Sizes(budget_s=1.0, min_sample_s=0.01, gemm_n=4096, resnet_batch=32, latency_samples=50),
            cpu=Sizes(
                budget_s=4.0, min_sample_s=0.01, gemm_n=1024, resnet_batch=4, latency_samples=30, threads=1
            ),
        ),
        "standard": Level(
            name="standard",
            warmup=3,
            min_samples=10,
            max_samples=1000,
            cv_target=0.03,
            timeout_s=180.0,
            copy_bytes=256 * MIB,
            launches_per_sample=1000,
            memory_fraction=0.9,
            stress_s=60.0,
            cuda=Sizes(budget_s=3.0, min_sample_s=0.02, gemm_n=8192, resnet_batch=64, latency_samples=200),
            cpu=Sizes(
                budget_s=10.0, min_sample_s=0.02, gemm_n=2048, resnet_batch=8, latency_samples=100, threads=1
            ),
        ),
        "long": Level(
            name="long",
            warmup=5,
            min_samples=20,
            max_samples=5000,
            cv_target=0.02,
            timeout_s=600.0,
            copy_bytes=512 * MIB,
            launches_per_sample=1000,
            memory_fraction=0.9,
            stress_s=600.0,
            cuda=Sizes(budget_s=10.0, min_sample_s=0.05, gemm_n=8192, resnet_batch=256, latency_samples=1000),
            cpu=Sizes(
                budget_s=30.0, min_sample_s=0.05, gemm_n=2048, resnet_batch=16, latency_samples=300, threads=1
            ),
        ),
    }
)
"""The levels by name (read-only)."""


def resolve_level(level: str | Level) -> Level:
    """A :class:`Level` given itself or its name in :data:`LEVELS`; ``ValueError`` for an unknown name."""
    if isinstance(level, Level):
        return level
    try:
        return LEVELS[level]
    except KeyError:
        raise ValueError(f"unknown level {level!r}: one of {', '.join(LEVELS)}") from None
