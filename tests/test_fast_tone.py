"""engine.fast.tone: tiles matched to a low-resolution one-piece reference."""

from __future__ import annotations

import numpy as np
import pytest
from fast_fixtures import write_tiny_model

from engine import fast
from engine.contract import FastParams
from engine.fast.registry import Registry
from engine.fast.tiling import run_tiled
from engine.fast.tone import ToneMatch, cell_means


def _brute_cell_means(a, y0, x0, cell):
    h, w = a.shape[:2]
    ys = np.unique(np.r_[0, np.arange(-y0 % cell, h, cell)])
    xs = np.unique(np.r_[0, np.arange(-x0 % cell, w, cell)])
    ye, xe = np.r_[ys[1:], h], np.r_[xs[1:], w]
    return np.array([[a[y:yy, x:xx].mean(axis=(0, 1)) for x, xx in zip(xs, xe, strict=True)]
                     for y, yy in zip(ys, ye, strict=True)])


@pytest.mark.parametrize("h,w,y0,x0,cell", [(37, 53, 0, 0, 5), (37, 53, 13, 7, 8),
                                            (5, 3, 3, 2, 4), (100, 90, 80, 0, 80),
                                            (80, 80, 0, 0, 80), (3, 200, 1, 199, 16)])
def test_cell_means_follow_the_global_grid_including_cut_cells(h, w, y0, x0, cell):
    a = np.random.default_rng(h * w).random((h, w, 3), dtype=np.float32)
    np.testing.assert_allclose(cell_means(a, y0, x0, cell), _brute_cell_means(a, y0, x0, cell),
                               atol=1e-5)


def _photo(h=300, w=420):
    """Smooth regions of very different brightness: what makes per-tile statistics differ."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    rgb = np.stack([0.15 + 0.7 * (x > 0.5), 0.2 + 0.6 * y, 0.5 + 0.3 * np.sin(9 * x * y)], 2)
    noise = np.random.default_rng(3).normal(0, 0.05, (h, w, 3))
    return np.clip(rgb + noise, 0, 1).astype(np.float32)


def _instance_norm_like(x: np.ndarray) -> np.ndarray:
    """Like a style network's instance norm: each input is normalised by its own statistics, so
    the same pixels come out differently in different tiles."""
    return np.clip((x - x.mean(axis=(0, 1))) * 0.8 + 0.5, 0, 1).astype(np.float32)


def _whole(run):
    return lambda img: run_tiled(img, run, tile=max(img.shape[:2]), overlap=16, stride=4)


def test_identity_network_still_reassembles_exactly():
    img = _photo()
    before = img.copy()
    identity = lambda x: x  # noqa: E731  (returns views of the caller's tile)
    tone = ToneMatch(img, _whole(identity), reference_pixels=20_000, cell=24)
    out = run_tiled(img, identity, tile=128, overlap=32, stride=4, adjust=tone.tile)
    np.testing.assert_allclose(out, img, atol=2e-5)
    np.testing.assert_array_equal(img, before)  # the caller's pixels were never touched


def test_tone_matching_removes_the_per_tile_tone_steps():
    img = _photo()
    one_piece = _instance_norm_like(img)
    plain = run_tiled(img, _instance_norm_like, tile=128, overlap=32, stride=4)
    tone = ToneMatch(img, _whole(_instance_norm_like), reference_pixels=30_000, cell=24)
    matched = run_tiled(img, _instance_norm_like, tile=128, overlap=32, stride=4,
                        adjust=tone.tile)

    def low(a):
        return cell_means(a, 0, 0, 32)

    err_plain = np.abs(low(plain) - low(one_piece)).mean()
    err_matched = np.abs(low(matched) - low(one_piece)).mean()
    assert err_plain > 0.05  # the test network really does drift per tile
    assert err_matched < 0.25 * err_plain
    # Detail is the tile's own: the high frequencies are untouched by the smooth correction.
    hi = lambda a: a - np.repeat(np.repeat(low(a), 32, 0), 32, 1)[:a.shape[0], :a.shape[1]]  # noqa: E731
    assert np.abs(hi(matched) - hi(plain)).mean() < 0.02


def test_stylize_matches_tones_only_when_it_tiles(tmp_path, monkeypatch):
    write_tiny_model(tmp_path, "tiny")
    monkeypatch.setattr(fast, "_registry", Registry([tmp_path]))
    img = _photo(200, 300)
    before = img.copy()
    one = fast.stylize(img, FastParams(model="tiny"))
    assert one.info["tiles"] == 1 and one.info["tone_matched"] is False
    tiled = fast.stylize(img, FastParams(model="tiny", tile=64))
    assert tiled.info["tiles"] > 4 and tiled.info["tone_matched"] is True
    assert tiled.rgb.shape == img.shape and np.isfinite(tiled.rgb).all()
    assert 0.0 <= tiled.rgb.min() and tiled.rgb.max() <= 1.0
    np.testing.assert_array_equal(img, before)


def test_reference_is_never_larger_than_a_tile(tmp_path, monkeypatch):
    """A user who asks for small tiles to save memory gets a reference of at most that size."""
    import engine.fast.tone as tone_mod

    write_tiny_model(tmp_path, "tiny")
    monkeypatch.setattr(fast, "_registry", Registry([tmp_path]))
    seen = []
    real = tone_mod.ToneMatch.__init__

    def spy(self, content, run_whole, reference_pixels=tone_mod.REFERENCE_PIXELS, **kw):
        seen.append(reference_pixels)
        real(self, content, run_whole, reference_pixels=reference_pixels, **kw)
        assert self.reference_cells.size > 0

    monkeypatch.setattr(tone_mod.ToneMatch, "__init__", spy)
    fast.stylize(_photo(200, 300), FastParams(model="tiny", tile=64))
    assert seen == [64 * 64]
