"""What a larger per-painting network costs: the engine's time per megapixel for light-layout
networks of several widths and depths (issue #14's trade-off table), in one run.

    python benchmarks/fast_network_sizes.py [--sizes 8x3,12x3,16x3,8x5] [--megapixels 1,4]

Speed does not depend on the weights, so each size is exported untrained (export.onnx_export,
the same graph rewrites as a trained model) into a temporary folder and run through
`engine.fast.stylize` (sessions, tiling, lattice removal: everything but decoding and saving) on
the shared photo brought to each size; best of --repeat runs after a warm-up. Printed with the
ratio to the first size (the shipped 8x3).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHOTO = ROOT.parent / "shared" / "images" / "content" / "architecture_casa_mila.jpg"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="8x3,12x3,16x3,8x5", help="WIDTHxDEPTH, comma-separated")
    ap.add_argument("--megapixels", default="1,4")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="fast_sizes_"))
    os.environ["NST_MODEL_PATH"] = str(folder)
    os.environ["NST_GRAPH_CACHE"] = "0"  # many short-lived models: nothing to keep

    from engine import fast
    from engine.contract import FastParams
    from engine.images import load_picture, resize_rgb
    from export.onnx_export import export_network, untrained

    photo = load_picture(PHOTO).rgb
    thumb = resize_rgb(photo, (64, 48))
    pictures = {}
    for mp in (float(m) for m in args.megapixels.split(",")):
        s = math.sqrt(mp * 1e6 / (photo.shape[0] * photo.shape[1]))
        pictures[mp] = resize_rgb(photo, (round(photo.shape[1] * s), round(photo.shape[0] * s)))
    rows = []
    for spec in args.sizes.split(","):
        width, depth = (int(v) for v in spec.split("x"))
        mid = f"w{width}d{depth}"
        net = untrained(width=width, depth=depth, seed=0)
        params = sum(p.numel() for p in net.parameters())
        export_network(net, folder, model_id=mid, name=mid, thumbnail_rgb=thumb,
                       training={"steps": 0, "note": "speed only"}, parity_sizes=((64, 64),))
        row = {"network": spec, "parameters": params}
        for mp, rgb in pictures.items():
            fast.stylize(rgb, FastParams(model=mid))  # warm-up: session, arena
            best = math.inf
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                fast.stylize(rgb, FastParams(model=mid))
                best = min(best, time.perf_counter() - t0)
            real = rgb.shape[0] * rgb.shape[1] / 1e6
            row[f"s_per_mp_{mp:g}mp"] = round(best / real, 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = rows[0]
    for r in rows:
        r["vs_first"] = {k: round(r[k] / base[k], 2) for k in r if k.startswith("s_per_mp")}
    print(json.dumps({"rows": rows, "cpu": os.cpu_count(),
                      "note": "engine time (no decode/save) per output megapixel, best of "
                              f"{args.repeat}"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
