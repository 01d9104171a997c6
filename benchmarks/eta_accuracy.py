"""How honest is "about N s left"? Runs a Gatys job and a tiled fast job, records every progress
event, and prints |estimated time left - actual time left| / actual time left when 10%, 50% and
90% of the run's wall time has passed; beside it, the same for the estimate the engine used to
give (elapsed x (1 - f) / f over the progress fraction f), from the same events.

    python benchmarks/eta_accuracy.py [--size 512] [--quality normal] [--megapixels 4 --tile 768]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "images"


def errors(events: list[tuple[float, float, float | None]], total: float) -> dict[str, tuple]:
    """events: (time since start, fraction, eta_s). -> {"10%": (ours, naive), ...}"""
    out = {}
    for f in (0.1, 0.5, 0.9):
        t, frac, eta = next(e for e in events if e[0] >= f * total)
        actual = total - t
        naive = t * (1 - frac) / frac if frac > 0 else None
        ours_err = None if eta is None else abs(eta - actual) / actual
        naive_err = None if naive is None else abs(naive - actual) / actual
        out[f"{round(f * 100)}%"] = (ours_err, naive_err, actual, eta)
    return out


def report(name: str, events, total: float) -> None:
    print(f"\n{name}: {total:.1f} s, {len(events)} progress events")
    for at, (ours, naive, actual, eta) in errors(events, total).items():
        shown = "n/a" if ours is None else f"{ours:.0%}"
        old = "n/a" if naive is None else f"{naive:.0%}"
        print(f"  at {at:>3} of the run: actual {actual:6.1f} s left, estimate "
              f"{eta if eta is not None else float('nan'):6.1f} s -> error {shown:>5} "
              f"(old estimate: {old})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--content", type=Path, default=SHARED / "content" / "chelsea_cat.jpg")
    ap.add_argument("--style", type=Path, default=SHARED / "style" / "starry_night_vangogh.jpg")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--quality", default="normal")
    ap.add_argument("--megapixels", type=float, default=4.0)
    ap.add_argument("--tile", type=int, default=768)
    ap.add_argument("--model", default="starry_night")
    ap.add_argument("--skip-gatys", action="store_true")
    a = ap.parse_args()

    from engine import fast
    from engine.contract import FastParams, GatysParams, Quality
    from engine.gatys import stylize
    from engine.images import load_picture, resize_rgb

    def run(fn) -> tuple[list, float]:
        events: list[tuple[float, float, float | None]] = []
        t0 = time.perf_counter()
        fn(lambda e: events.append((time.perf_counter() - t0, e.fraction, e.eta_s)))
        return events, time.perf_counter() - t0

    content, style = load_picture(a.content), load_picture(a.style)
    if not a.skip_gatys:
        params = GatysParams(size=a.size, quality=Quality(a.quality))
        events, total = run(lambda p: stylize(content.rgb, [style.rgb], params, progress=p))
        report(f"Gatys {a.size} px, {a.quality}", events, total)
    w, h = content.size
    s = (a.megapixels * 1e6 / (w * h)) ** 0.5
    big = resize_rgb(content.rgb, (round(w * s), round(h * s)))
    params = FastParams(model=a.model, tile=a.tile)
    events, total = run(lambda p: fast.stylize(big, params, progress=p))
    report(f"fast {a.model}, {big.shape[1]}x{big.shape[0]}, tile {a.tile}", events, total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
