#!/usr/bin/env python3
"""Speed and peak memory of Deep Image Analogy (issue #12's targets at 448 px longest side: one
direction <= 120 s, both directions <= 180 s, peak RSS <= 4 GB; and the figures at 768 px).

Each configuration runs the project's CLI (`python -m engine analogy`) in a child process; the
parent samples the child's resident memory with psutil every 50 ms, times the whole run
(interpreter start and VGG19 loading included) and reads the child's CPU seconds (user + system)
from the kernel: on a machine shared with other work the wall time mostly measures the others,
the CPU time much less. The CLI's JSON also gives the engine's own time and per-stage times.
With --quality, A' of the two-way 448 px runs is scored with the shared nst_score.py (content:
lower keeps more of the photo; patch: lower is made more of the reference's patches).

Runs: --pair at 448 px one way and both ways, at every other size one way; with --quality the
other pair both ways at 448 px too.
Usage: python benchmarks/analogy_speed.py [--sizes 448,768] [--quality] [--out DIR]
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

import psutil

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NST_SHARED", ROOT.parent / "shared"))
PAIRS = {
    "portrait": ("images/content/astronaut_portrait.jpg",
                 "images/style/self_portrait_straw_hat_vangogh.jpg"),
    "landscape": ("images/content/landscape_lake_sherburne.jpg",
                  "images/style/landscape_duncanson.jpg"),
}
TARGETS = {(448, False): 120.0, (448, True): 180.0}
RSS_LIMIT_GB = 4.0


def _run(photo: Path, reference: Path, out: Path, size: int, both: bool) -> dict:
    cmd = [sys.executable, "-m", "engine", "analogy", str(photo), str(reference), "-o", str(out),
           "--size", str(size), "--json", "-q"]
    if both:
        cmd += ["--reverse-output", str(out.with_name(out.stem + "_B.png"))]
    else:
        cmd += ["--no-bidirectional"]
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, ps.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"analogy failed ({proc.returncode}): {stderr.strip()}")
    info = json.loads(stdout)
    return {"size": size, "directions": 2 if both else 1, "wall_s": round(wall, 1),
            "engine_s": info["seconds"], "cpu_s": round(cpu, 1),
            "load_before": round(load, 1), "load_after": round(os.getloadavg()[0], 1),
            "peak_rss_gb": round(peak / 1e9, 2),
            "work_size": info["work_size"], "stages": info["stages"]}


def _score(photo: Path, reference: Path, output: Path) -> dict:
    tool = SHARED / "tools" / "nst_score.py"
    proc = subprocess.run([sys.executable, str(tool), str(photo), str(reference), str(output),
                           "--json"], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="448,768")
    ap.add_argument("--pair", default="portrait", choices=sorted(PAIRS))
    ap.add_argument("--quality", action="store_true",
                    help="score A' of the two-way 448 px runs, and run the other pair too")
    ap.add_argument("--out", help="keep the pictures here (default: a temporary folder)")
    a = ap.parse_args()
    keep = Path(a.out) if a.out else None
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = keep or Path(tmp)
        photo, reference = (SHARED / p for p in PAIRS[a.pair])
        runs = [(a.pair, size, both) for size in (int(s) for s in a.sizes.split(","))
                for both in ((False, True) if size == 448 else (False,))]
        if a.quality:
            runs += [(name, 448, True) for name in PAIRS if name != a.pair]
        for pair, size, both in runs:
            photo, reference = (SHARED / p for p in PAIRS[pair])
            out = folder / f"{pair}_{size}_{'AB' if both else 'A'}.png"
            r = _run(photo, reference, out, size, both)
            target = TARGETS.get((size, both))
            r["pair"] = pair
            r["verdict"] = ("OK" if (target is None or r["wall_s"] <= target)
                            and r["peak_rss_gb"] <= RSS_LIMIT_GB else "OVER")
            if a.quality and size == 448 and both:
                r["scores"] = _score(photo, reference, out)
            print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
