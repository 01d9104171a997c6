"""Colour preservation, luminance matching and the strength / mask blend."""

from __future__ import annotations

import numpy as np

from engine import compose


def _rand(seed: int, shape=(8, 9, 3)) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.2, 0.8, shape).astype(np.float32)


def test_yiq_round_trip() -> None:
    rgb = _rand(0)
    assert np.allclose(compose.yiq_to_rgb(compose.rgb_to_yiq(rgb)), rgb, atol=1e-5)
    assert np.allclose(compose.luminance(np.ones((1, 1, 3), np.float32)), 1.0)


def test_keep_colors_takes_luminance_from_styled_chroma_from_original() -> None:
    styled, original = _rand(1), _rand(2)
    # Keep the styled luminance close to the original so nothing is clipped.
    styled = np.clip(original + 0.1 * (styled - 0.5), 0, 1).astype(np.float32)
    out = compose.keep_colors(styled, original)
    yo, ys, yk = (compose.rgb_to_yiq(x) for x in (original, styled, out))
    assert np.allclose(yk[..., 0], ys[..., 0], atol=1e-5)
    assert np.allclose(yk[..., 1:], yo[..., 1:], atol=1e-5)


def test_match_luminance_grey_with_content_statistics() -> None:
    style, content = _rand(3), _rand(4) * 0.5
    grey = compose.match_luminance(style, content)
    assert np.allclose(grey[..., 0], grey[..., 1]) and np.allclose(grey[..., 1], grey[..., 2])
    y = compose.luminance(grey)
    yc = compose.luminance(content)
    assert abs(y.mean() - yc.mean()) < 1e-3 and abs(y.std() - yc.std()) < 1e-3


def test_blend_strength_and_mask() -> None:
    styled, original = _rand(5), _rand(6)
    assert np.array_equal(compose.blend(styled, original, 1.0), styled)
    assert np.allclose(compose.blend(styled, original, 0.0), original)
    half = compose.blend(styled, original, 0.5)
    assert np.allclose(half, (styled + original) / 2, atol=1e-6)
    mask = np.zeros(styled.shape[:2], np.float32)
    mask[:, :4] = 1.0
    out = compose.blend(styled, original, 1.0, mask)
    assert np.allclose(out[:, :4], styled[:, :4]) and np.allclose(out[:, 4:], original[:, 4:])
