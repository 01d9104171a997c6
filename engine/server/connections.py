"""How many connections the service holds open, and how long one may take to send its request.

uvicorn (h11) waits for ever for a request head that never completes, and accepts connections
until the process runs out of file descriptors; at that point nobody, the token holder included,
can connect, and asyncio logs a traceback for every failed accept. Any local program can do that
without the token (1,020 idle sockets under the common `ulimit -n 1024`). So:

- a connection must deliver a complete request head within `request_timeout_s` of opening (or of
  its previous response); otherwise it is closed. Data trickling in does not extend the deadline.
- at most `max_connections` are open (the descriptor limit minus those in use and a reserve);
  a new connection beyond that closes the one that has waited longest for a request head, so a
  fresh request (the plug-in's) is always accepted and served, and accept() never hits EMFILE.
  Connections whose request is being answered are never closed.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

# Descriptors kept free for everything that is not a client connection: the listening socket,
# log files, model files being read, the event loop's own, libraries' threads.
FD_RESERVE = 64
FALLBACK_MAX_CONNECTIONS = 500  # where the limit cannot be read (Windows)
WARN_EVERY_S = 60.0


def _open_descriptors() -> int:
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(folder))
        except OSError:
            continue
    return 32


def max_connections() -> int:
    """Client connections this process can hold open and still accept one more of anything."""
    try:
        import resource
    except ImportError:
        return FALLBACK_MAX_CONNECTIONS
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 65536
    return max(8, soft - _open_descriptors() - FD_RESERVE)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head deadline and a cap on open connections.
    `max_open` and `head_timeout_s` are set on a subclass by `protocol_class`."""

    max_open = FALLBACK_MAX_CONNECTIONS
    head_timeout_s = 10.0
    _last_warning = 0.0
    # Open connections, the one that has waited longest for a request head first (per server:
    # `protocol_class` makes a subclass with its own). Finding whom to close is then O(1), not a
    # scan of every connection for every new one, which under a flood would cost the event loop
    # more than the requests it serves.
    _by_wait: collections.OrderedDict = collections.OrderedDict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._waiting_since = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()
        if len(self.connections) > self.max_open:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._by_wait.pop(self, None)
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()  # the next request head has the same deadline

    # ---------------------------------------------------------------------------- internals

    def _waiting_for_head(self) -> bool:
        """Nothing of ours is running for it: no request yet, or its last one is answered."""
        idle = self.cycle is None or self.cycle.response_complete
        return idle and self.conn.their_state in (h11.IDLE, h11.DONE, h11.SEND_BODY)

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._waiting_since = time.monotonic()
        self._by_wait[self] = None
        self._by_wait.move_to_end(self)
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE and (
                self.cycle is None or self.cycle.response_complete):
            self.transport.close()

    def _make_room(self) -> None:
        victim = self
        for p in self._by_wait:  # longest-waiting first: nearly always the very first one
            if p is not self and not p.transport.is_closing() and p._waiting_for_head():
                victim = p
                break
        self._by_wait.pop(victim, None)
        victim.transport.close()
        now = time.monotonic()
        if now - GuardedH11Protocol._last_warning > WARN_EVERY_S:
            GuardedH11Protocol._last_warning = now
            log.warning("%d connections open (the most this process holds); closing the ones "
                        "that have waited longest for a request (said once a minute)",
                        len(self.connections))


# asyncio accepts a whole backlog's worth of connections per wake-up, before any protocol (and so
# any eviction above) runs; a flood can therefore still hit the file limit inside one burst, and
# asyncio then stops accepting for ACCEPT_RETRY_DELAY (1 s), which a real client feels as a 1 s
# wait. The evictions free descriptors within milliseconds, so retry accepting that soon.
ACCEPT_RETRY_S = 0.05


def shorten_accept_retry() -> None:
    import asyncio.constants

    asyncio.constants.ACCEPT_RETRY_DELAY = ACCEPT_RETRY_S


def protocol_class(max_open: int, head_timeout_s: float) -> type[GuardedH11Protocol]:
    """A GuardedH11Protocol bound to these limits, for `uvicorn.Config(http=...)`."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,),
                {"max_open": max_open, "head_timeout_s": head_timeout_s,
                 "_by_wait": collections.OrderedDict()})
