"""Paint demo/swirls.jpg: a style image made by the project itself (so it may be redistributed).

Thousands of short, thick brush strokes follow a swirling flow field, in a bold palette of blues
and yellows, on a dark ground. Deterministic: the same file every run. Needs numpy and Pillow (the
engine's dependencies): `python demo/make_swirls.py`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 512
PALETTE = [(22, 46, 112), (35, 80, 160), (70, 130, 200), (240, 200, 60), (250, 230, 120),
           (30, 30, 60), (200, 110, 40), (120, 170, 220), (15, 90, 90)]


def _flow(x: float, y: float) -> float:
    """Angle of the flow field at (x, y): a few vortices plus a gentle wave."""
    a = 0.0
    for cx, cy, s in ((0.3, 0.35, 1.0), (0.72, 0.3, -1.0), (0.55, 0.75, 1.0)):
        dx, dy = x - cx, y - cy
        r2 = dx * dx + dy * dy + 0.01
        a += s * math.atan2(dy, dx) * math.exp(-r2 * 6)
    return a + math.pi / 2 + 0.8 * math.sin(4 * y + 2 * x)


def paint(path: Path) -> None:
    rng = np.random.default_rng(1889)
    im = Image.new("RGB", (SIZE, SIZE), (18, 24, 48))
    draw = ImageDraw.Draw(im)
    for layer, (count, length, width) in enumerate(((2500, 22, 9), (4000, 14, 6), (3500, 8, 3))):
        for _ in range(count):
            x, y = rng.random(2)
            colour = np.array(PALETTE[rng.integers(len(PALETTE))], dtype=float)
            # Warm strokes gather in the vortex centres, cool ones elsewhere (like a night sky).
            if layer and math.hypot(x - 0.3, y - 0.35) < 0.12:
                colour = np.array(PALETTE[3 + rng.integers(2)], dtype=float)
            colour = tuple(int(c) for c in np.clip(colour + rng.normal(0, 18, 3), 0, 255))
            pts = [(x * SIZE, y * SIZE)]
            for _ in range(4):
                a = _flow(x, y)
                x += math.cos(a) * length / SIZE / 4
                y += math.sin(a) * length / SIZE / 4
                pts.append((x * SIZE, y * SIZE))
            draw.line(pts, fill=colour, width=width, joint="curve")
    im = im.filter(ImageFilter.SMOOTH_MORE)
    im.save(path, quality=90)


if __name__ == "__main__":
    paint(Path(__file__).with_name("swirls.jpg"))
