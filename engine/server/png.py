"""Result PNGs written for the plug-ins' stdlib decoder.

Pillow picks an adaptive filter per row (Sub/Up/Average/Paeth). The GIMP plug-ins decode results in
pure Python (no numpy in GIMP's interpreter), where undoing those filters costs seconds per
megapixel; rows stored with filter type 0 ("None") are sliced out directly. The file gets a little
larger, which does not matter on loopback.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from engine.images import Picture, unit_to_u8

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def encode_unfiltered(picture: Picture, level: int = 3) -> bytes:
    """8-bit RGB (or RGBA when the picture has alpha), non-interlaced, every row filter 0."""
    rgb = picture.to_u8()
    if picture.alpha is not None:
        a = unit_to_u8(picture.alpha)
        pixels, colour_type = np.dstack([rgb, a]), 6
    else:
        pixels, colour_type = rgb, 2
    h, w, c = pixels.shape
    rows = np.zeros((h, 1 + w * c), dtype=np.uint8)  # column 0: the filter byte, 0
    rows[:, 1:] = pixels.reshape(h, w * c)
    header = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), level)) + _chunk(b"IEND", b""))
