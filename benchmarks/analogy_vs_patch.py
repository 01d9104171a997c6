#!/usr/bin/env python3
"""Deep Image Analogy's A' against patch style and the Gram default at the same size, scored by
the shared nst_score.py (issue #12: A' keeps the photo's structure -- `content` -- and is made of
the reference's patches -- `patch` lower than patch style's at the same size).

Every picture is made by the project's CLI (`python -m engine analogy`; the same with
`--refine-iterations 0`, i.e. the paper's A' as voted, for "voted"; `python -m engine stylize
--style-loss patch|gram`) at --size, and scored at that size against the same photo and painting.
One line per pair and method, then the means.

Usage: python benchmarks/analogy_vs_patch.py [--size 448] [--pairs photo:painting ...]
       [--keep DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yardstick  # noqa: E402  (benchmarks/, the script's own folder)

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NST_SHARED", ROOT.parent / "shared"))
PAIRS = ["astronaut_portrait:self_portrait_straw_hat_vangogh",
         "landscape_lake_sherburne:landscape_duncanson",
         "architecture_colosseum:starry_night_vangogh",
         "raccoon_face:great_wave_hokusai",
         "animal_kitten:woman_with_hat_matisse",
         "street_beacon_street:udnie_picabia"]
METHODS = {
    "analogy": lambda photo, painting, out, size: [
        "analogy", photo, painting, "-o", out, "--size", str(size)],
    # The paper's A' as voted, without the stroke refinement (engine/analogy/refine.py).
    "voted": lambda photo, painting, out, size: [
        "analogy", photo, painting, "-o", out, "--size", str(size), "--refine-iterations", "0"],
    "patch": lambda photo, painting, out, size: [
        "stylize", photo, "-s", painting, "-o", out, "--size", str(size), "--style-loss",
        "patch"],
    "gram": lambda photo, painting, out, size: [
        "stylize", photo, "-s", painting, "-o", out, "--size", str(size)],
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=448)
    ap.add_argument("--pairs", nargs="+", default=PAIRS)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    score = yardstick.score
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = a.keep or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for pair in a.pairs:
            photo_name, painting_name = pair.split(":")
            photo = str(SHARED / "images/content" / f"{photo_name}.jpg")
            painting = str(SHARED / "images/style" / f"{painting_name}.jpg")
            for method in a.methods:
                out = out_dir / f"{photo_name}__{painting_name}__{method}.png"
                cmd = [sys.executable, "-m", "engine",
                       *METHODS[method](photo, painting, str(out), a.size), "-q"]
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
                seconds = time.perf_counter() - t0
                if proc.returncode:
                    raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr}")
                r = {k: round(v, 4) for k, v in score(photo, painting, str(out), a.size).items()
                     if k in ("content", "style", "patch")}
                r.update(pair=pair, method=method, seconds=round(seconds, 1))
                rows.append(r)
                print(f"{pair:55s} {method:8s} content={r['content']:.3f} "
                      f"style={r['style']:.3f} patch={r['patch']:.3f} {seconds:6.1f} s",
                      flush=True)
                if a.json:
                    a.json.write_text(json.dumps(rows, indent=1))
    print("\nmeans over", len(a.pairs), "pairs at", a.size, "px")
    for method in a.methods:
        sel = [r for r in rows if r["method"] == method]
        print(f"{method:8s} " + "  ".join(
            f"{k}={statistics.fmean(r[k] for r in sel):.3f}" for k in ("content", "style",
                                                                         "patch")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
