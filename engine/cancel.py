"""Cancellation tokens and progress callbacks: how a caller steers a running engine call."""

from __future__ import annotations

import threading
from collections.abc import Callable

from engine.contract import Progress
from engine.errors import Cancelled

ProgressFn = Callable[[Progress], None]


def no_progress(_event: Progress) -> None:
    return None


class CancelToken:
    """Set from any thread; the engine checks it at least once per iteration / tile."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()
