"""The README's Image Analogy grid, rendered by the CLI from the shared (redistributable) images:
each row is one pair, A | B' | A' | B (A' = the photo rebuilt from the reference's pixels, B = the
reference rebuilt from the photo's).

    python docs/analogy/make_grid.py [--size 320] [--out docs/analogy/grid.jpg]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "images"
PAIRS = [  # (photo A, reference B'): portrait, landscape, photo to photo
    ("content/astronaut_portrait.jpg", "style/self_portrait_straw_hat_vangogh.jpg"),
    ("content/landscape_lake_sherburne.jpg", "style/landscape_duncanson.jpg"),
    ("content/animal_kitten.jpg", "content/chelsea_cat.jpg"),
]
CELL = 240


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "analogy" / "grid.jpg")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (photo, ref) in enumerate(PAIRS):
            out_a, out_b = Path(tmp) / f"a{i}.png", Path(tmp) / f"b{i}.png"
            r = subprocess.run([sys.executable, "-m", "engine", "analogy", str(SHARED / photo),
                                str(SHARED / ref), "-o", str(out_a), "--reverse-output",
                                str(out_b), "--size", str(a.size), "--json", "-q"],
                               cwd=ROOT, capture_output=True, text=True, check=True)
            info = json.loads(r.stdout)
            print(f"{photo} <-> {ref}: {info['seconds']:.1f} s", flush=True)
            rows.append([SHARED / photo, SHARED / ref, out_a, out_b])
        grid = Image.new("RGB", (4 * CELL + 12, len(rows) * (CELL + 4) - 4), "white")
        for r, row in enumerate(rows):
            for c, path in enumerate(row):
                with Image.open(path) as im:
                    im = im.convert("RGB")
                    im.thumbnail((CELL, CELL), Image.Resampling.LANCZOS)
                    grid.paste(im, (c * (CELL + 4) + (CELL - im.width) // 2,
                                    r * (CELL + 4) + (CELL - im.height) // 2))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(a.out, quality=90)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
