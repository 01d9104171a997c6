#!/usr/bin/env python3
"""Peak resident memory of a default Gatys run at 1024 px (the issue's limit: 3 GB). The default
content is square, the worst case for a given longest side.

Runs the project's CLI in a child process and reads the child's peak RSS from the kernel
(getrusage RUSAGE_CHILDREN, which covers the whole run including model loading).
Usage: python benchmarks/gatys_memory.py [--size 1024] [--content C] [--style S] [stylize flags]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NST_SHARED", ROOT.parent / "shared"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--content",
                    default=str(SHARED / "images/content/astronaut_portrait.jpg"))
    ap.add_argument("--style",
                    default=str(SHARED / "images/style/starry_night_vangogh.jpg"))
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--limit-gb", type=float, default=3.0)
    a, extra = ap.parse_known_args()  # anything else is passed on to `engine stylize`
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.png"
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "engine", "stylize", a.content, "-s", a.style,
                               "-o", str(out), "--size", str(a.size), "--json", "-q", *extra],
                              cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            return proc.returncode
        info = json.loads(proc.stdout)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    peak_gb = peak_kb * 1024 / 1e9
    verdict = "OK" if peak_gb <= a.limit_gb else "OVER"
    print(json.dumps({"size": a.size, "width": info["width"], "height": info["height"],
                      "iterations": info["iterations"], "seconds": round(seconds, 1),
                      "peak_rss_gb": round(peak_gb, 3), "limit_gb": a.limit_gb,
                      "verdict": verdict}))
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
