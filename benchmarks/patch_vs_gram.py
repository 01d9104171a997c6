#!/usr/bin/env python3
"""Patch style vs the Gram default: quality (nst_score), wall time and memory, in the same run.

For each photo x painting pair both modes run with their defaults at --size, one after the other
(so a busy CPU slows both alike), and nst_score.py scores the outputs at the same size. Printed:
one line per pair and run, then per painting and overall means and the patch/Gram ratios the issue
asks for (patch score <= 0.75x Gram's, content <= 1.2x, wall time <= 1.5x). Finally the peak RSS
of one --memory-size patch run of the CLI in a child process (the kernel's ru_maxrss, and psutil's
sampled peak as a cross-check).

Usage: python benchmarks/patch_vs_gram.py [--photos N | --photo NAME ...] [--paintings a b ...]
       [--size 512] [--memory-size 1024 | --no-memory | --memory-only] [--keep DIR] [--json FILE]
       python benchmarks/patch_vs_gram.py --merge a.json b.json   # means over several runs
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yardstick  # noqa: E402  (benchmarks/, the script's own folder)
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("NST_SHARED", ROOT.parent / "shared"))
PAINTINGS = ["starry_night_vangogh", "great_wave_hokusai", "udnie_picabia",
             "woman_with_hat_matisse"]

from engine.contract import GatysParams, StyleLoss  # noqa: E402
from engine.gatys import stylize  # noqa: E402


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0


def _run(photo: Path, painting: Path, params: GatysParams, out: Path) -> dict:
    t0 = time.perf_counter()
    result = stylize(_load(photo), [_load(painting)], params)
    seconds = time.perf_counter() - t0
    Image.fromarray((result.rgb * 255).round().astype(np.uint8)).save(out)
    matches = result.info.get("patch_matches", 0)
    return {"seconds": round(seconds, 1), "iterations": result.info["iterations"],
            "matches": matches,
            "s_per_match": round(result.info["patch_match_seconds"] / matches, 3)
            if matches else None}


def _memory(size: int, photo: Path, painting: Path) -> dict:
    import psutil

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "engine", "stylize", str(photo), "-s", str(painting),
               "-o", str(Path(tmp) / "out.png"), "--size", str(size), "--style-loss", "patch",
               "--json", "-q"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        child, sampled = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            try:
                sampled = max(sampled, child.memory_info().rss)
            except psutil.Error:
                pass
            time.sleep(0.2)
        stdout, stderr = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"memory run failed: {stderr}")
    info = json.loads(stdout)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    return {"size": size, "width": info["width"], "height": info["height"],
            "seconds": round(time.perf_counter() - t0, 1), "peak_rss_gb": round(peak / 1e9, 3),
            "psutil_sampled_peak_gb": round(sampled / 1e9, 3)}


def _mean(rows: list[dict], mode: str, key: str) -> float:
    return statistics.fmean(r[mode][key] for r in rows)


def _summary(label: str, rows: list[dict]) -> dict:
    s = {"label": label, "pairs": len(rows)}
    for key in ("content", "style", "patch", "seconds"):
        s[f"gram_{key}"] = round(_mean(rows, "gram", key), 3)
        s[f"patch_{key}"] = round(_mean(rows, "patch", key), 3)
        s[f"ratio_{key}"] = round(s[f"patch_{key}"] / max(s[f"gram_{key}"], 1e-12), 3)
    return s


def _print_summaries(result: dict, rows: list[dict], paintings: list[Path]) -> None:
    done = [p for p in paintings if any(r["painting"] == p.stem for r in rows)]
    summaries = [_summary(p.stem, [r for r in rows if r["painting"] == p.stem]) for p in done]
    summaries.append(_summary("all", rows))
    result["summaries"] = summaries
    result["load_average"] = os.getloadavg()
    print("\nmeans, Gram->patch (ratio)    content                patch                  "
          "seconds")
    for s in summaries:
        print(f"{s['label']:22s} {s['pairs']:2d} pairs  "
              + "  ".join(f"{s['gram_' + k]:6.3f}->{s['patch_' + k]:6.3f} ({s['ratio_' + k]:.2f}x)"
                          for k in ("content", "patch", "seconds")), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=13, help="the first N shared photos (sorted)")
    ap.add_argument("--photo", nargs="*", default=None, help="photo names instead (no .jpg)")
    ap.add_argument("--paintings", nargs="*", default=PAINTINGS)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--memory-size", type=int, default=1024)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--memory-only", action="store_true")
    ap.add_argument("--memory-photo", default="astronaut_portrait",
                    help="square photo (the worst case for a given longest side)")
    ap.add_argument("--keep", help="keep the output PNGs in this folder")
    ap.add_argument("--json", help="also write every figure to this JSON file")
    ap.add_argument("--resume", action="store_true",
                    help="keep the pairs already in --json and run only the others")
    ap.add_argument("--pause-file", type=Path,
                    help="while this file exists, wait before starting the next run (lets other "
                         "benchmarks have the machine without a run straddling the pause)")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="only print the means over the pairs of earlier runs' --json files")
    a = ap.parse_args()
    if a.merge:
        rows = [r for f in a.merge for r in json.loads(Path(f).read_text())["pairs"]]
        names = list(dict.fromkeys(r["painting"] for r in rows))
        _print_summaries({}, rows, [Path(n) for n in names])
        print("pairs: " + ", ".join(f"{r['photo']} x {r['painting']}" for r in rows))
        return 0

    photos = sorted((SHARED / "images/content").glob("*.jpg"))
    photos = [p for p in photos if p.stem in a.photo] if a.photo else photos[:a.photos]
    paintings = [SHARED / "images/style" / f"{name}.jpg" for name in a.paintings]
    score = yardstick.score
    modes = {"gram": GatysParams(size=a.size),
             "patch": GatysParams(size=a.size, style_loss=StyleLoss.PATCH)}
    rows: list[dict] = []
    if a.resume and a.json and Path(a.json).exists():
        rows = json.loads(Path(a.json).read_text())["pairs"]
    done = {(r["photo"], r["painting"]) for r in rows}
    result: dict = {"size": a.size, "pairs": rows, "cpu_count": os.cpu_count()}
    if a.memory_only:
        photos = []
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(a.keep or tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        # Photo by photo across all paintings: a run cut short still covers every painting.
        for photo in photos:
            for painting in paintings:
                if (photo.stem, painting.stem) in done:
                    continue
                row = {"photo": photo.stem, "painting": painting.stem}
                for mode, params in modes.items():
                    while a.pause_file and a.pause_file.exists():
                        time.sleep(2)
                    out = out_dir / f"{photo.stem}__{painting.stem}__{mode}.png"
                    run = _run(photo, painting, params, out)
                    run.update({k: round(v, 4) for k, v in
                                score(str(photo), str(painting), str(out), a.size).items()
                                if k in ("content", "style", "patch")})
                    row[mode] = run
                    print(f"{photo.stem:28s} {painting.stem:24s} {mode:5s} "
                          f"content={run['content']:.3f} style={run['style']:.3f} "
                          f"patch={run['patch']:.3f} {run['seconds']:6.1f}s "
                          f"{run['iterations']} it, {run['matches']} matches"
                          + (f" ({run['s_per_match']} s each)" if run["matches"] else ""),
                          flush=True)
                rows.append(row)
                if a.json:  # after every pair, so an interrupted run keeps its figures
                    Path(a.json).write_text(json.dumps(result, indent=1))
            _print_summaries(result, rows, paintings)
    if a.json and rows:
        Path(a.json).write_text(json.dumps(result, indent=1))
    if not a.no_memory:
        result["memory"] = _memory(a.memory_size,
                                   SHARED / "images/content" / f"{a.memory_photo}.jpg",
                                   paintings[0])
        print(f"\npeak RSS of one {a.memory_size} px patch run: "
              f"{result['memory']['peak_rss_gb']} GB (psutil sampled "
              f"{result['memory']['psutil_sampled_peak_gb']} GB), "
              f"{result['memory']['seconds']} s")
    print(f"load average at the end: {os.getloadavg()} on {os.cpu_count()} CPUs")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
