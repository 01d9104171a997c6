#!/usr/bin/env python3
"""docs/gatys/highres_crop.jpg: 2048 px draft results, whole (shrunk) and a 100 % crop, from
`benchmarks/gatys_highres.py --keep DIR` outputs (full and light) and the old light plan's.

Usage: python docs/gatys/make_highres_figure.py OUT.jpg LABEL=IMAGE.png ... --box x0,y0,x1,y1
"""

import argparse

from PIL import Image, ImageDraw


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("images", nargs="+", help="label=path")
    ap.add_argument("--box", default="850,550,1250,950", help="crop in 2048 px coordinates")
    ap.add_argument("--width", type=int, default=400)
    a = ap.parse_args()
    box = tuple(int(v) for v in a.box.split(","))
    side = box[2] - box[0]
    items = [s.split("=", 1) for s in a.images]
    first = Image.open(items[0][1])
    h = first.height * a.width // first.width
    gap, label_h = 6, 22
    sheet = Image.new("RGB", (len(items) * (a.width + gap) - gap, label_h + h + gap + side),
                      "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, path) in enumerate(items):
        im = Image.open(path).convert("RGB")
        x = i * (a.width + gap)
        draw.text((x + 4, 4), label, fill="black")
        small = im.resize((a.width, h), Image.LANCZOS)
        ImageDraw.Draw(small).rectangle([v * a.width // im.width for v in box], outline="red",
                                        width=2)
        sheet.paste(small, (x, label_h))
        crop = im.crop(box)  # 100 %: one output pixel per figure pixel
        sheet.paste(crop.crop((0, 0, min(a.width, side), side)), (x, label_h + h + gap))
    sheet.save(a.out, quality=88)


if __name__ == "__main__":
    main()
