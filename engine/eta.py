"""Time left, from measured speed: what the progress bar's "about N s left" says.

Work comes in stages (Gatys' scales, a fast network's tiles, upscaling passes); each stage has a
size (pixels) and a number of equal steps (iterations, tiles). The estimate uses only what this
run has measured on this machine:
- within a stage, seconds per step from the steps done so far (the stage's set-up, e.g. the style
  targets, is timed apart and not counted as a step);
- for stages still to come, the last measured stage's seconds per step and set-up scaled to their
  size by a power law, time ~ pixels^gamma. gamma starts at what the last run of the same kind
  measured in this process (the engine serves many jobs), else `GAMMA` (small images use the CPU
  less well, so time grows slower than pixels), and is re-measured from any two finished stages.
The naive "elapsed x (1 - f) / f" over a pixel-weighted fraction overestimated early in a
multi-scale run several-fold (coarse scales cost more per pixel than they weigh): 118 -> 319 s in
the first 16 s of a 111 s run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

GAMMA = 0.85
SETUP_STEPS = 1.0
TRUSTED_STEPS = 3  # a stage's own step time is used from its third step on
_learned: dict[str, float] = {}  # kind of work -> gamma measured by the last such run


@dataclass
class _Stage:
    pixels: float
    steps: int
    started: float | None = None
    first_step: float | None = None  # when the set-up ended (the first step began)
    first_done: float | None = None  # when the first step ended
    last_step: float | None = None
    done: int = 0
    ends: list[float] = field(default_factory=list)  # when each step ended

    @property
    def setup_s(self) -> float | None:
        if self.started is None or self.first_step is None:
            return None
        return self.first_step - self.started

    @property
    def step_s(self) -> float | None:
        """Seconds per step, leaving out the first step once there are others: the first step
        at a new size pays one-time costs (oneDNN builds its kernels for the shape; L-BFGS
        allocates), measured at up to 10x a later step at 128 px."""
        if self.done < 1 or self.first_step is None or self.last_step is None:
            return None
        if self.done >= 3 and len(self.ends) >= 3:
            # The later half of the steps: a stage still warming up (a fast network's first
            # tiles) is judged by how fast it runs now.
            k = max(2, (len(self.ends) - 1) // 2)
            return (self.ends[-1] - self.ends[-1 - k]) / k
        if self.done >= 3 and self.first_done is not None:
            return (self.last_step - self.first_done) / (self.done - 1)
        return (self.last_step - self.first_step) / self.done


@dataclass
class StagedEta:
    stages: list[_Stage]
    clock: Callable[[], float] = time.perf_counter
    gamma: float = GAMMA
    kind: str = ""
    _current: int = field(default=-1, init=False)

    @classmethod
    def of(cls, stages: Sequence[tuple[float, int]],
           clock: Callable[[], float] = time.perf_counter, kind: str = "") -> StagedEta:
        """`stages`: (pixels, steps) each, in the order they run; `kind` names the work (e.g.
        "gatys") so that a later run starts from this one's measured exponent."""
        return cls([_Stage(float(p), int(n)) for p, n in stages], clock,
                   _learned.get(kind, GAMMA), kind)

    def start_stage(self, index: int) -> None:
        now = self.clock()
        self._current = index
        self.stages[index].started = now

    def steps_begin(self, index: int) -> None:
        """The stage's set-up is over; its first step starts now."""
        self.stages[index].first_step = self.clock()

    def step_done(self, index: int, done: int) -> None:
        s = self.stages[index]
        if s.first_step is None:  # a caller that does not separate its set-up
            s.first_step = s.started if s.started is not None else self.clock()
        s.done, s.last_step = done, self.clock()
        if s.first_done is None:
            s.first_done = s.last_step
        s.ends.append(s.last_step)
        self._refit_gamma()

    def _refit_gamma(self) -> None:
        timed = [s for s in self.stages if s.done == s.steps and s.step_s]
        if len(timed) >= 2 and timed[-1].pixels != timed[-2].pixels:
            a, b = timed[-2], timed[-1]
            g = math.log(b.step_s / a.step_s) / math.log(b.pixels / a.pixels)
            self.gamma = min(1.3, max(0.3, g))
            if self.kind:
                _learned[self.kind] = self.gamma

    def _reference(self) -> _Stage | None:
        """The latest stage with a trustworthy step time: three steps done (the first one left
        out, see `step_s`) or the stage finished; else any measured one."""
        measured = [s for s in self.stages[:self._current + 1] if s.step_s]
        settled = [s for s in measured if s.done >= min(s.steps, TRUSTED_STEPS)]
        return (settled or measured or [None])[-1]

    def seconds_left(self) -> float | None:
        ref = self._reference()
        if ref is None:
            return None
        left = 0.0
        for k, s in enumerate(self.stages):
            if k < self._current:
                continue
            ratio = (s.pixels / ref.pixels) ** self.gamma if ref.pixels else 1.0
            own = s.step_s and s.done >= min(s.steps, TRUSTED_STEPS)
            per_step = s.step_s if own else ref.step_s * ratio
            left += per_step * (s.steps - s.done)
            if k > self._current or s.first_step is None:
                # A coming stage's set-up: the measured one scaled, but at most SETUP_STEPS of
                # that stage's steps (targets are forward passes, no backward). The first
                # stage's set-up holds the process's one-time costs; scaled up to a 16x larger
                # stage it made the estimate at 10% of a 512 px run 4x too long.
                setup = ref.setup_s * ratio if ref.setup_s else 0.0
                left += min(setup, SETUP_STEPS * per_step)
        return max(0.0, left)
