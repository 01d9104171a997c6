"""The service's log: bounded in size and free of floods.

The plug-in starts the engine with stdout and stderr appended to one log file, which nothing
else ever trims. When stderr is a regular file, `CappedStreamHandler` keeps it under
`max_bytes`: once it is larger, its content moves to `<file>.1` (replacing the previous one) and
the file is truncated in place ("copy-truncate": the plug-in's open descriptor stays valid).
`Throttle` lets the same message through at most once a minute per logger (asyncio's accept
errors, a misbehaving client), adding how many were left out.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import sys
import time
from typing import IO

DEFAULT_MAX_BYTES = 1_000_000
THROTTLE_S = 60.0
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Throttle(logging.Filter):
    """One warning or error per (logger, message template) per `every_s` (the token holder's job
    lines, at info, all pass); the next one let through says how
    many were dropped, and repeats lose their traceback."""

    def __init__(self, every_s: float = THROTTLE_S, level_from: int = logging.WARNING,
                 clock=time.monotonic):
        super().__init__()
        self.every_s = every_s
        self.level_from = level_from
        self.clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level_from:
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        last, dropped = self._seen.get(key, (None, 0))
        if last is not None and now - last < self.every_s:
            self._seen[key] = (last, dropped + 1)
            return False
        if len(self._seen) > 1000:  # bounded, whatever the messages
            self._seen.clear()
        self._seen[key] = (now, 0)
        if dropped:
            record.msg = f"{record.msg} ({dropped} more like this in the last " \
                         f"{now - last:.0f} s left out)"
            record.exc_info = None
            record.exc_text = None
        return True


def _regular_file(stream: IO[str]) -> str | None:
    """The path behind `stream` when it is a regular file we can name (Linux, macOS)."""
    try:
        fd = stream.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        for link in (f"/proc/self/fd/{fd}", f"/dev/fd/{fd}"):
            if os.path.islink(link):
                return os.readlink(link)
    except (OSError, ValueError, AttributeError):
        return None
    return None


class CappedStreamHandler(logging.StreamHandler):
    """A StreamHandler whose stream, when it is a regular file, never grows past `max_bytes`."""

    def __init__(self, stream: IO[str], max_bytes: int = DEFAULT_MAX_BYTES):
        super().__init__(stream)
        self.max_bytes = max_bytes
        self.path = _regular_file(stream)

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        if self.path is not None:
            try:
                self._cap()
            except OSError:
                self.path = None  # not ours to manage after all (removed, read-only...)

    def _cap(self) -> None:
        fd = self.stream.fileno()
        if os.fstat(fd).st_size <= self.max_bytes:
            return
        self.flush()
        with open(self.path, "rb") as src, open(self.path + ".1", "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.ftruncate(fd, 0)
        # The plug-in opens the file for appending, so the next write lands at 0 anyway; a shell's
        # `>` does not: move the shared offset back too (no hole before the next line).
        os.lseek(fd, 0, os.SEEK_SET)


def configure(max_bytes: int = DEFAULT_MAX_BYTES, stream: IO[str] | None = None) -> None:
    """Route all logging (engine, uvicorn, asyncio) to stderr, size-capped and throttled."""
    handler = CappedStreamHandler(stream or sys.stderr, max_bytes)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(Throttle())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
