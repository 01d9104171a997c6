#!/usr/bin/env python3
"""Render the any-painting grid for README and docs/fast.md with the project's own CLI: the same
4 photos x 4 paintings as the Gatys grid (docs/grid), each cell
`python -m engine stylize PHOTO -s PAINTING --fast` at the photo's own size; below it, for a few
pairs, this network next to a Gatys draft (`--quality draft`, 512 px) of the same pair, with the
seconds each took (labelled in the picture, logged to runs.json).

Usage: python docs/arbitrary/make_grid.py [--cell 200] [--gatys-pairs 2] [--keep DIR]
Inputs are read from ../shared/images (public-domain / CC0, see SOURCES.md); only the composed
picture is written to the repository.
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
if not SHARED.is_dir():
    SHARED = Path("/work/shared")
sys.path.insert(0, str(ROOT / "docs" / "grid"))
from make_grid import CONTENTS, STYLES, thumb  # noqa: E402


def stylize(content: Path, style: Path, out: Path, flags: list[str]) -> dict:
    """Run the CLI once per output: a result kept with --keep (and its JSON beside it) is reused,
    so a long Gatys draft is not paid twice."""
    sidecar = out.with_suffix(".json")
    if out.exists() and sidecar.exists():
        return json.loads(sidecar.read_text())
    proc = subprocess.run([sys.executable, "-m", "engine", "stylize", str(content), "-s",
                           str(style), "-o", str(out), "--json", "-q", *flags], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    sidecar.write_text(proc.stdout)
    return json.loads(proc.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cell", type=int, default=200)
    ap.add_argument("--gatys-pairs", type=int, default=2,
                    help="pairs (on the diagonal) also rendered as a Gatys draft")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "arbitrary" / "grid.jpg")
    ap.add_argument("--keep", type=Path)
    a, extra = ap.parse_known_args()  # anything else goes to the --fast runs
    work = a.keep or Path(tempfile.mkdtemp(prefix="nst-arbitrary-grid-"))
    work.mkdir(parents=True, exist_ok=True)
    pad, cell, label = 6, a.cell, 16
    n_cols = len(STYLES) + 1
    pairs = [(i, i) for i in range(min(a.gatys_pairs, len(CONTENTS), len(STYLES)))]
    top_h = (len(CONTENTS) + 1) * (cell + label + pad) + pad
    strip_h = len(pairs) * (cell + label + pad) + pad + (label if pairs else 0)
    grid = Image.new("RGB", (n_cols * (cell + pad) + pad, top_h + strip_h), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    log = []

    def at(col: int, row_y: int) -> tuple[int, int]:
        return pad + col * (cell + pad), row_y

    for j, style in enumerate(STYLES, 1):
        grid.paste(thumb(SHARED / "images/style" / style, cell), at(j, pad))
    for i, content in enumerate(CONTENTS, 1):
        c_path = SHARED / "images/content" / content
        y = pad + i * (cell + label + pad)
        grid.paste(thumb(c_path, cell), at(0, y))
        for j, style in enumerate(STYLES, 1):
            out = work / f"{Path(content).stem}__{Path(style).stem}__fast.png"
            info = stylize(c_path, SHARED / "images/style" / style, out, ["--fast", *extra])
            log.append({"pair": [content, style], "method": "arbitrary",
                        "seconds": info["seconds"], "size": [info["width"], info["height"]]})
            print(f"{content} x {style}: {info['seconds']:.2f} s", flush=True)
            grid.paste(thumb(out, cell), at(j, y))
            draw.text((at(j, y)[0] + 2, y + cell + 2), f"{info['seconds']:.1f} s",
                      fill=(0, 0, 0))
    y = top_h
    if pairs:
        draw.text((pad, y), "this network (left) vs Gatys draft, 512 px (right), same pair",
                  fill=(0, 0, 0))
        y += label
    for i, j in pairs:
        content, style = CONTENTS[i], STYLES[j]
        c_path, s_path = SHARED / "images/content" / content, SHARED / "images/style" / style
        fast_out = work / f"{Path(content).stem}__{Path(style).stem}__fast.png"
        gatys_out = work / f"{Path(content).stem}__{Path(style).stem}__gatys_draft.png"
        info = stylize(c_path, s_path, gatys_out, ["--quality", "draft", "--size", "512"])
        fast_s = next(r["seconds"] for r in log if r["pair"] == [content, style])
        log.append({"pair": [content, style], "method": "gatys draft 512 px",
                    "seconds": info["seconds"], "iterations": info.get("iterations")})
        print(f"{content} x {style}: Gatys draft {info['seconds']:.1f} s", flush=True)
        for col, (img, text) in enumerate(((c_path, "photo"), (s_path, "painting"),
                                           (fast_out, f"this network {fast_s:.1f} s"),
                                           (gatys_out, f"Gatys draft {info['seconds']:.0f} s"))):
            grid.paste(thumb(img, cell), at(col, y))
            draw.text((at(col, y)[0] + 2, y + cell + 2), text, fill=(0, 0, 0))
        y += cell + label + pad
    draw.text((pad + 4, pad + 4), "photo \\ painting", fill=(0, 0, 0))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(a.out, quality=88, optimize=True)
    (work / "runs.json").write_text(json.dumps(log, indent=2))
    print(f"wrote {a.out} ({a.out.stat().st_size / 1e6:.2f} MB); runs in {work / 'runs.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
