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


def skip_outside(model) -> bool:
    """True for a network whose graph returns only the detail: the engine adds the bicubic
    enlargement itself (`bicubic_up`). Inside the graph that enlargement was onnxruntime's cubic
    Resize, which took 56 % of the network's time (measured: 0.38 of 0.67 s for a 320 px tile,
    AMD EPYC, 2 cores); the same sum in numpy costs a fraction of it."""
    arch = model.meta.extra.get("architecture")
    return isinstance(arch, dict) and arch.get("skip") == "engine"


def _cubic(t: np.ndarray, a: float = -0.75) -> np.ndarray:
    """Keys' cubic kernel at distances t (a = -0.75: torch's and ONNX Resize's bicubic)."""
    t = np.abs(t)
    return np.where(t <= 1, ((a + 2) * t - (a + 3)) * t * t + 1,
                    np.where(t < 2, ((a * t - 5 * a) * t + 8 * a) * t - 4 * a, 0.0))


def _up_axis(x: np.ndarray, s: int, axis: int) -> np.ndarray:
    n = x.shape[axis]
    pad = [(0, 0)] * x.ndim
    pad[axis] = (2, 3)
    xp = np.pad(x, pad, mode="edge")  # clamped taps, as torch and onnxruntime clamp
    out_shape = list(x.shape)
    out_shape[axis] = n * s
    out = np.empty(out_shape, np.float32)
    tmp = np.empty(x.shape, np.float32)
    for p in range(s):
        pos = (p + 0.5) / s - 0.5  # half-pixel centres
        base = int(np.floor(pos))
        frac = pos - base
        weights = _cubic(np.array([frac + 1, frac, 1 - frac, 2 - frac])).astype(np.float32)
        dst = [slice(None)] * x.ndim
        dst[axis] = slice(p, None, s)
        acc = out[tuple(dst)]
        for k, wk in enumerate(weights):
            src = [slice(None)] * x.ndim
            start = base - 1 + k + 2
            src[axis] = slice(start, start + n)
            if k == 0:
                np.multiply(xp[tuple(src)], wk, out=acc)
            else:  # in place: no temporary array per tap
                np.multiply(xp[tuple(src)], wk, out=tmp)
                acc += tmp
    return out


def bicubic_up(rgb: np.ndarray, s: int) -> np.ndarray:
    """(H, W, C) -> (H*s, W*s, C): torch's `interpolate(mode="bicubic", align_corners=False)`
    and ONNX Resize(cubic, half_pixel, a=-0.75) for an integer factor, separably in float32."""
    return _up_axis(_up_axis(np.asarray(rgb, np.float32), s, 0), s, 1)


def run_network(rgb: np.ndarray, sess, context: int, *, tile: int = TILE,
                cancel: CancelToken | None = None, on_tile=None,
                add_bicubic: bool = False) -> np.ndarray:
    """One pass of the network over an image of any size, in overlapping tiles; with
    `add_bicubic` (a detail-only graph, `skip_outside`) the bicubic enlargement is added."""
    h, w = rgb.shape[:2]
    s = sess.scale
    out = bicubic_up(rgb, s) if add_bicubic else np.empty((h * s, w * s, 3), np.float32)
    rows = range(0, h, tile)
    cols = range(0, w, tile)
    total, done = len(rows) * len(cols), 0
    for y in rows:
        for x in cols:
            if cancel is not None:
                cancel.raise_if_cancelled()
            y0, x0 = max(0, y - context), max(0, x - context)
            y1, x1 = min(h, y + tile + context), min(w, x + tile + context)
            piece = sess.run(np.ascontiguousarray(rgb[y0:y1, x0:x1]), clip=not add_bicubic)
            th, tw = min(tile, h - y), min(tile, w - x)
            oy, ox = (y - y0) * s, (x - x0) * s
            region = (slice(y * s, (y + th) * s), slice(x * s, (x + tw) * s))
            detail = piece[oy:oy + th * s, ox:ox + tw * s]
            if add_bicubic:
                out[region] += detail
            else:
                out[region] = detail
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


NONE = "none"  # the info's "upscale" when the result already had its size


def to_size(rgb: np.ndarray, size: tuple[int, int], mode: Upscale = Upscale.SHARP, *,
            lane: str = runtime.CPU, progress: ProgressFn = no_progress,
            cancel: CancelToken | None = None) -> tuple[np.ndarray, dict]:
    """`rgb` brought to (w, h) = `size`; the info says what was done."""
    w, h = size
    factor = max(w / rgb.shape[1], h / rgb.shape[0])
    if factor <= 1.0 or mode is Upscale.SMOOTH:
        return resize_rgb(rgb, size), {"upscale": "lanczos" if factor > 1.0 else NONE}
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

        out = run_network(out, sess, _context(model), cancel=cancel, on_tile=on_tile,
                          add_bicubic=skip_outside(model))
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
