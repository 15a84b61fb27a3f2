"""Repeat-until-stable sampling (pure Python, no torch): warm up, then sample until the CV is low enough.

The method of the anchors (reference §2.9): a few untimed warm-up runs (nvbandwidth: 4 copies,
SuperBench: 100 launches), then timed samples until the coefficient of variation (stdev/mean, as
nvbandwidth v0.9 reports it; Phoronix runs again while stdev % ≥ 3) is at or under a target, or a time
budget or a sample count runs out. The figure is the **median** (nvbandwidth, SuperBench P50),
reported with its CV, spread (10th-90th percentile) and sample count.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

StopReason = Literal["stable", "budget", "max_samples"]
"""``stable``: CV ≤ target after ``min_samples``; ``budget``: time ran out; ``max_samples``: count ran out."""


@dataclass(frozen=True)
class Samples:
    """Timed samples (seconds, in the order taken, warm-up excluded) and why sampling stopped."""

    values: tuple[float, ...]
    stopped_because: StopReason
    warmup: int = 0

    @property
    def n(self) -> int:
        """The number of samples."""
        return len(self.values)

    @property
    def mean(self) -> float:
        """Arithmetic mean (NaN without samples)."""
        return statistics.fmean(self.values) if self.values else math.nan

    @property
    def median(self) -> float:
        """Median (the 50th percentile)."""
        return self.percentile(50)

    @property
    def stdev(self) -> float:
        """Sample standard deviation (n - 1 in the denominator); NaN with fewer than two samples."""
        return statistics.stdev(self.values) if self.n >= 2 else math.nan

    @property
    def cv(self) -> float:
        """Coefficient of variation, stdev / mean; NaN with fewer than two samples or a zero mean."""
        return coefficient_of_variation(self.values)

    @property
    def min(self) -> float:
        """The shortest sample."""
        return min(self.values) if self.values else math.nan

    @property
    def max(self) -> float:
        """The longest sample."""
        return max(self.values) if self.values else math.nan

    @property
    def p10(self) -> float:
        """10th percentile (low end of the spread)."""
        return self.percentile(10)

    @property
    def p90(self) -> float:
        """90th percentile (high end of the spread)."""
        return self.percentile(90)

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0-100) of the samples; see :func:`percentile`."""
        return percentile(self.values, q)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile by linear interpolation between closest ranks (NumPy's default).

    Position ``(n - 1)·q/100`` in the sorted values; ``[1, 2, 3, 4]`` at 10 → 1.3. NaN when empty.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, not {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def coefficient_of_variation(values: Sequence[float]) -> float:
    """Sample standard deviation / mean; NaN with fewer than two values or a zero mean."""
    if len(values) < 2:
        return math.nan
    mean = statistics.fmean(values)
    return statistics.stdev(values) / mean if mean else math.nan


def sample(
    run_once: Callable[[], float],
    *,
    warmup: int,
    min_samples: int,
    max_samples: int,
    cv_target: float,
    budget_s: float,
    clock: Callable[[], float] = time.perf_counter,
) -> Samples:
    """Warm up, then sample ``run_once`` (which returns one sample's duration in seconds) until stable.

    ``run_once`` is called ``warmup`` times with its result discarded, then repeatedly; after each
    sample, in this order, sampling stops when:

    1. at least ``min_samples`` were taken and their CV is ≤ ``cv_target`` → ``stable``;
    2. ``max_samples`` were taken → ``max_samples``;
    3. ``clock()`` has advanced ``budget_s`` or more since the call began (warm-up included) and at
       least two samples were taken → ``budget``.

    Every result therefore has at least two samples and a CV, whatever the budget. The budget is
    checked between samples: one sample that hangs is the caller's hard timeout's business
    (:func:`eflowgpu.bench.runner.run_isolated`). ``clock`` is there for tests (a fake clock).
    """
    if warmup < 0:
        raise ValueError(f"warmup must be ≥ 0, not {warmup}")
    if min_samples < 2:
        raise ValueError(f"min_samples must be ≥ 2 (a CV needs two samples), not {min_samples}")
    if max_samples < min_samples:
        raise ValueError(f"max_samples ({max_samples}) must be ≥ min_samples ({min_samples})")
    if budget_s <= 0 or cv_target < 0:
        raise ValueError(f"budget_s must be > 0 and cv_target ≥ 0 (got {budget_s}, {cv_target})")
    start = clock()
    for _ in range(warmup):
        run_once()
    values: list[float] = []
    while True:
        values.append(float(run_once()))
        n = len(values)
        if n >= min_samples and coefficient_of_variation(values) <= cv_target:
            return Samples(tuple(values), "stable", warmup)
        if n >= max_samples:
            return Samples(tuple(values), "max_samples", warmup)
        if n >= 2 and clock() - start >= budget_s:
            return Samples(tuple(values), "budget", warmup)


def per_operation(samples: Sequence[float], repeats: object) -> tuple[float, ...]:
    """Sample durations divided by the operations each sample repeated (``repeats_per_sample``).

    A sample repeats its operation until it lasts a minimum time, and how many repeats that takes
    is calibrated per run: a slower machine needs fewer. Durations compared between runs (the
    regression gate replays them to pytest-benchmark) must therefore be per operation. ``repeats``
    that is not a positive integer leaves the durations as they are.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats <= 0:
        return tuple(samples)
    return tuple(value / repeats for value in samples)
