"""Run a fully convolutional network over an image of any size with bounded memory.

The image is cut into overlapping tiles whose sides are multiples of the network's stride (or
exactly its fixed input size); each tile's output is weighted by a feather that ramps linearly
across the overlap and accumulated, then divided by the summed weights. Two reasons for the
overlap: the receptive field (a tile's border pixels lack context), and instance normalisation —
each tile normalises with its own statistics, so neighbouring tiles differ slightly in tone and a
hard cut would show; a wide linear cross-fade hides that.

An identity network reassembles the input exactly (up to float rounding): weights are positive
everywhere and the same pixels come back from every tile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

RunFn = Callable[[np.ndarray], np.ndarray]  # (h, w, 3) float32 -> (h, w, 3) float32

# Smallest side a dynamic-size network is given: reflection padding inside the network (4 px for a
# 9x9 kernel, 1 px at 1/4 resolution) needs more pixels than that, so tiny images are padded up.
MIN_SIDE = 32


@dataclass(frozen=True)
class Tile:
    y0: int
    y1: int
    x0: int
    x1: int


def round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one axis: regular steps of tile-overlap, the last tile flush with the
    end (so it overlaps its neighbour by at least `overlap`)."""
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def fitted_side(length: int, tile: int, overlap: int, stride: int = 1) -> int:
    """The smallest tile side (a multiple of `stride`, at most `tile`) that covers `length` with
    as few tiles as `tile` would need. Without this, a 3000 px side in 1024 px tiles would get a
    last tile almost entirely inside its neighbour: twice the work for nothing."""
    if length <= tile:
        return length
    n = -(-(length - overlap) // (tile - overlap))
    side = round_up(-(-(length + (n - 1) * overlap) // n), stride)
    return min(side, tile)


def plan(height: int, width: int, tile: int, overlap: int, stride: int = 1) -> list[Tile]:
    """Equal tiles, at most `tile` x `tile` (a multiple of `stride`), covering height x width."""
    if tile <= overlap:
        raise ValueError(f"tile {tile} must be larger than overlap {overlap}")
    th = fitted_side(height, tile, overlap, stride)
    tw = fitted_side(width, tile, overlap, stride)
    return [Tile(y, y + th, x, x + tw)
            for y in _starts(height, th, overlap) for x in _starts(width, tw, overlap)]


def _ramp(length: int, overlap: int, fade_start: bool, fade_end: bool) -> np.ndarray:
    """1-D feather: rises over `overlap` pixels at a faded start, falls at a faded end. Never 0,
    so every pixel has weight from at least one tile."""
    w = np.ones(length, np.float32)
    n = min(overlap, length // 2)
    if n > 0:
        ramp = (np.arange(n, dtype=np.float32) + 0.5) / n
        if fade_start:
            w[:n] = np.minimum(w[:n], ramp)
        if fade_end:
            w[-n:] = np.minimum(w[-n:], ramp[::-1])
    return w


def pad_to(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pad bottom/right to (height, width) by reflection (edge replication when the image is too
    small to reflect), so the network sees plausible content rather than black borders."""
    ph, pw = height - rgb.shape[0], width - rgb.shape[1]
    if ph == 0 and pw == 0:
        return rgb
    mode = "reflect" if ph < rgb.shape[0] and pw < rgb.shape[1] else "edge"
    return np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode=mode)


def _cut(rgb: np.ndarray, t: Tile) -> np.ndarray:
    """The tile's pixels; the part beyond the image is padded per tile, so the whole image is
    never copied (a 24 MP float image is 288 MB)."""
    h, w = rgb.shape[:2]
    inside = rgb[t.y0:min(t.y1, h), t.x0:min(t.x1, w)]
    return np.ascontiguousarray(pad_to(inside, t.y1 - t.y0, t.x1 - t.x0))


def padded_size(height: int, width: int, stride: int = 1, min_side: int = MIN_SIDE
                ) -> tuple[int, int]:
    """The size a dynamic-size network is run at for a height x width image: at least `min_side`,
    a multiple of `stride`. Memory follows this, not the image: a 1 x 500000 strip is run as
    32 x 500000 pixels."""
    return round_up(max(height, min_side), stride), round_up(max(width, min_side), stride)


@dataclass(frozen=True)
class Layout:
    """How one image is cut: the tiles over the padded (height, width), the overlap they fade
    over and the tile side actually used."""

    tiles: list[Tile]
    height: int
    width: int
    overlap: int
    tile: int


def layout(height: int, width: int, *, tile: int, overlap: int, stride: int = 1,
           fixed_size: tuple[int, int] | None = None, min_side: int = MIN_SIDE) -> Layout:
    """The tiles `run_tiled` runs for a height x width image. `fixed_size` (h, w): the network
    only accepts that size, so tiles are exactly that (the image padded up to it when smaller).
    Otherwise tiles are `tile` pixels rounded to the stride and never below `min_side`
    (a smaller tile is too small for the network's own padding), over the padded size."""
    if fixed_size is not None:
        th, tw = fixed_size
        ph, pw = max(height, th), max(width, tw)
        overlap = min(overlap, th // 2, tw // 2)
        tiles = [Tile(y, y + th, x, x + tw)
                 for y in _starts(ph, th, overlap) for x in _starts(pw, tw, overlap)]
        return Layout(tiles, ph, pw, overlap, tw)
    tile = max(round_up(min_side, stride), round_up(tile, stride))
    overlap = min(round_up(overlap, stride), tile // 2)
    ph, pw = padded_size(height, width, stride, min_side)
    return Layout(plan(ph, pw, tile, overlap, stride), ph, pw, overlap, tile)


def _run_with_margin(run: RunFn, x: np.ndarray, t: Tile, cut: Layout, margin: int
                     ) -> np.ndarray:
    """`run` on the tile with `margin` more pixels, by reflection, on each side where the tile
    meets the image's border, and the output cropped back to the tile. Convolutional networks
    know where their input ends (their own padding): trained networks paint artefacts there (a
    column of Starry Night's yellow rings along one edge, measured in docs/fast.md). With the
    margin those land outside the picture; inner tile edges already have overlaps."""
    if not margin:
        return run(x)
    top, left = (margin if t.y0 == 0 else 0), (margin if t.x0 == 0 else 0)
    bottom, right = (margin if t.y1 >= cut.height else 0), (margin if t.x1 >= cut.width else 0)
    mode = "reflect" if margin < min(x.shape[:2]) else "edge"
    out = run(np.pad(x, ((top, bottom), (left, right), (0, 0)), mode=mode))
    return out[top:top + x.shape[0], left:left + x.shape[1]]


def run_tiled(rgb: np.ndarray, run: RunFn, *, tile: int = 0, overlap: int = 0, stride: int = 1,
              fixed_size: tuple[int, int] | None = None, min_side: int = MIN_SIDE,
              on_tile: Callable[[int, int], None] | None = None,
              adjust: Callable[[np.ndarray, int, int], np.ndarray] | None = None,
              cut: Layout | None = None, margin: int = 0) -> np.ndarray:
    """Apply `run` to `rgb` (H, W, 3) float32 and return (H, W, 3), tile by tile as `cut` says
    (default: `layout(H, W, tile=..., overlap=..., stride=..., fixed_size=..., min_side=...)`).
    `on_tile(done, total)` runs after each tile (progress and cancellation). `adjust(out, y0,
    x0)`, when several tiles are needed, may correct each tile's output (the part inside the
    image, placed at y0, x0) before blending (see engine.fast.tone). `margin` (a multiple of the
    stride; dynamic-size networks only) pads tiles at the image's border (`_run_with_margin`).
    Memory: the result, one weight plane and one tile."""
    h, w = rgb.shape[:2]
    if cut is None:
        cut = layout(h, w, tile=tile, overlap=overlap, stride=stride, fixed_size=fixed_size,
                     min_side=min_side)
    tiles, ph, pw, overlap = cut.tiles, cut.height, cut.width, cut.overlap
    if margin and (fixed_size is not None or margin % max(1, stride)):
        raise ValueError("margin needs a dynamic-size network and a multiple of the stride")
    if len(tiles) == 1:
        out = _run_with_margin(run, _cut(rgb, tiles[0]), tiles[0], cut, margin)
        if on_tile:
            on_tile(1, 1)
        return np.ascontiguousarray(out[:h, :w])

    acc = np.zeros((h, w, 3), np.float32)
    weight = np.zeros((h, w), np.float32)
    for i, t in enumerate(tiles):
        out = _run_with_margin(run, _cut(rgb, t), t, cut, margin)
        wy = _ramp(t.y1 - t.y0, overlap, t.y0 > 0, t.y1 < ph)
        wx = _ramp(t.x1 - t.x0, overlap, t.x0 > 0, t.x1 < pw)
        # Only the part inside the image is kept; the padding was context for the network.
        y1, x1 = min(t.y1, h), min(t.x1, w)
        out = out[: y1 - t.y0, : x1 - t.x0]
        if adjust is not None:  # it works in place: never on the caller's pixels
            own = not np.may_share_memory(out, rgb) and out.flags.c_contiguous
            out = adjust(out if own else np.array(out, np.float32), t.y0, t.x0)
        feather = wy[: y1 - t.y0, None] * wx[None, : x1 - t.x0]
        acc[t.y0:y1, t.x0:x1] += out * feather[..., None]
        weight[t.y0:y1, t.x0:x1] += feather
        if on_tile:
            on_tile(i + 1, len(tiles))
    acc /= weight[..., None]
    return acc
