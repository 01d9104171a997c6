"""Issue #10 item 1: a connection flood without the token, against `python -m engine serve` on
loopback with the engine's open-file limit at 1024 (as `ulimit -n 1024`): the token holder is
still answered, the flood's unfinished requests are closed after the request timeout, and the
log stays small. Bounded: 1,020 connections, about 15 s."""

from __future__ import annotations

import resource
import statistics
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import server_flood as sf  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="rlimit, /proc")

FLOOD = 1020


@pytest.fixture()
def room_for_the_flood():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < FLOOD + 100:
        pytest.skip(f"this process may open only {hard} files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, FLOOD + 100), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_flood_of_idle_connections_neither_stalls_the_service_nor_fills_the_log(
        tmp_path, room_for_the_flood):
    proc, port, token, log = sf.start_engine(tmp_path, 1024, ["--request-timeout-s", "3"])
    socks = []
    try:
        size0 = log.stat().st_size
        socks = [sf.open_partial(port) for _ in range(FLOOD)]
        t_flood = time.monotonic()
        latencies = [sf.health(port, token) for _ in range(6)]
        assert all(ok for _, ok in latencies), latencies
        assert statistics.median(t for t, _ in latencies) < 1.0, latencies
        # Unfinished requests time out: every flood connection still open is closed by then.
        time.sleep(max(0.0, t_flood + 3 + 2 - time.monotonic()))
        still = [s for s in socks if s is not None and not sf.closed_by_server(s)]
        assert not still, f"{len(still)} partial requests still open after the timeout"
        took, ok = sf.health(port, token)
        assert ok and took < 1.0
        assert log.stat().st_size - size0 < 100_000, log.read_text(errors="replace")[-2000:]
    finally:
        for s in socks:
            if s is not None:
                s.close()
        proc.terminate()
        proc.wait(15)
