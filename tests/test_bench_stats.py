"""The sampler of eflowgpu.bench (pure Python): warm-up, stop rules, CV and percentiles, with a fake clock."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import pytest

from eflowgpu.bench.stats import Samples, coefficient_of_variation, percentile, sample


class FakeRun:
    """``run_once`` returning the given durations in turn and advancing a fake clock by each."""

    def __init__(self, durations: Iterable[float]) -> None:
        self.durations = iter(durations)
        self.now = 0.0
        self.calls = 0

    def __call__(self) -> float:
        duration = next(self.durations)
        self.now += duration
        self.calls += 1
        return duration

    def clock(self) -> float:
        return self.now


def cycle(*values: float) -> Iterable[float]:
    while True:
        yield from values


def run(fake: FakeRun, **overrides: float) -> Samples:
    rule: dict[str, float] = {
        "warmup": 0,
        "min_samples": 3,
        "max_samples": 100,
        "cv_target": 0.05,
        "budget_s": 1000.0,
    }
    rule.update(overrides)
    clock: Callable[[], float] = fake.clock
    return sample(
        fake,
        warmup=int(rule["warmup"]),
        min_samples=int(rule["min_samples"]),
        max_samples=int(rule["max_samples"]),
        cv_target=rule["cv_target"],
        budget_s=rule["budget_s"],
        clock=clock,
    )


def test_stops_when_stable_after_min_samples() -> None:
    fake = FakeRun([9.0, 9.0, 1.0, 1.0, 1.0, 1.0, 1.0])  # two warm-up runs, then steady
    got = run(fake, warmup=2, min_samples=4)
    assert got.stopped_because == "stable"
    assert got.values == (1.0, 1.0, 1.0, 1.0)
    assert got.warmup == 2 and fake.calls == 6
    assert got.cv == 0.0


def test_does_not_stop_before_min_samples_even_when_stable() -> None:
    got = run(FakeRun(cycle(2.0)), min_samples=7)
    assert got.n == 7 and got.stopped_because == "stable"


def test_keeps_sampling_until_cv_falls_under_target() -> None:
    # Noisy first, then steady: CV of [1, 3, 2, 2, ...] falls under 0.2 once enough 2s are in.
    durations = [1.0, 3.0] + [2.0] * 50
    got = run(FakeRun(durations), min_samples=2, cv_target=0.2)
    assert got.stopped_because == "stable"
    assert coefficient_of_variation(got.values) <= 0.2
    assert coefficient_of_variation(got.values[:-1]) > 0.2  # it stopped at the first stable point


def test_stops_on_budget_including_warm_up() -> None:
    # Warm-up 1 s; samples alternate 3, 1 (never stable); the clock passes 10 s after 3, 1, 3, 1, 3.
    fake = FakeRun(_chain([1.0], cycle(3.0, 1.0)))
    got = run(fake, warmup=1, budget_s=10.0)
    assert got.stopped_because == "budget"
    assert got.values == (3.0, 1.0, 3.0, 1.0, 3.0)
    assert fake.now == 12.0


def test_budget_still_gives_two_samples() -> None:
    fake = FakeRun(cycle(5.0))
    got = run(fake, warmup=3, budget_s=1.0)  # the warm-up alone overruns the budget
    assert got.stopped_because == "budget" and got.n == 2
    assert not math.isnan(got.cv)


def test_stops_on_max_samples() -> None:
    got = run(FakeRun(cycle(1.0, 2.0)), max_samples=7)
    assert got.stopped_because == "max_samples"
    assert got.values == (1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0)


def test_statistics_are_exact() -> None:
    got = Samples((4.0, 1.0, 3.0, 2.0), "stable")
    assert got.n == 4
    assert got.mean == 2.5
    assert got.median == 2.5
    assert got.min == 1.0 and got.max == 4.0
    assert got.stdev == pytest.approx(math.sqrt(5 / 3), rel=1e-12)
    assert got.cv == pytest.approx(math.sqrt(5 / 3) / 2.5, rel=1e-12)
    assert got.p10 == pytest.approx(1.3, rel=1e-12)
    assert got.p90 == pytest.approx(3.7, rel=1e-12)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([10.0, 20.0, 30.0, 40.0, 50.0], 10, 14.0),
        ([10.0, 20.0, 30.0, 40.0, 50.0], 50, 30.0),
        ([10.0, 20.0, 30.0, 40.0, 50.0], 90, 46.0),
        ([10.0, 20.0, 30.0, 40.0, 50.0], 99, 49.6),
        ([10.0, 20.0, 30.0, 40.0, 50.0], 0, 10.0),
        ([10.0, 20.0, 30.0, 40.0, 50.0], 100, 50.0),
        ([7.0], 90, 7.0),
    ],
)
def test_percentile_interpolates_linearly(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected, rel=1e-12)


def test_degenerate_inputs_give_nan_not_errors() -> None:
    assert math.isnan(percentile([], 50))
    assert math.isnan(coefficient_of_variation([1.0]))
    assert math.isnan(coefficient_of_variation([0.0, 0.0]))
    assert math.isnan(Samples((), "budget").median)


@pytest.mark.parametrize(
    "overrides",
    [{"min_samples": 1}, {"min_samples": 5, "max_samples": 4}, {"budget_s": 0.0}, {"warmup": -1}],
)
def test_rejects_rules_that_cannot_give_a_cv(overrides: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        run(FakeRun(cycle(1.0)), **overrides)


def _chain(*parts: Iterable[float]) -> Iterable[float]:
    for part in parts:
        yield from part


def test_per_operation_divides_by_the_calibrated_repeats() -> None:
    """Run A calibrates 3 multiplies per sample, run B (twice as slow) 1: per multiply they compare."""
    from eflowgpu.bench.stats import per_operation

    fast = per_operation((0.027, 0.028), 3)
    slow = per_operation((0.018, 0.019), 1)
    assert fast == pytest.approx((0.009, 0.028 / 3))
    assert slow[0] / fast[0] == pytest.approx(2.0)
    for odd in (None, 0, -2, True, "3"):
        assert per_operation((1.0, 2.0), odd) == (1.0, 2.0)
