#!/usr/bin/env python3
"""High-resolution Gatys: what the light scales' iteration count buys, against the full plan.

One pair at one size, in this process: the default plan (a 512 px plan, then light scales with
the preset's finest-scale iterations), the same with a fraction of those iterations
(engine.gatys.schedule.LIGHT_ITERATION_FRACTION, set here for the run), and `--fine-scales full`.
Each result is scored at its own size by nst_score's content and style terms (the patch term at
1 MP costs minutes per image on two cores), with benchmarks/arbitrary_quality.py's scorer.

Usage: python benchmarks/gatys_light_iterations.py [--size 1024] [--variants light1.0,light0.5,full]
       [--keep DIR]
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
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--variants", default="light1.0,light0.5,full")
    ap.add_argument("--keep", type=Path)
    a = ap.parse_args()

    from arbitrary_quality import scorer

    from engine import pipeline
    from engine.contract import FineScales, GatysParams, JobRequest, Method
    from engine.gatys import schedule
    from engine.images import load_picture, save_picture

    score = scorer(a.size, patch=False)
    content, style = load_picture(a.photo), load_picture(a.painting)
    with tempfile.TemporaryDirectory() as tmp:
        folder = a.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for v in a.variants.split(","):
            full = v == "full"
            schedule.LIGHT_ITERATION_FRACTION = 1.0 if full else float(v.removeprefix("light"))
            params = GatysParams(size=a.size,
                                 fine_scales=FineScales.FULL if full else FineScales.LIGHT)
            t0 = time.perf_counter()
            picture, info = pipeline.run(JobRequest(Method.GATYS, params), content, [style])
            seconds = time.perf_counter() - t0
            out = folder / f"{a.photo.stem}_{a.size}_{v}.png"
            save_picture(picture, out)
            s = score(str(a.photo), str(a.painting), str(out))
            print(json.dumps({"variant": v, "seconds": round(seconds, 1),
                              "scales": info.get("scales"), "content": round(s["content"], 3),
                              "style": round(s["style"], 3)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
