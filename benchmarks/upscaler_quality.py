"""The super-resolution network against bicubic and Lanczos, x4, on paintings it never saw, and
its speed per output megapixel; writes a crop grid (bicubic | Lanczos | ours | original).

Held out: the 15 paintings of ../shared/images/style/ (the network trains on
../shared/images/paintings/). Each is degraded the way training degrades (antialiased bicubic
downscale, 8-bit), then brought back x4 by each method; PSNR in dB on RGB, `scale` pixels of
border ignored.

    python benchmarks/upscaler_quality.py [--model engine/models] [--grid docs/upscale/grid.png]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HELD_OUT = ROOT.parent / "shared" / "images" / "style"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paintings", type=Path, default=HELD_OUT)
    ap.add_argument("--grid", type=Path, help="write a crop grid PNG here")
    ap.add_argument("--speed-mp", type=float, default=24.0, help="output megapixels timed")
    a = ap.parse_args()

    from engine import fast, upscale
    from engine.contract import Upscale
    from export.upscale_train import evaluate

    model = upscale.network_or_error()
    sess = fast.session_for(model, "cpu")
    scale = sess.scale
    ctx = upscale._context(model)
    paintings = sorted(p for p in a.paintings.iterdir() if p.suffix.lower() in (".jpg", ".png"))

    def ours(lr: np.ndarray) -> np.ndarray:
        out = upscale.run_network(lr, sess, ctx, add_bicubic=upscale.skip_outside(model))
        return np.clip(out, 0.0, 1.0, out=out)

    rows = evaluate(ours, paintings, scale)
    print(f"model {model.id} ({model.meta.extra.get('architecture')}), x{scale}, "
          f"{len(rows)} held-out paintings from {a.paintings}")
    print(f"{'painting':<36} {'bicubic':>8} {'lanczos':>8} {'ours':>8} {'ours-bic':>9}")
    for r in rows:
        print(f"{r['painting']:<36} {r['bicubic']:8.2f} {r['lanczos']:8.2f} {r['ours']:8.2f} "
              f"{r['ours'] - r['bicubic']:+9.2f}")
    mean = {k: statistics.mean(r[k] for r in rows) for k in ("bicubic", "lanczos", "ours")}
    print(f"{'mean':<36} {mean['bicubic']:8.2f} {mean['lanczos']:8.2f} {mean['ours']:8.2f} "
          f"{mean['ours'] - mean['bicubic']:+9.2f}  (over Lanczos "
          f"{mean['ours'] - mean['lanczos']:+.2f} dB)")

    # Speed: the engine's whole upscale step (tiles, clipping, the final exact resize).
    side = round((a.speed_mp * 1e6 * 4 / 3) ** 0.5 / scale)  # 4:3, speed_mp of output
    lr = np.random.default_rng(0).random((side * 3 // 4, side, 3), dtype=np.float32)
    out_size = (lr.shape[1] * scale, lr.shape[0] * scale)
    t0 = time.perf_counter()
    out, info = upscale.to_size(lr, out_size, Upscale.SHARP)
    spent = time.perf_counter() - t0
    mp = out.shape[0] * out.shape[1] / 1e6
    print(f"speed: {lr.shape[1]}x{lr.shape[0]} -> {out.shape[1]}x{out.shape[0]} ({mp:.1f} MP) "
          f"in {spent:.2f} s = {spent / mp:.3f} s per output MP")

    if a.grid:
        _grid(paintings[:3], ours, scale, a.grid)
        print(f"wrote {a.grid}")
    return 0


def _grid(paintings, ours, scale: int, out: Path, crop: int = 96) -> None:
    """Rows: paintings; columns: bicubic, Lanczos, ours, original, each a crop shown 2x."""
    import torch

    from engine.images import load_picture
    from export.upscaler import degrade

    tiles = []
    for path in paintings:
        rgb = load_picture(path).rgb
        h, w = (rgb.shape[0] // scale) * scale, (rgb.shape[1] // scale) * scale
        hr = rgb[:h, :w]
        lr = degrade(torch.from_numpy(np.ascontiguousarray(hr)).permute(2, 0, 1)[None],
                     scale)[0].permute(1, 2, 0).numpy()
        lr_u8 = Image.fromarray((lr * 255).round().astype(np.uint8))
        ups = [np.asarray(lr_u8.resize((w, h), m), np.float32) / 255
               for m in (Image.Resampling.BICUBIC, Image.Resampling.LANCZOS)]
        ups += [np.clip(ours(lr), 0, 1), hr]
        y, x = h // 2 - crop // 2, w // 2 - crop // 2
        row = [Image.fromarray((u[y:y + crop, x:x + crop] * 255 + 0.5).astype(np.uint8))
               .resize((crop * 2, crop * 2), Image.Resampling.NEAREST) for u in ups]
        tiles.append(row)
    cell = crop * 2
    grid = Image.new("RGB", (cell * 4 + 12, cell * len(tiles) + 4 * (len(tiles) - 1)), "white")
    for r, row in enumerate(tiles):
        for c, im in enumerate(row):
            grid.paste(im, (c * (cell + 4), r * (cell + 4)))
    out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(out)


if __name__ == "__main__":
    sys.exit(main())
