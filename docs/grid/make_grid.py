#!/usr/bin/env python3
"""Render the README grid (4 photos x 4 paintings) with the project's own CLI and compose it into
one PNG: paintings along the top, photos down the left, each cell `python -m engine stylize`.

Usage: python docs/grid/make_grid.py [--size 512] [--cell 256] [extra stylize flags]
Inputs are read from ../shared/images (public-domain / CC0 photos, see SOURCES.md); only the
composed grid is written to the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("NST_SHARED", ROOT.parent / "shared"))
CONTENTS = ["chelsea_cat.jpg", "architecture_colosseum.jpg", "astronaut_portrait.jpg",
            "landscape_lake_sherburne.jpg"]
STYLES = ["starry_night_vangogh.jpg", "great_wave_hokusai.jpg", "woman_with_hat_matisse.jpg",
          "udnie_picabia.jpg"]


def thumb(path: Path, cell: int) -> Image.Image:
    im = Image.open(path).convert("RGB")
    im.thumbnail((cell, cell), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (cell, cell), (255, 255, 255))
    canvas.paste(im, ((cell - im.width) // 2, (cell - im.height) // 2))
    return canvas


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=512, help="stylize --size for every cell")
    ap.add_argument("--cell", type=int, default=224, help="cell size in the composed grid")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "grid" / "grid.jpg")
    ap.add_argument("--keep", type=Path, help="keep the full-size results in this folder")
    a, extra = ap.parse_known_args()  # anything else is passed on to `engine stylize`
    work = a.keep or Path(tempfile.mkdtemp(prefix="nst-grid-"))
    work.mkdir(parents=True, exist_ok=True)
    pad, cell = 6, a.cell
    n_rows, n_cols = len(CONTENTS) + 1, len(STYLES) + 1
    grid = Image.new("RGB", (n_cols * (cell + pad) + pad, n_rows * (cell + pad) + pad),
                     (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    log = []
    for j, style in enumerate(STYLES, 1):
        grid.paste(thumb(SHARED / "images/style" / style, cell), (pad + j * (cell + pad), pad))
    for i, content in enumerate(CONTENTS, 1):
        c_path = SHARED / "images/content" / content
        grid.paste(thumb(c_path, cell), (pad, pad + i * (cell + pad)))
        for j, style in enumerate(STYLES, 1):
            out = work / f"{Path(content).stem}__{Path(style).stem}.png"
            if not out.exists():
                proc = subprocess.run(
                    [sys.executable, "-m", "engine", "stylize", str(c_path), "-s",
                     str(SHARED / "images/style" / style), "-o", str(out), "--size", str(a.size),
                     "--json", "-q", *extra], cwd=ROOT, capture_output=True, text=True)
                if proc.returncode:
                    sys.stderr.write(proc.stderr)
                    return proc.returncode
                info = json.loads(proc.stdout)
                log.append({k: info[k] for k in ("output", "seconds", "iterations",
                                                   "content_loss", "style_loss")})
                print(f"{content} x {style}: {info['seconds']:.1f} s", flush=True)
            grid.paste(thumb(out, cell), (pad + j * (cell + pad), pad + i * (cell + pad)))
    draw.text((pad + 4, pad + 4), "photo \\ painting", fill=(0, 0, 0))
    grid.save(a.out, quality=88, optimize=True)
    print(f"wrote {a.out} ({a.out.stat().st_size / 1e6:.2f} MB)")
    if log:
        (work / "runs.json").write_text(json.dumps(log, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
