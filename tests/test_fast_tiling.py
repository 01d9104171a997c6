"""Padding and tiling: an identity network comes back exactly; per-tile tone shifts (what
instance norm does) are cross-faded, not cut."""

from __future__ import annotations

import numpy as np
import pytest

from engine.fast.tiling import pad_to, plan, run_tiled


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


def _identity_checked(stride: int, fixed=None):
    def run(x: np.ndarray) -> np.ndarray:
        if fixed is not None:
            assert x.shape[:2] == fixed
        else:
            assert x.shape[0] % stride == 0 and x.shape[1] % stride == 0
        return x.copy()
    return run


@pytest.mark.parametrize("h,w,tile,overlap,stride", [
    (1, 1, 64, 16, 4), (5, 3, 64, 16, 4), (33, 47, 16, 4, 4), (100, 37, 32, 8, 4),
    (257, 511, 128, 32, 4), (64, 64, 64, 16, 4), (65, 130, 40, 12, 1), (300, 200, 96, 48, 8),
])
def test_identity_reassembles_exactly(h, w, tile, overlap, stride):
    img = _image(h, w)
    out = run_tiled(img, _identity_checked(stride), tile=tile, overlap=overlap, stride=stride)
    assert out.shape == img.shape
    np.testing.assert_allclose(out, img, rtol=0, atol=1e-6)


@pytest.mark.parametrize("h,w", [(10, 10), (224, 224), (300, 500), (225, 449)])
def test_fixed_size_network_sees_only_its_size(h, w):
    img = _image(h, w, 1)
    out = run_tiled(img, _identity_checked(1, (224, 224)), tile=0, overlap=32,
                    fixed_size=(224, 224))
    np.testing.assert_allclose(out, img, rtol=0, atol=1e-6)


@pytest.mark.parametrize("h,w,tile,overlap", [(300, 500, 128, 32), (1000, 700, 256, 64),
                                              (2000, 3000, 1024, 128), (4000, 6000, 1024, 128)])
def test_plan_covers_every_pixel_with_equal_tiles_and_little_waste(h, w, tile, overlap):
    covered = np.zeros((h, w), int)
    tiles = plan(h, w, tile, overlap, stride=4)
    sizes = {(t.y1 - t.y0, t.x1 - t.x0) for t in tiles}
    assert len(sizes) == 1
    th, tw = sizes.pop()
    assert th <= tile and tw <= tile and th % 4 == 0 and tw % 4 == 0
    for t in tiles:
        covered[t.y0:t.y1, t.x0:t.x1] += 1
    assert covered.min() >= 1
    # Neighbours overlap by at least `overlap`, and the tiles do not do much more work than that.
    ys, xs = sorted({t.y0 for t in tiles}), sorted({t.x0 for t in tiles})
    assert all(b - a <= th - overlap for a, b in zip(ys, ys[1:], strict=False))
    assert all(b - a <= tw - overlap for a, b in zip(xs, xs[1:], strict=False))
    ny, nx = len(ys), len(xs)
    assert ny * nx * th * tw < 1.1 * (h + (ny - 1) * overlap) * (w + (nx - 1) * overlap)
    assert len(tiles) > 1


def test_tile_tone_shifts_are_feathered_not_cut():
    """Each tile gets its own brightness offset (as instance norm would give it); the blend must
    spread the jump over the overlap instead of leaving a hard seam."""
    img = np.full((256, 256, 3), 0.5, np.float32)
    rng = np.random.default_rng(3)
    jump = 0.2

    def run(x: np.ndarray) -> np.ndarray:
        return x + np.float32(rng.uniform(-jump / 2, jump / 2))

    overlap = 32
    out = run_tiled(img, run, tile=96, overlap=overlap, stride=4)
    step = max(np.abs(np.diff(out, axis=0)).max(), np.abs(np.diff(out, axis=1)).max())
    # A hard seam steps by up to `jump`; a linear cross-fade over `overlap` px by ~jump/overlap.
    assert step < 3 * jump / overlap
    hard = run_tiled(img, run, tile=96, overlap=4, stride=4)
    assert np.abs(np.diff(hard, axis=1)).max() > step  # the test can see a seam when there is one


def test_pad_reflects_and_falls_back_to_edge_for_tiny_images():
    img = _image(3, 2)
    p = pad_to(img, 4, 4)
    assert p.shape == (4, 4, 3)
    np.testing.assert_array_equal(p[:3, :2], img)
    big = _image(10, 10)
    np.testing.assert_array_equal(pad_to(big, 12, 10)[10], big[8])  # reflection


def _marks_its_border(x: np.ndarray) -> np.ndarray:
    """A 'network' that paints its input's outer 4 px, like a trained network's edge artefacts."""
    out = x.copy()
    out[:4] = out[-4:] = 1.0
    out[:, :4] = out[:, -4:] = 1.0
    return out


@pytest.mark.parametrize("h,w,tile", [(100, 140, 512), (37, 53, 64), (300, 200, 96)])
def test_border_margin_keeps_edge_artefacts_outside_the_picture(h, w, tile):
    img = _image(h, w, 2) * 0.5
    ring = np.ones((h, w), bool)
    ring[4:-4, 4:-4] = False
    without = run_tiled(img, _marks_its_border, tile=tile, overlap=16, stride=4)
    # The picture's top and left edges carry the artefact (bottom and right may have the stride's
    # padding beyond them): the test can fail.
    assert (without[:4] == 1.0).all() and (without[:, :4] == 1.0).all()
    out = run_tiled(img, _marks_its_border, tile=tile, overlap=16, stride=4, margin=16)
    if tile >= max(h, w):  # one piece: exactly the picture
        np.testing.assert_allclose(out, img, rtol=0, atol=1e-6)
    else:  # tiled: only where inner tile edges cross the ring (feathered as before) is touched
        err = np.abs(out - img).max(axis=2)[ring]
        assert (err < 1e-6).mean() > 0.9


@pytest.mark.parametrize("h,w,tile,overlap,stride", [(1, 1, 64, 16, 4), (257, 511, 128, 32, 4)])
def test_identity_reassembles_exactly_with_a_margin(h, w, tile, overlap, stride):
    img = _image(h, w)
    out = run_tiled(img, _identity_checked(stride), tile=tile, overlap=overlap, stride=stride,
                    margin=16)
    np.testing.assert_allclose(out, img, rtol=0, atol=1e-6)


def test_margin_must_keep_the_stride_grid():
    with pytest.raises(ValueError, match="multiple of the stride"):
        run_tiled(_image(40, 40), _identity_checked(4), tile=64, overlap=16, stride=4, margin=6)
