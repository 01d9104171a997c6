"""The time-left estimate (engine/eta.py) on a simulated clock: stages of growing size whose
step time grows as pixels^g plus a per-stage set-up, as Gatys' scales do."""

from __future__ import annotations

import pytest

from engine.eta import GAMMA, StagedEta


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def simulate(true_gamma: float, stages=((16_384, 100), (65_536, 50), (262_144, 25)),
             kind: str = ""):
    """(time, estimated seconds left) after every step, and the run's total time."""
    clock = Clock()
    eta = StagedEta.of(stages, clock, kind)
    trace = []
    for k, (pixels, steps) in enumerate(stages):
        eta.start_stage(k)
        clock.t += 2e-4 * pixels ** true_gamma  # set-up: targets at this scale
        eta.steps_begin(k)
        for i in range(1, steps + 1):
            clock.t += 1e-3 * pixels ** true_gamma
            eta.step_done(k, i)
            trace.append((clock.t, eta.seconds_left()))
    return trace, clock.t


def error_at(trace, total: float, fraction: float) -> float:
    t, left = next((t, e) for t, e in trace if t >= fraction * total)
    actual = total - t
    return abs(left - actual) / max(actual, 1e-9)


def test_exact_when_the_machine_follows_the_model() -> None:
    trace, total = simulate(GAMMA)
    for f in (0.1, 0.5, 0.9):
        assert error_at(trace, total, f) < 0.02, f


@pytest.mark.parametrize("true_gamma", [0.75, 0.95])
def test_within_30_percent_after_the_first_tenth(true_gamma) -> None:
    trace, total = simulate(true_gamma)
    for f in (0.1, 0.5, 0.9):
        assert error_at(trace, total, f) < 0.3, (true_gamma, f)


@pytest.mark.parametrize("true_gamma", [0.6, 1.1])
def test_a_second_run_starts_from_what_the_first_measured(true_gamma) -> None:
    """On a machine far from the default exponent the first run is off early; the next run of
    the same kind (the engine serves many) is not."""
    first, total = simulate(true_gamma, kind=f"test-{true_gamma}")
    assert error_at(first, total, 0.1) > 0.3  # the default exponent does not fit this machine
    second, total = simulate(true_gamma, kind=f"test-{true_gamma}")
    for f in (0.1, 0.5, 0.9):
        assert error_at(second, total, f) < 0.05, f


def test_the_exponent_is_learned_from_two_finished_stages() -> None:
    clock = Clock()
    eta = StagedEta.of([(100, 10), (400, 10), (1600, 10)], clock)
    for k, pixels in enumerate((100, 400)):
        eta.start_stage(k)
        eta.steps_begin(k)
        for i in range(1, 11):
            clock.t += pixels ** 1.1 / 1000
            eta.step_done(k, i)
    assert eta.gamma == pytest.approx(1.1, abs=1e-6)
    eta.start_stage(2)
    assert eta.seconds_left() == pytest.approx(10 * 1600 ** 1.1 / 1000, rel=1e-6)


def test_unknown_before_any_step() -> None:
    eta = StagedEta.of([(100, 5)], Clock())
    eta.start_stage(0)
    assert eta.seconds_left() is None


def test_one_time_costs_of_the_first_stage_are_not_scaled_up() -> None:
    """A real engine's first stage pays one-time costs: a long set-up (kernels built, first
    forward passes) and a slow first step at every new size. Neither may be extrapolated to
    the larger stages (measured: the estimate at 10% of a 512 px run was 4x too long)."""
    clock = Clock()
    stages = ((16_384, 100), (65_536, 50), (262_144, 25))
    eta = StagedEta.of(stages, clock)
    trace = []
    for k, (pixels, steps) in enumerate(stages):
        eta.start_stage(k)
        step = 1e-3 * pixels ** GAMMA
        clock.t += (3.0 if k == 0 else 0.0) + step  # one-time set-up, then ~a step of targets
        eta.steps_begin(k)
        for i in range(1, steps + 1):
            clock.t += step * (10 if i == 1 else 1)  # the first step at a new size is slow
            eta.step_done(k, i)
            trace.append((clock.t, eta.seconds_left()))
    total = clock.t
    for f in (0.1, 0.5, 0.9):
        assert error_at(trace, total, f) < 0.3, f


def test_a_stage_that_warms_up_is_judged_by_its_recent_steps() -> None:
    """A fast network's first tiles run slower (caches, kernels); the estimate follows the speed
    of the later half of the steps done, not their mean since the start."""
    clock = Clock()
    eta = StagedEta.of([(768 * 768, 24)], clock)
    eta.start_stage(0)
    eta.steps_begin(0)
    trace = []
    for i in range(1, 25):
        clock.t += 0.3 if i <= 6 else 0.1
        eta.step_done(0, i)
        trace.append((clock.t, eta.seconds_left()))
    t, left = trace[11]  # 12 tiles done
    assert left == pytest.approx(12 * 0.1, rel=0.05)
