"""Load the engine service from several threads for a bounded time and report what happened.

    python benchmarks/server_load.py [--threads 6] [--seconds 20] [--max-requests 2000]

By default it starts its own engine (`python -m engine serve --port 0`, a temporary config folder
and a tiny untrained fast model, so jobs are cheap) and stops it afterwards; `--url URL
--token-file F --pid PID` loads an engine that is already running instead (loopback only: this
tool refuses other hosts). Requests go through the plug-ins' stdlib client (gimp_plugin/
nst_client.py), mixing status polls, fast-job submits, cancels and bad inputs (corrupt PNG,
unknown model, out-of-range parameter, wrong token, a header claiming 100000x100000).

Prints: requests by kind, errors by kind and code, p50/p95/max latency of status calls, the
server's RSS after a warm-up job and after each load round (and once its queue drained), and
jobs lost: accepted jobs that vanished (404) or never reached a final state. That must be 0.
Exit status 0 only when nothing was lost, no error was unexpected and >= 200 requests were made.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "gimp_plugin"))
import nst_client  # noqa: E402  (the plug-ins' own client, imported as they import it)
import nst_png  # noqa: E402

FAST_MODEL = "loadtest"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                                0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _content_png(w: int = 64, h: int = 48) -> bytes:
    rgb = bytearray()
    for y in range(h):
        for x in range(w):
            rgb += bytes((x * 4 % 256, y * 5 % 256, (x * y) % 256))
    return nst_png.png_encode(w, h, bytes(rgb), 3)


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.status_latency: list[float] = []
        self.submitted: list[str] = []
        # DELETE on a finished job drops it (API v1), so later 404s for these are expected.
        self.deleted: set[str] = set()
        self.final: dict[str, str] = {}

    def count(self, kind: str, seconds: float, error: str | None = None) -> None:
        with self.lock:
            self.requests[kind] += 1
            if kind == "status":
                self.status_latency.append(seconds)
            if error:
                self.errors[f"{kind}:{error}"] += 1

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.requests.values())


def _worker(seed: int, url: str, token: str, stats: Stats, stop_at: float, max_requests: int,
            content: bytes) -> None:
    rng = random.Random(seed)
    client = nst_client.Client(url, token, timeout=30)
    wrong = nst_client.Client(url, "not-the-token", timeout=30)
    bad_inputs = [
        ("bad:corrupt_png", lambda: client.submit({"method": "fast",
                                                   "params": {"model": FAST_MODEL}},
                                                  content[:50] + b"junk" * 10)),
        ("bad:unknown_model", lambda: client.submit({"method": "fast",
                                                     "params": {"model": "nope"}}, content)),
        ("bad:out_of_range", lambda: client.submit({"method": "fast", "params": {
            "model": FAST_MODEL, "strength": 5}}, content)),
        ("bad:huge_header", lambda: client.submit({"method": "fast",
                                                   "params": {"model": FAST_MODEL}},
                                                  _png_header_only(100000, 100000))),
        ("bad:wrong_token", wrong.health),
    ]
    while time.monotonic() < stop_at and stats.total < max_requests:
        roll = rng.random()
        with stats.lock:
            known = [j for j in stats.submitted if j not in stats.deleted]
        job = rng.choice(known) if known else None
        t0 = time.perf_counter()
        try:
            if roll < 0.6 and job:
                kind = "status"
                client.status(job)
            elif roll < 0.8:
                kind = "submit"
                job = client.submit({"method": "fast", "params": {"model": FAST_MODEL},
                                     "keep_alive": True}, content)
                with stats.lock:
                    stats.submitted.append(job)
            elif roll < 0.85 and job:
                kind = "cancel"
                with stats.lock:
                    stats.deleted.add(job)  # before the call: other threads may poll it meanwhile
                client.cancel(job)
            else:
                kind, call = rng.choice(bad_inputs)
                call()
                stats.count(kind, time.perf_counter() - t0, "ACCEPTED(bug)")
                continue
            stats.count(kind, time.perf_counter() - t0)
        except nst_client.EngineError as exc:
            with stats.lock:
                deleted = job in stats.deleted
            gone = exc.http_status == 404 and kind in ("status", "cancel") and deleted
            expected = kind.startswith("bad:") or exc.code == "queue_full" or gone
            stats.count(kind, time.perf_counter() - t0,
                        f"{exc.http_status}/{exc.code}" + (" (deleted earlier)" if gone else "")
                        + ("" if expected else " UNEXPECTED"))


def _drain(url: str, token: str, stats: Stats, timeout: float) -> None:
    """Wait until every accepted job is final and record its state; then delete them all, as a
    client does once it has its result, so RSS is compared without retained results."""
    client = nst_client.Client(url, token, timeout=30)
    deadline = time.monotonic() + timeout
    pending = [j for j in stats.submitted if j not in stats.final]
    while pending and time.monotonic() < deadline:
        for job in pending:
            try:
                state = client.status(job)["state"]
            except nst_client.EngineError as exc:
                if exc.http_status == 404:
                    state = "deleted by the load" if job in stats.deleted else "LOST(404)"
                else:
                    state = f"error:{exc.code}"
            if state not in ("queued", "running"):
                stats.final[job] = state
        pending = [j for j in pending if j not in stats.final]
        time.sleep(0.2)
    for job in pending:
        stats.final[job] = "LOST(never finished)"
    for job, state in stats.final.items():
        if job not in stats.deleted and not state.startswith("LOST"):
            stats.deleted.add(job)
            try:
                client.cancel(job)
            except nst_client.EngineError:
                pass


def _rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 1e6


def _start_engine(workdir: Path) -> tuple[subprocess.Popen, str, str]:
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT))
    from fast_fixtures import write_tiny_model

    models = workdir / "models"
    models.mkdir()
    write_tiny_model(models, model_id=FAST_MODEL)
    env = {**os.environ, "NST_CONFIG_DIR": str(workdir / "cfg"), "NST_MODEL_PATH": str(models),
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--port", "0",
                             "--max-queued-jobs", "64"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise SystemExit(f"the engine did not start: {line!r}")
    url = line.split("listening on ")[1].split()[0]
    token = (workdir / "cfg" / "token").read_text().strip()
    return proc, url, token


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=20.0, help="load duration (bounded)")
    ap.add_argument("--max-requests", type=int, default=1000,
                    help="stop a round after this many requests")
    ap.add_argument("--rounds", type=int, default=3, help="load rounds (RSS after each)")
    ap.add_argument("--url", help="load a running engine instead of starting one")
    ap.add_argument("--token-file")
    ap.add_argument("--pid", type=int, help="the running engine's process id (for RSS)")
    ap.add_argument("--json", action="store_true", help="also print the summary as JSON")
    args = ap.parse_args(argv)
    args.seconds = min(args.seconds, 300.0)
    args.threads = max(1, min(args.threads, 32))
    args.rounds = max(1, min(args.rounds, 10))

    proc = None
    tmp = tempfile.TemporaryDirectory(prefix="nst-load-")
    try:
        if args.url:
            if urlparse(args.url).hostname not in LOOPBACK:
                raise SystemExit("refusing to load a non-loopback engine")
            if not (args.token_file and args.pid):
                raise SystemExit("--url needs --token-file and --pid")
            url, pid = args.url, args.pid
            token = Path(args.token_file).read_text().strip()
            if FAST_MODEL not in {m["id"] for m in nst_client.Client(url, token).models()}:
                raise SystemExit(f"that engine needs a fast model with id {FAST_MODEL!r}")
        else:
            proc, url, token = _start_engine(Path(tmp.name))
            pid = proc.pid
        client = nst_client.Client(url, token)
        content = _content_png()
        warm = client.submit({"method": "fast", "params": {"model": FAST_MODEL}}, content)
        client.wait(warm, poll=0.05)  # libraries and the model session loaded before measuring
        rss_before = round(_rss_mb(pid), 1)

        stats = Stats()
        rss_rounds = []
        t0 = time.monotonic()
        # Several rounds: memory that grows per request shows as a rise from round to round,
        # while one-time growth (caches, allocator pools) only shows in the first.
        for _round in range(args.rounds):
            stop_at = time.monotonic() + args.seconds
            budget = stats.total + args.max_requests
            threads = [threading.Thread(target=_worker, args=(
                i + 100 * _round, url, token, stats, stop_at, budget, content))
                for i in range(args.threads)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            rss_after_load = _rss_mb(pid)
            _drain(url, token, stats, timeout=120)
            rss_rounds.append((round(rss_after_load, 1), round(_rss_mb(pid), 1)))
        elapsed = time.monotonic() - t0
        health = client.health()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(15)
        tmp.cleanup()

    states = dict(collections.Counter(stats.final.values()))
    lat = sorted(stats.status_latency)
    lost = sum(v for k, v in states.items() if k.startswith("LOST"))
    summary = {
        "threads": args.threads, "seconds": round(elapsed, 1),
        "requests": stats.total, "requests_by_kind": dict(stats.requests),
        "errors_by_kind": dict(sorted(stats.errors.items())),
        "unexpected_errors": sum(v for k, v in stats.errors.items() if "UNEXPECTED" in k
                                 or "ACCEPTED" in k),
        "status_latency_ms": {
            "n": len(lat),
            "p50": round(statistics.median(lat) * 1000, 2) if lat else None,
            "p95": round(lat[int(0.95 * (len(lat) - 1))] * 1000, 2) if lat else None,
            "max": round(lat[-1] * 1000, 2) if lat else None},
        "rss_mb": {"before": round(rss_before, 1),
                   "rounds_after_load_and_drain": rss_rounds},
        "jobs": {"accepted": len(stats.submitted), "final_states": states, "lost": lost},
        "health_after": {"api": health["api"], "queue": health["queue"]},
    }
    print(f"requests        {summary['requests']} in {summary['seconds']} s from "
          f"{args.threads} threads: {summary['requests_by_kind']}")
    print("errors by kind  " + (", ".join(f"{k} x{v}" for k, v in
                                          summary["errors_by_kind"].items()) or "none"))
    print(f"unexpected      {summary['unexpected_errors']}")
    s = summary["status_latency_ms"]
    print(f"status latency  p50 {s['p50']} ms, p95 {s['p95']} ms, max {s['max']} ms "
          f"(n={s['n']})")
    rounds = "; ".join(f"round {i + 1}: {a} MB after load, {d} MB drained"
                       for i, (a, d) in enumerate(rss_rounds))
    print(f"server RSS      {rss_before} MB after warm-up; {rounds} "
          f"({rss_rounds[-1][1] - rss_before:+.1f} MB overall, "
          f"{rss_rounds[-1][1] - rss_rounds[0][1]:+.1f} MB after round 1)")
    print(f"jobs            {summary['jobs']['accepted']} accepted, final states "
          f"{summary['jobs']['final_states']}, lost {lost}")
    print(f"health after    {summary['health_after']}")
    if args.json:
        print(json.dumps(summary))
    ok = lost == 0 and summary["unexpected_errors"] == 0 and stats.total >= 200
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
