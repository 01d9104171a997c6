"""Progress of one analogy run: stages weighted by their expected seconds, monotonic fraction,
ETA from the elapsed time, and the cancel check at every tick."""

from __future__ import annotations

import time

from engine.cancel import CancelToken, ProgressFn
from engine.contract import Progress


class Meter:
    def __init__(self, progress: ProgressFn, cancel: CancelToken):
        self.progress = progress
        self.cancel = cancel
        self.t0 = time.monotonic()
        self.total: float | None = None
        self.done = 0.0  # expected seconds of the stages already finished
        self.units = 0.0  # of the current stage
        self.last = 0.0

    def start(self, total: float, done: float) -> None:
        """The plan is known: `total` expected seconds, `done` of them behind us."""
        self.total, self.done, self.units = total, done, 0.0

    def stage(self, units: float) -> None:
        self.done += self.units
        self.units = units

    def tick(self, within: float, stage: str, iteration: int = 0, total_iterations: int = 0,
             loss: float | None = None) -> None:
        self.cancel.raise_if_cancelled()
        fraction = 0.0
        if self.total:
            fraction = (self.done + min(max(within, 0.0), 1.0) * self.units) / self.total
            fraction = min(max(fraction, self.last), 0.999)
        self.last = fraction
        elapsed = time.monotonic() - self.t0
        eta = elapsed * (1.0 - fraction) / fraction if fraction > 0.01 else None
        self.progress(Progress(fraction, stage, iteration, total_iterations, loss, eta))

    def finish(self, stage: str) -> None:
        self.last = 1.0
        self.progress(Progress(1.0, stage, eta_s=0.0))
