"""Input handling: any size/aspect, grey, palette, 16-bit, alpha, EXIF rotation, atomic saving."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.errors import BadImage, ImageTooLarge
from engine.images import (
    Picture,
    decode_mask,
    decode_picture,
    encode_png,
    fit_longest_side,
    load_picture,
    resize_gray,
    resize_rgb,
    save_picture,
)


def _bytes(im: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_rgb_any_aspect() -> None:
    for w, h in [(1, 1), (300, 7), (5, 400)]:
        pic = decode_picture(_bytes(Image.new("RGB", (w, h), (255, 128, 0))))
        assert pic.rgb.shape == (h, w, 3) and pic.rgb.dtype == np.float32 and pic.alpha is None
        assert np.allclose(pic.rgb[0, 0], [1.0, 128 / 255, 0.0])


def test_grey_and_palette() -> None:
    grey = decode_picture(_bytes(Image.new("L", (4, 3), 51)))
    assert grey.rgb.shape == (3, 4, 3) and np.allclose(grey.rgb, 0.2)
    pal = Image.new("P", (4, 3))
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.putpixel((1, 1), 1)
    p = decode_picture(_bytes(pal))
    assert np.allclose(p.rgb[1, 1], [1, 0, 0]) and np.allclose(p.rgb[0, 0], 0)


def test_palette_with_transparency_has_alpha() -> None:
    pal = Image.new("P", (4, 3))
    pal.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    pal.putpixel((2, 1), 1)
    pal.info["transparency"] = 0
    p = decode_picture(_bytes(pal, transparency=0))
    assert p.alpha is not None and p.alpha[1, 2] == 1.0 and p.alpha[0, 0] == 0.0


def test_16_bit_grey_keeps_its_range() -> None:
    arr = np.array([[0, 32768, 65535]], dtype=np.uint16)
    im = Image.new("I;16", (3, 1))
    im.frombytes(arr.astype("<u2").tobytes())
    pic = decode_picture(_bytes(im))
    assert np.allclose(pic.rgb[0, :, 0], [0.0, 0.5, 1.0], atol=1e-4)


def test_16_bit_rgb_png(tmp_path: Path) -> None:
    # Pillow writes 48-bit RGB only through raw mode; build the file by hand with numpy + zlib.
    import struct
    import zlib

    h, w = 2, 3
    arr = np.full((h, w, 3), 65535, dtype=">u2")
    arr[0, 0] = (0, 32768, 65535)
    raw = b"".join(b"\0" + arr[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    pic = decode_picture(data)
    assert pic.rgb.shape == (h, w, 3)
    assert np.allclose(pic.rgb[0, 0], [0.0, 0.5, 1.0], atol=1 / 255)
    assert np.allclose(pic.rgb[1, 2], 1.0)


def test_alpha_kept_separately() -> None:
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = [[0, 128, 255], [255, 255, 255]]
    pic = decode_picture(_bytes(Image.fromarray(rgba, "RGBA")))
    assert pic.alpha is not None and np.allclose(pic.alpha[0], [0, 128 / 255, 1])
    assert np.allclose(pic.rgb[..., 0], 200 / 255)
    back = np.asarray(Image.open(io.BytesIO(encode_png(pic))))
    assert back.shape == (2, 3, 4) and np.array_equal(back[..., 3], rgba[..., 3])


def test_exif_rotation_applied() -> None:
    im = Image.new("RGB", (4, 2), (0, 0, 0))
    im.putpixel((0, 0), (255, 255, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    pic = decode_picture(_bytes(im, "JPEG", exif=exif.tobytes(), quality=100))
    assert pic.rgb.shape == (4, 2, 3)  # portrait after rotation
    # The white top-left corner moves to the top-right.
    assert pic.rgb[0, 1].mean() > 0.7 and pic.rgb[0, 0].mean() < 0.3


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(BadImage, match="empty"):
        decode_picture(b"")
    with pytest.raises(BadImage, match="not an image"):
        decode_picture(b"hello world" * 20)
    full = _bytes(Image.effect_noise((64, 64), 50))
    with pytest.raises(BadImage, match="damaged or truncated"):
        decode_picture(full[: len(full) // 2])
    with pytest.raises(ImageTooLarge):
        decode_picture(_bytes(Image.new("L", (100, 100))), max_pixels=5000)
    with pytest.raises(BadImage, match="not found"):
        load_picture(tmp_path / "missing.png")
    with pytest.raises(BadImage, match="Mask"):
        decode_mask(b"nope", (4, 4))


def test_mask_any_mode_resized() -> None:
    m = decode_mask(_bytes(Image.new("RGB", (8, 8), (255, 255, 255))), (4, 2))
    assert m.shape == (2, 4) and np.allclose(m, 1.0)


def test_save_is_atomic_and_checks_format(tmp_path: Path) -> None:
    pic = Picture(np.full((3, 4, 3), 0.5, np.float32))
    with pytest.raises(BadImage, match="format"):
        save_picture(pic, tmp_path / "out.unknown")
    save_picture(pic, tmp_path / "out.jpg")
    save_picture(Picture(pic.rgb, np.ones((3, 4), np.float32)), tmp_path / "a.jpg")  # alpha dropped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "out.jpg"]


def test_resizing() -> None:
    assert fit_longest_side((1000, 500), 512) == (512, 256)
    assert fit_longest_side((3, 1000), 64) == (1, 64)
    rgb = np.random.default_rng(0).random((10, 20, 3)).astype(np.float32)
    out = resize_rgb(rgb, (40, 20))
    assert out.shape == (20, 40, 3) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    assert resize_gray(np.ones((10, 20), np.float32), (5, 3)).shape == (3, 5)


def test_saved_pictures_get_the_umask_mode_not_0600(tmp_path) -> None:
    import os

    from engine.images import Picture, save_picture

    old = os.umask(0o022)
    try:
        out = tmp_path / "out.png"
        save_picture(Picture(np.zeros((4, 4, 3), np.float32)), out)
        assert (out.stat().st_mode & 0o777) == 0o644
    finally:
        os.umask(old)
