"""onnxruntime's working memory per megapixel of tile, for the numbers behind the automatic tile
size (`engine.fast.TILE_MEMORY_MB`, `memory_per_megapixel`).

    python benchmarks/fast_memory.py [--models starry_night,...] [--sides 512,1024,2048]

Each (model, tile side) runs in a fresh process: the session is created, then two runs on a
random tile; the peak RSS above the level after session creation is the tile's working memory
(input and output included). Prints MB per megapixel beside the engine's estimate for the model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import fast  # noqa: E402

PROBE = r"""
import json, resource, sys
import numpy as np, onnxruntime as ort
path, side = sys.argv[1], int(sys.argv[2])
opts = ort.SessionOptions()
opts.enable_mem_pattern = False  # as engine/fast/session.py
sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
def rss_mb():  # current resident set, from /proc (Linux)
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20
base = rss_mb()
x = np.random.default_rng(0).random((1, 3, side, side), dtype=np.float32)
for _ in range(2):
    sess.run(None, {sess.get_inputs()[0].name: x})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_over_base_mb": peak - base}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="", help="model ids, comma-separated (default: all ours)")
    ap.add_argument("--sides", default="1024,1536,2048,2304,2816",
                    help="square tile sides in pixels")
    args = ap.parse_args()
    models = [m for m in fast.list_models() if not m.inferred and m.meta.fixed_size is None]
    if args.models:
        models = [m for m in models if m.id in args.models.split(",")]
    print(f"{'model':<16} {'layout':<8} {'side':>5} {'MB':>7} {'MB/MP':>7} {'estimate':>8}")
    rows = []
    for m in models:
        arch = m.meta.extra.get("architecture", {})
        estimate = fast.memory_per_megapixel(m.meta)
        for side in (int(s) for s in args.sides.split(",")):
            out = subprocess.run([sys.executable, "-c", PROBE, str(m.path), str(side)],
                                 capture_output=True, text=True, check=True).stdout
            mb = json.loads(out.strip().splitlines()[-1])["peak_over_base_mb"]
            per_mp = mb / (side * side / 1e6)
            rows.append({"model": m.id, "side": side, "mb": round(mb), "mb_per_mp": round(per_mp),
                         "estimate_mb_per_mp": estimate})
            est = f"{estimate:8.0f}" if estimate is not None else f"{'-':>8}"
            print(f"{m.id:<16} {arch.get('layout', 'johnson'):<8} {side:>5} {mb:7.0f} "
                  f"{per_mp:7.0f} {est}", flush=True)
    print(json.dumps({"rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
