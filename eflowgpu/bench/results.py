"""What a benchmark gives back: a :class:`BenchResult`, or why there is none.

These types do not need PyTorch: the parent process (:mod:`eflowgpu.bench.runner`) reads them back
from a worker's JSON line without importing torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, TypeAlias, cast

from eflowgpu.bench.stats import StopReason

Json: TypeAlias = str | int | float | bool | list["Json"] | dict[str, "Json"] | None
"""A value that :func:`json.dumps` writes as it is (``extra`` holds only these)."""

MARKER = "EFLOWGPU-BENCH-RESULT "
"""Prefix of the worker's outcome line on stdout (:mod:`eflowgpu.bench.worker`)."""

FailureKind = Literal["hung", "crashed", "unavailable", "failed", "error"]
_KINDS: tuple[FailureKind, ...] = ("hung", "crashed", "unavailable", "failed", "error")


class BenchmarkUnavailable(Exception):
    """The benchmark cannot run here, for a reason that is not a fault of the GPU.

    ``CUDA is not available: …``, ``TF32 needs compute capability 8.0 or newer …``, ``PyTorch is
    not installed …``. The runner reports it as ``unavailable: <message>`` (a SKIP with its reason).
    """


class BenchmarkFailed(Exception):
    """The benchmark ran and found a fault: data that did not verify, a stress mis-compare, an NVML event.

    ``extra`` carries what was measured, so a failed stress run still says how far it got.
    """

    def __init__(self, message: str, extra: Mapping[str, Json] | None = None) -> None:
        super().__init__(message)
        self.extra: dict[str, Json] = dict(extra or {})


@dataclass(frozen=True)
class BenchResult:
    """One benchmark's figure with the statistics it came from.

    * ``value``: the figure in ``unit`` (GB/s, µs, TFLOP/s, images/s, MiB), computed from the
      median sample duration ``median_s``;
    * ``samples``: every timed sample's duration in seconds, in order (warm-up excluded);
    * ``cv``: coefficient of variation (sample standard deviation / mean) of those durations;
    * ``spread``: the figure at the 10th and 90th percentile durations, low first;
    * ``n``: ``len(samples)``; ``stopped_because``: why sampling ended (see
      :class:`~eflowgpu.bench.stats.Samples`);
    * ``note``: what a reader must know to compare the figure (sizes, conventions, fallbacks);
    * ``extra``: further figures and facts (for ResNet ``p50_ms``/``p99_ms`` at batch 1).
    """

    id: str
    value: float
    unit: str
    samples: tuple[float, ...]
    cv: float
    median_s: float
    spread: tuple[float, float]
    n: int
    stopped_because: StopReason
    note: str = ""
    extra: Mapping[str, Json] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    def to_json(self) -> dict[str, Json]:
        """A JSON-ready dict; :meth:`from_json` reads it back to an equal result."""
        return {
            "id": self.id,
            "value": _finite(self.value),
            "unit": self.unit,
            "samples": [_finite(s) for s in self.samples],
            "cv": _finite(self.cv),
            "median_s": _finite(self.median_s),
            "spread": [_finite(self.spread[0]), _finite(self.spread[1])],
            "n": self.n,
            "stopped_because": self.stopped_because,
            "note": self.note,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Json]) -> BenchResult:
        """The result :meth:`to_json` wrote; ``ValueError`` for anything else."""
        try:
            spread = cast(list[float], data["spread"])
            stopped = str(data["stopped_because"])
            if stopped not in ("stable", "budget", "max_samples"):
                raise ValueError(f"unknown stopped_because {stopped!r}")
            return cls(
                id=str(data["id"]),
                value=_number(data["value"]),
                unit=str(data["unit"]),
                samples=tuple(_number(s) for s in cast(list[Json], data["samples"])),
                cv=_number(data["cv"]),
                median_s=_number(data["median_s"]),
                spread=(_number(spread[0]), _number(spread[1])),
                n=int(cast(int, data["n"])),
                stopped_because=cast(StopReason, stopped),
                note=str(data.get("note", "")),
                extra=dict(cast(dict[str, Json], data.get("extra") or {})),
            )
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"not a benchmark result: {exc!r}") from exc


@dataclass(frozen=True)
class BenchFailure:
    """No figure: ``reason`` starts with the kind, ``hung: no result after 60 s``.

    Kinds: ``hung`` (killed at the hard timeout), ``crashed`` (the worker died or wrote no result),
    ``unavailable`` (:class:`BenchmarkUnavailable`: a SKIP), ``failed`` (:class:`BenchmarkFailed`:
    the GPU is at fault), ``error`` (the benchmark raised something else: a bug or a driver error).
    """

    id: str
    reason: str
    extra: Mapping[str, Json] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))
        if self.kind not in _KINDS:
            raise ValueError(f"a failure reason starts with one of {_KINDS}: {self.reason!r}")

    @property
    def kind(self) -> FailureKind:
        """The word before the first colon of ``reason``."""
        return cast(FailureKind, self.reason.partition(":")[0])

    def to_json(self) -> dict[str, Json]:
        """A JSON-ready dict."""
        return {"id": self.id, "reason": self.reason, "extra": dict(self.extra)}


def _finite(value: float) -> float | None:
    """JSON has no NaN or infinity: those are written as null."""
    return value if math.isfinite(value) else None


def _number(raw: Json) -> float:
    if raw is None:
        return math.nan
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise TypeError(f"expected a number, got {raw!r}")
    return float(raw)
