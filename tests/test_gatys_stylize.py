"""engine.gatys.stylize end to end on tiny images: what each option promises."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from engine import compose, pipeline
from engine.cancel import CancelToken
from engine.contract import Device, GatysParams, Init, JobRequest, Method, Optimizer
from engine.errors import BadImage, BadParameter, Cancelled, DeviceUnavailable
from engine.gatys import stylize
from engine.images import Picture, resize_rgb

SIZE = 64


def _photo(h: int = 40, w: int = 60) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([xx / w, yy / h, 0.5 + 0.4 * np.sin(xx / 5) * np.cos(yy / 7)], axis=2)
    return np.clip(rgb, 0, 1).astype(np.float32)


def _stripes(h: int = 48, w: int = 48, period: int = 6, hue=(1.0, 0.2, 0.1)) -> np.ndarray:
    xx = np.arange(w)[None, :].repeat(h, 0)
    on = ((xx // (period // 2)) % 2).astype(np.float32)[..., None]
    return (on * np.array(hue, np.float32) + (1 - on) * 0.05).astype(np.float32)


def _dots(h: int = 48, w: int = 48) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    on = (((xx % 8) - 4) ** 2 + ((yy % 8) - 4) ** 2 < 6).astype(np.float32)[..., None]
    return (on * np.array([0.1, 0.3, 1.0], np.float32) + (1 - on) * 0.9).astype(np.float32)


def _params(**kw) -> GatysParams:
    base = dict(size=SIZE, iterations=4, multiscale=False)
    base.update(kw)
    return GatysParams(**base)


def test_returns_processing_size_and_lowers_style_loss() -> None:
    photo, style = _photo(), _stripes()
    seen = []
    # 12 iterations: in float32 (CPUs without native bf16) 8 left the loss at 0.90, in bf16 lower.
    result = stylize(photo, [style], _params(iterations=12), progress=seen.append)
    assert result.rgb.shape == (43, 64, 3)  # longest side = size, aspect kept
    assert result.rgb.dtype == np.float32 and 0 <= result.rgb.min() and result.rgb.max() <= 1
    assert result.info["style_loss"] < 0.9  # started at 1 (the photo itself)
    assert result.info["iterations"] == 12 and len(seen) == 12
    assert seen[-1].fraction == pytest.approx(1.0)
    assert all(a.fraction <= b.fraction for a, b in zip(seen, seen[1:], strict=False))
    assert result.info["params"]["size"] == SIZE


def test_multiscale_runs_every_scale() -> None:
    result = stylize(_photo(80, 120), [_stripes()], GatysParams(size=256, iterations=1))
    assert [s[0] for s in result.info["scales"]] == [128, 256]
    assert result.rgb.shape[1] == 256


def test_keep_colors_keeps_the_photos_chroma() -> None:
    photo = _photo()
    result = stylize(photo, [_stripes()], _params(keep_colors=True))
    original = compose.rgb_to_yiq(resize_rgb(photo, (64, 43)))
    styled = compose.rgb_to_yiq(result.rgb)
    chroma_error = np.abs(styled[..., 1:] - original[..., 1:]).max(axis=2)
    # I and Q are the photo's, except where the new luminance pushed a pixel out of 0..1 and it
    # had to be clipped.
    assert (chroma_error < 1e-3).mean() > 0.9
    assert chroma_error.mean() < 0.01
    # ... while luminance did change (it is the styled part).
    assert np.abs(styled[..., 0] - original[..., 0]).mean() > 0.01


def test_style_blend_weights() -> None:
    photo, a, b = _photo(), _stripes(), _dots()
    p = _params()
    only_a = stylize(photo, [a], p).rgb
    weighted_a = stylize(photo, [a, b], _params(style_weights=(1.0, 0.0))).rgb
    weighted_b = stylize(photo, [a, b], _params(style_weights=(0.0, 2.0))).rgb
    only_b = stylize(photo, [b], p).rgb
    assert np.abs(weighted_a - only_a).max() < 1e-4
    assert np.abs(weighted_b - only_b).max() < 1e-4
    mixed = stylize(photo, [a, b], _params(style_weights=(1.0, 1.0))).rgb
    assert np.abs(mixed - only_a).mean() > 1e-3 and np.abs(mixed - only_b).mean() > 1e-3


def test_bad_style_weights() -> None:
    with pytest.raises(BadParameter, match="2 weights given for 1"):
        stylize(_photo(), [_stripes()], _params(style_weights=(1.0, 2.0)))
    with pytest.raises(BadParameter, match="above 0"):
        stylize(_photo(), [_stripes(), _dots()], _params(style_weights=(0.0, 0.0)))
    with pytest.raises(BadImage):
        stylize(_photo(), [], _params())


def test_mask_keeps_content_outside() -> None:
    photo = _photo(43, 64)
    mask = np.zeros((43, 64), np.float32)
    mask[:, 32:] = 1.0
    request = JobRequest(Method.GATYS, _params(iterations=10))
    out, _ = pipeline.run(request, Picture(photo), [Picture(_stripes())], mask)
    assert np.abs(out.rgb[:, :30] - photo[:, :30]).max() < 1e-6
    assert np.abs(out.rgb[:, 34:] - photo[:, 34:]).mean() > 0.01


def test_masked_run_styles_only_inside_region() -> None:
    photo = _photo(43, 64)
    mask = np.zeros((43, 64), np.float32)
    mask[:, 32:] = 1.0
    result = stylize(photo, [_stripes()], _params(iterations=6), mask=mask)
    assert result.info["style_loss"] < 0.95


def test_seed_reproducibility() -> None:
    p = _params(init=Init.NOISE, seed=7)
    one = stylize(_photo(), [_stripes()], p).rgb
    two = stylize(_photo(), [_stripes()], p).rgb
    other = stylize(_photo(), [_stripes()], _params(init=Init.NOISE, seed=8)).rgb
    assert np.abs(one - two).max() < 1e-5
    assert np.abs(one - other).mean() > 1e-3


def test_global_generator_untouched() -> None:
    """Jobs share the server's process: a run draws from its own seeded generator only
    (docs/architecture.md, "Adding a method")."""
    torch.manual_seed(123)
    before = torch.get_rng_state()
    stylize(_photo(), [_stripes()], _params(init=Init.NOISE, seed=7))
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("init", [Init.CONTENT, Init.STYLE])
def test_init_and_adam(init: Init) -> None:
    result = stylize(_photo(), [_stripes()], _params(init=init, optimizer=Optimizer.ADAM))
    assert result.rgb.shape == (43, 64, 3) and np.isfinite(result.rgb).all()


def test_cancel_within_one_iteration() -> None:
    token = CancelToken()
    seen = []

    def progress(event) -> None:
        seen.append(event.iteration)
        if event.iteration == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        stylize(_photo(), [_stripes()], _params(iterations=50), progress=progress, cancel=token)
    assert seen == [1, 2]  # the very next evaluation saw the cancel


def test_cancel_from_another_thread() -> None:
    token = CancelToken()
    started = threading.Event()
    timer = threading.Thread(target=lambda: (started.wait(30), token.cancel()))
    timer.start()
    with pytest.raises(Cancelled):
        stylize(_photo(), [_stripes()], _params(iterations=5000),
                progress=lambda e: started.set(), cancel=token)
    timer.join()


def test_cuda_asked_without_cuda() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(DeviceUnavailable):
        stylize(_photo(), [_stripes()], _params(device=Device.CUDA))


def test_light_scale_refines_the_result_so_far(monkeypatch) -> None:
    """Above 512 px the default plan ends with a light scale: VGG19 to relu3_1 only, and the
    content target is the result so far (enlarged), not the photo. (Thresholds lowered here so
    that the test runs at thumbnail sizes.)"""
    import torch

    from engine.backbone import shared_backbone
    from engine.contract import FineScales, Pooling
    from engine.gatys import schedule, transfer
    from engine.gatys.features import Depth

    monkeypatch.setattr(schedule, "LIGHT_ABOVE", 96)
    monkeypatch.setattr(schedule, "LIGHT_FROM", 120)
    photo, style = _photo(60, 90), _stripes(48, 48)
    big = stylize(photo, [style], GatysParams(size=160, iterations=18))
    assert big.info["light_scales"] == 1 and big.rgb.shape == (107, 160, 3)
    assert [s[0] for s in big.info["scales"]] == [80, 160]
    assert big.info["style_loss"] < 0.9  # the light scale still styles (relu1_1..relu3_1)
    full = stylize(photo, [style], GatysParams(size=160, iterations=6,
                                                fine_scales=FineScales.FULL))
    assert full.info["light_scales"] == 0

    net = shared_backbone(Pooling.MAX, "cpu")
    stage = schedule.Stage(160, 107, 6, Depth.STROKES)
    photo_t = transfer._tensor(resize_rgb(photo, (160, 107)), torch.device("cpu"))
    previous = torch.rand_like(photo_t)
    content, styles = transfer._targets(net, photo_t, [style], [1.0], stage, GatysParams(),
                                        None, None, torch.device("cpu"), previous=previous)
    assert sorted(styles) == ["relu1_1", "relu2_1", "relu3_1"]
    with torch.no_grad():
        want = net(previous, ["relu3_1"])["relu3_1"]
        photo_f = net(photo_t, ["relu3_1"])["relu3_1"]
    assert torch.allclose(content.target, want)
    assert not torch.allclose(content.target, photo_f)
    # a full scale keeps the photo as its content target, at relu4_2
    content, styles = transfer._targets(net, photo_t, [style], [1.0],
                                        schedule.Stage(160, 107, 6), GatysParams(), None, None,
                                        torch.device("cpu"), previous=previous)
    assert len(styles) == 5
    with torch.no_grad():
        assert torch.allclose(content.target, net(photo_t, ["relu4_2"])["relu4_2"])


def test_a_light_scale_starts_from_the_upscaler_networks_enlargement(monkeypatch) -> None:
    """Before a light scale the result so far is enlarged by the installed upscaler network
    (what `python -m engine upscale` gives), not bilinearly; with no network installed, and
    between full scales, bilinearly."""
    import torch
    import torch.nn.functional as F

    from engine import upscale
    from engine.contract import Upscale
    from engine.gatys import transfer
    from engine.gatys.features import Depth
    from engine.gatys.schedule import Stage

    assert upscale.find_network() is not None  # the shipped x4 network
    small = transfer._tensor(_photo(30, 40), torch.device("cpu"))
    rgb = small[0].permute(1, 2, 0).numpy()
    light, full = Stage(160, 120, 2, Depth.STROKES), Stage(160, 120, 2)
    sharp, _ = upscale.to_size(rgb, (160, 120), Upscale.SHARP)
    bilinear = F.interpolate(small, size=(120, 160), mode="bilinear", align_corners=False)
    assert torch.allclose(transfer._enlarge(small, light, "cpu")[0].permute(1, 2, 0),
                          torch.from_numpy(sharp), atol=1e-6)
    assert torch.allclose(transfer._enlarge(small, full, "cpu"), bilinear, atol=1e-6)
    assert not torch.allclose(bilinear[0].permute(1, 2, 0), torch.from_numpy(sharp), atol=1e-2)
    # a cancel reaches the network's tiles
    from engine.cancel import CancelToken
    from engine.errors import Cancelled

    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        transfer._enlarge(small, light, "cpu", token)
    monkeypatch.setattr(upscale, "find_network", lambda: None)
    assert torch.allclose(transfer._enlarge(small, light, "cpu"), bilinear, atol=1e-6)
