"""The CLIs' progress bar: tqdm on stderr, fed by the engine's progress events.

The engine reports `contract.Progress` (a fraction of the whole job, a stage, iterations, loss,
its own ETA); training reports `export.training_run.TrainEvent`. Both become one tqdm bar over 1000
units, so a job whose total changes between scales still moves smoothly. Off when stderr is not a
terminal (logs stay clean) or with --quiet.
"""

from __future__ import annotations

import sys
from typing import Any

UNITS = 1000


class _Off:
    """What a disabled bar needs of tqdm, without importing it (a -q or piped run of a fast
    network takes about a second; tqdm's import was 5% of it)."""

    def update(self, n: int) -> None:
        pass

    def set_postfix_str(self, s: str, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


class Bar:
    def __init__(self, enabled: bool | None = None, desc: str = "") -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        if not enabled:
            self._bar: Any = _Off()
            self._done = 0
            return
        from tqdm import tqdm

        self._bar = tqdm(total=UNITS, desc=desc, file=sys.stderr,
                         leave=True, dynamic_ncols=True, mininterval=0.2,
                         bar_format="{l_bar}{bar}| {elapsed}<{remaining}{postfix}")
        self._done = 0

    def update(self, fraction: float, **postfix: Any) -> None:
        target = max(self._done, min(UNITS, int(round(fraction * UNITS))))
        if postfix:
            self._bar.set_postfix_str("  ".join(f"{v}" for v in postfix.values() if v),
                                      refresh=False)
        self._bar.update(target - self._done)
        self._done = target

    def progress(self, event: Any) -> None:
        """A `contract.Progress` event."""
        parts = {"stage": event.stage}
        if event.total_iterations:
            parts["it"] = f"it {event.iteration}/{event.total_iterations}"
        if event.loss is not None:
            parts["loss"] = f"loss {event.loss:.4g}"
        self.update(event.fraction, **parts)

    __call__ = progress

    def close(self) -> None:
        self._bar.close()
