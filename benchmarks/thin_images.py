"""Server peak memory for thin images (1 x 500000 and 1 x 4,000,000 pixels), bounded, loopback only.

    python benchmarks/thin_images.py [--shapes 1x500000,1x4000000] [--timeout 300]

For each shape, a fresh `python -m engine serve --port 0` (temporary config folder, shipped
models) gets a fast job (model starry_night, automatic tiles) and a Gatys job for a PNG of that
shape, made with the plug-ins' own encoder. Prints, per shape: the PNG's size, what each job
answered (done, or the HTTP error), and the server's peak resident memory (VmHWM) after the fast
job, against the engine's idle peak. Linux only (/proc). Exit status 0 when every job was done or
refused with a 4xx, and no peak exceeded --max-gb.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "gimp_plugin"))
import nst_client  # noqa: E402  (the plug-ins' own client and PNG encoder)
import nst_png  # noqa: E402


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def start_engine(workdir: Path) -> tuple[subprocess.Popen, str, str]:
    env = {**os.environ, "NST_CONFIG_DIR": str(workdir / "cfg"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--host", "127.0.0.1",
                             "--port", "0", "--abandon-after-s", "600"], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if "listening on http://127.0.0.1:" not in line:
        proc.kill()
        raise SystemExit(f"the engine did not start: {line!r}")
    url = line.split("listening on ")[1].split()[0]
    return proc, url, (workdir / "cfg" / "token").read_text().strip()


def thin_png(width: int, height: int) -> bytes:
    row = bytes((x * 7) % 256 for x in range(3 * width))
    return nst_png.png_encode(width, height, row * height, 3)


def run_job(client, request: dict, png: bytes, styles=(), timeout: float = 300) -> str:
    try:
        job = client.submit(request, png, styles=styles)
    except nst_client.EngineError as exc:
        return f"HTTP {exc.http_status} {exc.code}: {exc.message}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.status(job)
        if status["state"] in ("done", "failed", "cancelled"):
            err = status.get("error") or {}
            return status["state"] + (f" ({err.get('code')}: {err.get('message')})" if err
                                      else f" in {status['info'].get('seconds', '?')} s")
        time.sleep(0.5)
    client.cancel(job)
    return f"not finished within {timeout:.0f} s (cancelled)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", default="1x500000,1x4000000", help="HxW,HxW,...")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per job (bounded)")
    ap.add_argument("--max-gb", type=float, default=2.0, help="peak RSS that counts as a failure")
    args = ap.parse_args(argv)
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    if any(h * w > 64_000_000 for h, w in shapes) or args.timeout > 1800:
        ap.error("bounded: shapes within the 64 MP limit, --timeout <= 1800")
    good = True
    style = thin_png(64, 64)
    for h, w in shapes:
        png = thin_png(w, h)
        with tempfile.TemporaryDirectory(prefix="nst-thin-") as tmp:
            proc, url, token = start_engine(Path(tmp))
            try:
                client = nst_client.Client(url, token, timeout=120)
                client.health()
                idle = peak_rss_mb(proc.pid)
                fast = run_job(client, {"method": "fast", "params": {"model": "starry_night"}},
                               png, timeout=args.timeout)
                peak = peak_rss_mb(proc.pid)
                gatys = run_job(client, {"method": "gatys", "params": {"quality": "draft"}}, png,
                                styles=[style], timeout=args.timeout)
            finally:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        print(f"{h}x{w} ({len(png) / 1024:.0f} KB PNG):")
        print(f"  fast  : {fast}")
        print(f"  peak RSS: {peak:.0f} MB after the fast job (engine idle: {idle:.0f} MB)")
        print(f"  gatys : {gatys}")
        ok = (fast.startswith("done") or fast.startswith("HTTP 4")) and \
            (gatys.startswith("done") or gatys.startswith("HTTP 4")) and peak < args.max_gb * 1024
        good &= ok
    print("PASS" if good else "FAIL")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
