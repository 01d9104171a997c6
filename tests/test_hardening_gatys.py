"""Issue #10 item 3: a wide banner or a tall strip is a normal GIMP layer; Gatys must optimise it
(coarse scales never below what VGG19 takes) or refuse it before any work with a clear message."""

from __future__ import annotations

import numpy as np
import pytest

from engine.contract import GatysParams, JobRequest, Method
from engine.errors import BadImage
from engine.gatys.schedule import VGG_MIN_SIDE, plan, style_size
from engine.images import Picture
from engine.pipeline import run


@pytest.mark.parametrize("wh", [(4000, 300), (100, 1200), (300, 4000), (6000, 200), (512, 512)])
@pytest.mark.parametrize("size", [128, 256, 512, 1024])
def test_every_scale_is_one_vgg19_can_take(wh, size):
    try:
        stages = plan(wh, GatysParams(size=size))
    except BadImage as exc:
        assert "too thin" in exc.message
        return
    assert all(min(s.width, s.height) >= VGG_MIN_SIDE for s in stages), stages


def test_thin_style_images_are_scaled_by_their_short_side():
    assert min(style_size((4000, 30), 64)) >= VGG_MIN_SIDE
    assert style_size((600, 400), 300) == (300, 200)


def _picture(w, h, seed):
    return Picture(np.random.default_rng(seed).random((h, w, 3), dtype=np.float32))


@pytest.mark.parametrize("content_wh, style_wh", [((400, 30), (64, 64)), ((64, 64), (300, 8))])
def test_banner_content_and_strip_style_run(content_wh, style_wh):
    params = GatysParams(size=256, iterations=2, seed=1)
    picture, info = run(JobRequest(Method.GATYS, params), _picture(*content_wh, 0),
                        [_picture(*style_wh, 1)], None, output_size=content_wh)
    assert picture.size == content_wh and np.isfinite(picture.rgb).all()


def test_too_thin_is_refused_before_any_work():
    with pytest.raises(BadImage, match="too thin"):
        run(JobRequest(Method.GATYS, GatysParams(size=512)), _picture(4000, 3, 0),
            [_picture(64, 64, 1)], None)
