# -*- coding: utf-8 -*-
"""The PNG codec of the plug-ins: what travels between GIMP and the engine, nothing more.

Standard library only, Python 2.7 and 3. GIMP's bundled Python has no Pillow or numpy, so pixels
are encoded and decoded here. Both directions use 8-bit, non-interlaced images whose rows are
stored unfiltered (filter type 0): zlib then does all the work in C, so this is fast in any
Python. The engine writes its results that way (`engine/server/png.py`), so the decoder reads only
that layout and refuses anything else with a clear message instead of carrying a general PNG
reader (palettes, low bit depths, the four predictive filters) that would never run.

    png_encode(width, height, pixel_bytes, channels=4) -> PNG bytes (1 grey, 2 grey+alpha,
        3 RGB, 4 RGBA).
    png_decode(data) -> (width, height, channels, pixel_bytes); raises nst_errors.EngineError
        ('bad_response') for anything but the layout above.
"""

from __future__ import absolute_import, division

import struct
import zlib

from nst_errors import EngineError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type
_CHANNELS = dict((v, k) for k, v in _COLOUR_TYPES.items())  # PNG colour type -> channels


def _chunk(kind, data):
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_encode(width, height, pixel_bytes, channels=4, level=3):
    if channels not in _COLOUR_TYPES:
        raise ValueError("channels must be 1, 2, 3 or 4")
    stride = width * channels
    pixel_bytes = bytes(pixel_bytes)
    if width <= 0 or height <= 0 or len(pixel_bytes) != stride * height:
        raise ValueError("expected %d bytes for %dx%dx%d pixels, got %d"
                         % (stride * height, width, height, channels, len(pixel_bytes)))
    rows = b"".join(b"\x00" + pixel_bytes[y * stride:(y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOUR_TYPES[channels], 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows, level)) + _chunk(b"IEND", b""))


def _bad_png(why):
    return EngineError("bad_response", "The engine's PNG could not be read: %s." % why)


def _chunks(data):
    header, idat, pos = None, [], 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise _bad_png("truncated %s chunk" % kind.decode("latin-1"))
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or not idat:
        raise _bad_png("no image header or no pixel data")
    return header, b"".join(idat)


def png_decode(data):
    data = bytes(data)
    if not data.startswith(PNG_SIGNATURE):
        raise _bad_png("not a PNG file")
    header, compressed = _chunks(data)
    width, height, depth, colour, _comp, _filt, interlace = header
    if depth != 8 or interlace != 0 or colour not in _CHANNELS:
        raise _bad_png("unsupported PNG layout (depth %d, colour type %d, interlace %d); the "
                       "engine writes 8-bit non-interlaced grey/RGB(A) files" % (depth, colour,
                                                                                 interlace))
    channels = _CHANNELS[colour]
    try:
        raw = zlib.decompress(compressed)
    except zlib.error as exc:
        raise _bad_png("damaged pixel data (%s)" % exc)
    stride = width * channels
    if len(raw) < (stride + 1) * height:
        raise _bad_png("pixel data too short")
    # Every row starts with its filter byte; the engine writes 0 ("None") for all of them.
    filters = raw[0:(stride + 1) * height:stride + 1]
    if filters.strip(b"\x00"):
        raise _bad_png("rows use PNG prediction filters; the engine writes unfiltered rows")
    pixels = b"".join(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)] for y in range(height))
    return width, height, channels, pixels


__all__ = ["png_decode", "png_encode", "PNG_SIGNATURE"]
