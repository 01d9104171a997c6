#!/usr/bin/env python3
"""High-resolution Gatys: light large scales (the default) against the full-cost plan, same run.

For each pair, each size and each `--fine-scales` choice, the project's CLI runs in a child
process (wall time of the whole command and that child's own peak RSS, from wait4); then
nst_score.py scores every output against the pair at --score-size, and the light/full ratios are
printed (the issue: a 2048 px draft in <= 120 s and <= 4 GB, a 1024 px default in <= 60 s, the
2048 px result's scores within 10 % of the full-cost run's).

Usage: python benchmarks/gatys_highres.py [--pairs photo:painting ...] [--runs 2048:draft
       1024:normal] [--modes light full] [--score-size 512] [--keep DIR] [--json FILE]
       [--full-from FILE]

--full-from takes the full-cost rows from an earlier run's --json instead of running them again
(a full 2048 px draft takes 7-8 minutes per pair here; the plan and seed are fixed, so its
picture and scores do not change, only the machine's load does).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yardstick  # noqa: E402  (benchmarks/, the script's own folder)

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NST_SHARED", ROOT.parent / "shared"))
PAIRS = ["raccoon_face:starry_night_vangogh", "landscape_lake_sherburne:great_wave_hokusai"]


def run_cli_rss(photo: Path, painting: Path, out: Path, size: int, quality: str,
                mode: str) -> dict:
    cmd = [sys.executable, "-m", "engine", "stylize", str(photo), "-s", str(painting), "-o",
           str(out), "--size", str(size), "--quality", quality, "--fine-scales", mode,
           "--upscale", "smooth", "--json", "-q"]
    with tempfile.TemporaryFile("w+") as so, tempfile.TemporaryFile("w+") as se:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=so, stderr=se, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        so.seek(0)
        se.seek(0)
        if proc.returncode:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{se.read()}")
        info = json.loads(so.read())
    return {"seconds": round(seconds, 1), "peak_rss_gb": round(usage.ru_maxrss * 1024 / 1e9, 3),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
            "iterations": info["iterations"], "scales": info["scales"],
            "width": info["width"], "height": info["height"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", nargs="+", default=PAIRS, help="photo:painting (names, no .jpg)")
    ap.add_argument("--runs", nargs="+", default=["2048:draft", "1024:normal"],
                    help="size:quality")
    ap.add_argument("--modes", nargs="+", default=["light", "full"])
    ap.add_argument("--score-size", type=int, default=512)
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--full-from", type=Path)
    a = ap.parse_args()
    score = yardstick.score
    rows = []
    if a.full_from:
        rows += [dict(r, reused=str(a.full_from)) for r in json.loads(a.full_from.read_text())
                 if r["mode"] == "full"]
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = a.keep or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for pair in a.pairs:
            photo_name, painting_name = pair.split(":")
            photo = SHARED / "images/content" / f"{photo_name}.jpg"
            painting = SHARED / "images/style" / f"{painting_name}.jpg"
            for run in a.runs:
                size, quality = run.split(":")
                for mode in a.modes:
                    if mode == "full" and any(r["mode"] == "full" and r["pair"] == pair
                                              and r["size"] == int(size)
                                              and r["quality"] == quality for r in rows):
                        continue  # reused (--full-from)
                    out = out_dir / f"{photo_name}__{painting_name}__{size}_{quality}_{mode}.png"
                    r = run_cli_rss(photo, painting, out, int(size), quality, mode)
                    r.update({k: round(v, 4) for k, v in
                              score(str(photo), str(painting), str(out), a.score_size).items()
                              if k in ("content", "style", "patch")})
                    r.update(pair=pair, size=int(size), quality=quality, mode=mode,
                             load=os.getloadavg()[0])
                    rows.append(r)
                    print(f"{pair:45s} {size:>5s} {quality:6s} {mode:5s} {r['seconds']:7.1f} s "
                          f"(cpu {r['cpu_seconds']:.0f} s) peak {r['peak_rss_gb']:.2f} GB  "
                          f"content={r['content']:.3f} style={r['style']:.3f} "
                          f"patch={r['patch']:.3f}  load {r['load']:.1f}", flush=True)
                    if a.json:
                        a.json.write_text(json.dumps(rows, indent=1))
    print("\nlight / full, same pair and size:")
    for r in rows:
        if r["mode"] != "light":
            continue
        full = next((f for f in rows if f["mode"] == "full" and f["pair"] == r["pair"]
                     and f["size"] == r["size"] and f["quality"] == r["quality"]), None)
        if full:
            print(f"{r['pair']:45s} {r['size']:5d} {r['quality']:6s} time "
                  f"{r['seconds'] / full['seconds']:.2f}x  memory "
                  f"{r['peak_rss_gb'] / full['peak_rss_gb']:.2f}x  "
                  + "  ".join(f"{k} {r[k] / max(full[k], 1e-9):.2f}x"
                              for k in ("content", "style", "patch")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
