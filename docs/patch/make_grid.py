#!/usr/bin/env python3
"""Render the README's Gram-vs-patch grid with the project's own CLI: the same 4 photos x 4
paintings as docs/grid, each cell a pair (left: the Gram default, right: `--style-loss patch`),
every image made by `python -m engine stylize`.

Usage: python docs/patch/make_grid.py [--size 512] [--cell 200] [--keep DIR]
Inputs are read from ../shared/images (public-domain / CC0, see SOURCES.md); only the composed grid
is written to the repository.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "grid"))
from make_grid import CONTENTS, SHARED, STYLES, thumb  # noqa: E402

MODES = {"gram": [], "patch": ["--style-loss", "patch"]}


def render(content: Path, style: Path, out: Path, size: int, flags: list[str]) -> dict | None:
    if out.exists():
        return None
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "stylize", str(content), "-s", str(style), "-o",
         str(out), "--size", str(size), "--json", "-q", *flags], cwd=ROOT, capture_output=True,
        text=True)
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise SystemExit(proc.returncode)
    info = json.loads(proc.stdout)
    print(f"{content.name} x {style.name} {flags or 'gram'}: {info['seconds']:.1f} s", flush=True)
    return {k: info[k] for k in ("output", "seconds", "iterations")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=512, help="stylize --size for every image")
    ap.add_argument("--cell", type=int, default=200, help="size of one image in the grid")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "patch" / "grid.jpg")
    ap.add_argument("--keep", type=Path, help="keep the full-size results in this folder")
    a = ap.parse_args()
    work = a.keep or Path(tempfile.mkdtemp(prefix="nst-patch-grid-"))
    work.mkdir(parents=True, exist_ok=True)
    pad, gap, cell = 10, 2, a.cell
    pair_w = 2 * cell + gap
    header = 18
    w = pad + cell + pad + len(STYLES) * (pair_w + pad)
    h = header + pad + (len(CONTENTS) + 1) * (cell + pad)
    grid = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    log = []
    for j, style in enumerate(STYLES):
        x = pad + cell + pad + j * (pair_w + pad)
        grid.paste(thumb(SHARED / "images/style" / style, cell), (x + (pair_w - cell) // 2,
                                                                  header + pad))
        draw.text((x + 4, 4), "Gram", fill=(0, 0, 0))
        draw.text((x + cell + gap + 4, 4), "patch", fill=(0, 0, 0))
    for i, content in enumerate(CONTENTS, 1):
        c_path = SHARED / "images/content" / content
        y = header + pad + i * (cell + pad)
        grid.paste(thumb(c_path, cell), (pad, y))
        for j, style in enumerate(STYLES):
            x = pad + cell + pad + j * (pair_w + pad)
            for k, (mode, flags) in enumerate(MODES.items()):
                out = work / f"{Path(content).stem}__{Path(style).stem}__{mode}.png"
                entry = render(c_path, SHARED / "images/style" / style, out, a.size, flags)
                if entry:
                    log.append(entry)
                grid.paste(thumb(out, cell), (x + k * (cell + gap), y))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(a.out, quality=88, optimize=True)
    print(f"wrote {a.out} ({a.out.stat().st_size / 1e6:.2f} MB)")
    if log:
        (work / "runs.json").write_text(json.dumps(log, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
