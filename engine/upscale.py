"""Bringing a result to photo size: `smooth` (Lanczos, what every image editor does) or `sharp`
(the project's super-resolution network, export/upscaler.py, run through onnxruntime in tiles).

The network multiplies both sides by its `scale` (4). For any other factor it runs once (up to
10x, twice beyond) and Lanczos brings the result to the exact size: down (shrinking an over-sharp
image loses nothing) or up by at most 2.5x (`passes_for` says why not more passes). Tiles are
cut in the input with `context` pixels of overlap that are thrown away after the run (the network
sees only that far), so a tiled result equals the one-piece result: no feathering, no seam.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from engine import runtime
from engine.cancel import CancelToken, ProgressFn, no_progress
from engine.contract import Progress, Upscale
from engine.errors import UnknownModel
from engine.images import resize_rgb

log = logging.getLogger(__name__)

KIND = "upscaler"
TILE = 384  # input pixels per tile side: ~2.4 MP of output per run at 4x, ~300 MB of memory
MAX_PASSES = 2
LANCZOS_UP = 2.5  # the most Lanczos may stretch after the network's passes


def find_network():
    """The installed upscaler (the first by name), or None."""
    from engine.fast import list_models

    found = list_models(kind=KIND)
    return found[0] if found else None


def _context(model) -> int:
    arch = model.meta.extra.get("architecture")
    ctx = arch.get("context") if isinstance(arch, dict) else None
    return int(ctx) if isinstance(ctx, int) and ctx > 0 else 16


def run_network(rgb: np.ndarray, sess, context: int, *, tile: int = TILE,
                cancel: CancelToken | None = None, on_tile=None) -> np.ndarray:
    """One pass of the network over an image of any size, in overlapping tiles."""
    h, w = rgb.shape[:2]
    s = sess.scale
    out = np.empty((h * s, w * s, 3), np.float32)
    rows = range(0, h, tile)
    cols = range(0, w, tile)
    total, done = len(rows) * len(cols), 0
    for y in rows:
        for x in cols:
            if cancel is not None:
                cancel.raise_if_cancelled()
            y0, x0 = max(0, y - context), max(0, x - context)
            y1, x1 = min(h, y + tile + context), min(w, x + tile + context)
            piece = sess.run(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
            th, tw = min(tile, h - y), min(tile, w - x)
            oy, ox = (y - y0) * s, (x - x0) * s
            out[y * s:(y + th) * s, x * s:(x + tw) * s] = piece[oy:oy + th * s, ox:ox + tw * s]
            done += 1
            if on_tile is not None:
                on_tile(done, total)
    return out


def passes_for(factor: float, scale: int) -> int:
    """Network passes for a factor; Lanczos does the rest, up (by less than LANCZOS_UP) or down.
    One pass up to 4x (2x is the 4x result shrunk), and a second pass only where Lanczos would
    otherwise stretch by more than LANCZOS_UP: the second pass's image is then at most
    (scale / LANCZOS_UP)^2 = 2.6 times the target's pixels, never 16 times."""
    if factor <= 1.0:
        return 0
    n = max(1, math.floor(math.log(factor) / math.log(scale) + 1e-9))
    if factor / scale**n > LANCZOS_UP:
        n += 1
    return min(MAX_PASSES, n)


def to_size(rgb: np.ndarray, size: tuple[int, int], mode: Upscale = Upscale.SHARP, *,
            lane: str = runtime.CPU, progress: ProgressFn = no_progress,
            cancel: CancelToken | None = None) -> tuple[np.ndarray, dict]:
    """`rgb` brought to (w, h) = `size`; the info says what was done."""
    w, h = size
    factor = max(w / rgb.shape[1], h / rgb.shape[0])
    if factor <= 1.0 or mode is Upscale.SMOOTH:
        return resize_rgb(rgb, size), {"upscale": "lanczos" if factor > 1.0 else "none"}
    model = find_network()
    if model is None:
        log.warning("no upscaler network installed; using Lanczos")
        return resize_rgb(rgb, size), {"upscale": "lanczos (no network installed)"}
    t0 = time.perf_counter()
    from engine.fast import session_for

    sess = session_for(model, lane)
    n = passes_for(factor, sess.scale)
    out = rgb
    for k in range(n):
        def on_tile(done: int, total: int, k=k) -> None:
            progress(Progress((k + done / total) / n, f"upscaling {k + 1}/{n}: tile "
                                                      f"{done}/{total}"))

        out = run_network(out, sess, _context(model), cancel=cancel, on_tile=on_tile)
        np.clip(out, 0.0, 1.0, out=out)
    return resize_rgb(out, size), {"upscale": model.id, "upscale_passes": n,
                                   "upscale_seconds": round(time.perf_counter() - t0, 3)}


def network_or_error():
    model = find_network()
    if model is None:
        raise UnknownModel("No upscaler network is installed (engine/models/*.json of kind "
                           "'upscaler'); use --mode smooth, or train one with "
                           "`python -m export train-upscaler`.")
    return model
