#!/usr/bin/env python3
"""High-resolution Gatys: what the light plan's iteration counts buy, against the full plan.

One pair at one size and quality, in this process: the light plan with each `HEAD:FINEST`
variant (engine.gatys.schedule.HEAD_FRACTION, the head's share of the full plan's iterations at
its scale, and FINEST_FRACTION, the light scale's share of the preset's count; set here for the
run), and `full` (`--fine-scales full`). Each result is scored by nst_score.py
(benchmarks/yardstick.py) at --score-size, and its ratio to the full plan's scores is printed.

Usage: python benchmarks/gatys_light_iterations.py [--size 2048] [--quality draft]
       [--variants 0.5:0.333,0.75:0.333,1.0:0.333,full] [--score-size 512] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
SHARED = ROOT.parent / "shared" / "images"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photo", type=Path, default=SHARED / "content/raccoon_face.jpg")
    ap.add_argument("--painting", type=Path, default=SHARED / "style/starry_night_vangogh.jpg")
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--quality", default="draft")
    ap.add_argument("--variants", default="0.5:0.333,0.75:0.333,1.0:0.333,full")
    ap.add_argument("--score-size", type=int, default=512)
    ap.add_argument("--keep", type=Path)
    a = ap.parse_args()

    import yardstick

    from engine import pipeline
    from engine.contract import FineScales, GatysParams, JobRequest, Method, Quality
    from engine.gatys import schedule
    from engine.images import load_picture, save_picture

    content, style = load_picture(a.photo), load_picture(a.painting)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = a.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for v in a.variants.split(","):
            full = v == "full"
            if not full:
                head, finest = (float(x) for x in v.split(":"))
                schedule.HEAD_FRACTION, schedule.FINEST_FRACTION = head, finest
            params = GatysParams(size=a.size, quality=Quality(a.quality),
                                 fine_scales=FineScales.FULL if full else FineScales.LIGHT)
            t0 = time.perf_counter()
            picture, info = pipeline.run(JobRequest(Method.GATYS, params), content, [style])
            seconds = time.perf_counter() - t0
            out = folder / f"{a.photo.stem}_{a.size}_{v.replace(':', '_')}.png"
            save_picture(picture, out)
            s = yardstick.score(str(a.photo), str(a.painting), str(out), a.score_size)
            rows[v] = {"variant": v, "seconds": round(seconds, 1), "scales": info.get("scales"),
                       **{k: round(s[k], 3) for k in ("content", "style", "patch")}}
            print(json.dumps(rows[v]), flush=True)
    if "full" in rows:
        f = rows["full"]
        for v, r in rows.items():
            print(f"{v:12s} time {r['seconds'] / f['seconds']:.2f}x  " + "  ".join(
                f"{k} {r[k] / max(f[k], 1e-9):.2f}x" for k in ("content", "style", "patch")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
