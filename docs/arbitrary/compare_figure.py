"""docs/arbitrary/ours_vs_magenta.jpg: for each painting, the painting, Magenta's result and ours on
the same 1 MP photo, from the outputs `benchmarks/arbitrary_quality.py --keep DIR` left behind.

    python docs/arbitrary/compare_figure.py --photo animal_kitten \\
        --paintings starry_night_vangogh,great_wave_hokusai,cezanne_trees \\
        --magenta DIR_A --ours DIR_B --ours-system ours_cpu:default --out docs/arbitrary/x.jpg
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

SHARED = Path(__file__).resolve().parents[3] / "shared"
if not SHARED.is_dir():
    SHARED = Path("/work/shared")


def _fit(im: Image.Image, h: int) -> Image.Image:
    return im.convert("RGB").resize((round(im.width * h / im.height), h),
                                    Image.Resampling.LANCZOS)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photo", required=True)
    ap.add_argument("--paintings", required=True)
    ap.add_argument("--magenta", required=True, type=Path)
    ap.add_argument("--ours", required=True, type=Path)
    ap.add_argument("--ours-system", required=True)
    ap.add_argument("--height", type=int, default=200)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    h = args.height
    rows = []
    for name in args.paintings.split(","):
        cells = [_fit(Image.open(SHARED / "images" / "style" / f"{name}.jpg"), h),
                 _fit(Image.open(args.magenta / f"{args.photo}_{name}_default.png"), h),
                 _fit(Image.open(args.ours / (f"{args.photo}_{name}_"
                                              f"{args.ours_system.replace(':', '_')}.png")), h)]
        rows.append(cells)
    widths = [max(r[i].width for r in rows) for i in range(3)]
    label = 18
    sheet = Image.new("RGB", (sum(widths) + 8 * 2, label + len(rows) * (h + 8)), "white")
    draw = ImageDraw.Draw(sheet)
    x = 0
    for i, title in enumerate(("painting", "Magenta (shipped)", "ours (CPU run)")):
        draw.text((x + 4, 3), title, fill="black")
        for j, row in enumerate(rows):
            sheet.paste(row[i], (x, label + j * (h + 8)))
        x += widths[i] + 8
    sheet.save(args.out, quality=85)


if __name__ == "__main__":
    main()
