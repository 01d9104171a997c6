"""A connection flood without the token, against the engine service, bounded and on loopback only.

    python benchmarks/server_flood.py [--connections 1020] [--seconds 20] [--nofile 1024]

Starts `python -m engine serve --port 0` (temporary config folder) with its open-file limit set
to --nofile (as `ulimit -n 1024` would, via resource.setrlimit in the child), its output appended
to a log file as the plug-in does. Opens --connections idle connections that each send only part
of a request line, keeps them open for --seconds (reconnecting those the server closes, so the
flood never lets up), and meanwhile asks `GET /v1/health` with the token twice a second.

Prints: the health latency p50 / max (a request that gets no answer within 5 s counts as 5 s and
as failed), how many of the flood's connections the server closed, and the log bytes written.
Exit status 0 when every health request answered within 1 s and the log grew by < 1 MB.
"""

from __future__ import annotations

import argparse
import http.client
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEALTH_TIMEOUT_S = 5.0
PARTIAL = b"GET /v1/health HTTP/1.1\r\nHo"


def start_engine(workdir: Path, nofile: int, extra: list[str]) -> tuple[subprocess.Popen, int,
                                                                         str, Path]:
    log = workdir / "engine.log"
    env = {**os.environ, "NST_CONFIG_DIR": str(workdir / "cfg"), "PYTHONPATH": str(ROOT)}

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--host", "127.0.0.1",
                                 "--port", "0", *extra], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=limit)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "listening on http://127.0.0.1:" in text:
            port = int(text.split("listening on http://127.0.0.1:")[1].split()[0])
            return proc, port, (workdir / "cfg" / "token").read_text().strip(), log
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the engine did not start:\n" + log.read_text(errors="replace")[-2000:])


def health(port: int, token: str) -> tuple[float, bool]:
    t0 = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HEALTH_TIMEOUT_S)
        conn.request("GET", "/v1/health", headers={"Authorization": "Bearer " + token})
        ok = conn.getresponse().status == 200
        conn.close()
    except OSError:
        return HEALTH_TIMEOUT_S, False
    return time.monotonic() - t0, ok


def open_partial(port: int) -> socket.socket | None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(PARTIAL)
    except OSError:
        s.close()
        return None
    s.setblocking(False)
    return s


def closed_by_server(s: socket.socket) -> bool:
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def flood(port: int, token: str, connections: int, seconds: float) -> dict:
    socks: list[socket.socket | None] = [open_partial(port) for _ in range(connections)]
    opened = sum(s is not None for s in socks)
    latencies, failures, closed = [], 0, 0
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        took, ok = health(port, token)
        latencies.append(took)
        failures += not ok
        # Keep the pressure on: replace every connection the server has closed.
        for i, s in enumerate(socks):
            if s is None or closed_by_server(s):
                if s is not None:
                    s.close()
                    closed += 1
                socks[i] = open_partial(port)
        time.sleep(max(0.0, 0.5 - took))
    for s in socks:
        if s is not None:
            s.close()
    return {"opened": opened, "health": latencies, "failed": failures, "closed": closed}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connections", type=int, default=1020)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--nofile", type=int, default=1024, help="the engine's open-file limit")
    ap.add_argument("--engine-arg", action="append", default=[],
                    help="extra `engine serve` flag (repeatable), e.g. --engine-arg=--port")
    args = ap.parse_args(argv)
    if not 1 <= args.connections <= 5000 or not 0 < args.seconds <= 300:
        ap.error("bounded: 1..5000 connections, 0..300 s")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.connections + 64
    if soft < need:  # this process holds the flood's sockets
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    with tempfile.TemporaryDirectory(prefix="nst-flood-") as tmp:
        proc, port, token, log = start_engine(Path(tmp), args.nofile, args.engine_arg)
        try:
            before = [health(port, token)[0] for _ in range(3)]
            size0 = log.stat().st_size
            r = flood(port, token, args.connections, args.seconds)
            time.sleep(1.0)
            after, ok = health(port, token)
            grown = log.stat().st_size - size0
            rotated = Path(str(log) + ".1")
            grown += rotated.stat().st_size if rotated.exists() else 0
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    lat = r["health"]
    if os.environ.get("FLOOD_VERBOSE"):
        print("latencies ms:", [round(x * 1000) for x in lat])
    print(f"engine open-file limit {args.nofile}; flood of {args.connections} partial-request "
          f"connections ({r['opened']} connected at first) for {args.seconds:.0f} s")
    print(f"health before the flood: max {max(before) * 1000:.0f} ms")
    print(f"health during the flood: {len(lat)} requests, p50 {statistics.median(lat) * 1000:.0f}"
          f" ms, max {max(lat) * 1000:.0f} ms, failed {r['failed']}")
    print(f"flood connections closed by the engine: {r['closed']}")
    print(f"health after the flood: {after * 1000:.0f} ms ({'ok' if ok else 'FAILED'})")
    print(f"log bytes written during the flood: {grown}")
    good = max(lat) < 1.0 and r["failed"] == 0 and grown < 1_000_000 and ok
    print("PASS" if good else "FAIL")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
