"""The stride lattice (engine/fast/lattice.py): removed from a synthetic picture, absent from the
shipped networks' output, and the working size (engine/working_size.py) for per-painting
networks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fast_fixtures import write_tiny_model

from engine import fast
from engine.contract import FastParams
from engine.fast.lattice import lattice_strength, remove_lattice
from engine.images import Picture, load_picture

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images" / "content"


def _smooth(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A picture with strokes and edges but no period: blurred noise plus a diagonal edge."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((h // 8 + 2, w // 8 + 2, 3), dtype=np.float32)
    img = np.kron(coarse, np.ones((8, 8, 1), np.float32))[:h, :w]
    k = np.ones(9, np.float32) / 9
    for axis in (0, 1):
        img = np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), axis, img)
    yy, xx = np.mgrid[:h, :w]
    img[(yy + xx) > (h + w) // 2] += 0.3
    return np.clip(img, 0, 1).astype(np.float32)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


def test_a_periodic_pattern_is_removed_and_the_picture_kept():
    clean = _smooth(160, 224)
    rng = np.random.default_rng(1)
    phase = rng.normal(0, 1, (4, 4, 3)).astype(np.float32)
    phase -= phase.mean(axis=(0, 1))
    amplitude = np.linspace(0.02, 0.06, 224, dtype=np.float32)[None, :, None]  # varies slowly
    pattern = np.tile(phase, (40, 56, 1)) * amplitude
    dirty = clean + pattern
    assert lattice_strength(dirty.mean(axis=2), 4) > 10
    fixed = remove_lattice(dirty.copy(), 4)
    assert lattice_strength(fixed.mean(axis=2), 4) < 2
    assert _psnr(fixed, clean) > _psnr(dirty, clean) + 10
    # What it removes is zero-mean per 4 x 4 block: everything coarser is untouched.
    blocks = lambda x: x.reshape(40, 4, 56, 4, 3).mean(axis=(1, 3))  # noqa: E731
    np.testing.assert_allclose(blocks(fixed), blocks(dirty), atol=1e-5)


def test_a_picture_without_a_lattice_barely_changes():
    clean = _smooth(128, 192, seed=2)
    assert _psnr(remove_lattice(clean.copy(), 4), clean) > 38


def test_ragged_edges_and_read_only_input_are_handled():
    img = _smooth(50, 70)  # not multiples of 4
    img.setflags(write=False)
    out = remove_lattice(img, 4)
    assert out.shape == img.shape and out is not img
    np.testing.assert_array_equal(out[48:], img[48:])  # beyond the last whole block: as it was
    np.testing.assert_array_equal(out[:, 68:], img[:, 68:])


@pytest.mark.skipif(not (SHARED / "landscape_lake_sherburne.jpg").is_file(),
                    reason="needs ../shared/images")
@pytest.mark.parametrize("model", ["starry_night", "udnie"])
def test_the_shipped_networks_paint_no_lattice(model):
    photo = load_picture(SHARED / "landscape_lake_sherburne.jpg")
    out = fast.stylize(photo, FastParams(model=model)).rgb
    gray = np.asarray(out, np.float32).mean(axis=2)
    assert lattice_strength(gray, 4) < 2.5  # 24.5 for Starry Night before the removal


def test_stroke_size_repaints_smaller_and_returns_the_photos_size(tmp_path, monkeypatch):
    write_tiny_model(tmp_path, "tiny")
    monkeypatch.setenv("NST_MODEL_PATH", str(tmp_path))
    rng = np.random.default_rng(3)
    u8 = (_smooth(300, 420) * 255 + rng.normal(0, 3, (300, 420, 3))).clip(0, 255).astype(np.uint8)
    eight = fast.stylize(Picture(u8=u8), FastParams(model="tiny", stroke_size=3.0))
    assert eight.info["working_size"] == [140, 100]
    assert np.asarray(eight.rgb).shape == (300, 420, 3)
    float_path = fast.stylize(u8.astype(np.float32) / 255, FastParams(model="tiny",
                                                                      stroke_size=3.0))
    diff = np.abs(np.asarray(eight.rgb, np.float32) / 255 - float_path.rgb)
    assert np.mean(diff) < 1.0 / 255 and np.max(diff) < 8.0 / 255  # 8-bit rounding only
    # The photo's fine detail above the working size is in the result.
    full = fast.stylize(Picture(u8=u8), FastParams(model="tiny", working_size=420))
    assert full.info["working_size"] == [420, 300]
