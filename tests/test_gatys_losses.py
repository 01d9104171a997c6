"""Gram matrices, losses and the coarse-to-fine plan against values worked out by hand."""

from __future__ import annotations

import pytest
import torch

from engine.contract import QUALITY_ITERATIONS as FINE_ITERATIONS
from engine.contract import GatysParams, Quality
from engine.gatys.features import gram, layer_mask
from engine.gatys.losses import ContentLoss, StyleLoss, TVLoss, blend_grams
from engine.gatys.schedule import MIN_SIDE, plan

# Two channels, one row, two pixels: channel 0 = (1, 2), channel 1 = (3, 4).
F2 = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])


def test_gram_by_hand() -> None:
    # F F^T = [[1+4, 3+8], [3+8, 9+16]], divided by C*H*W = 2*1*2 = 4.
    expected = torch.tensor([[1.25, 2.75], [2.75, 6.25]])
    assert torch.allclose(gram(F2), expected)


def test_masked_gram_by_hand() -> None:
    mask = torch.tensor([[[[1.0, 0.0]]]])
    # Only the first pixel counts: [[1, 3], [3, 9]] / (C * mask area = 2 * 1).
    assert torch.allclose(gram(F2, mask), torch.tensor([[0.5, 1.5], [1.5, 4.5]]))
    # An all-ones mask is the plain Gram.
    assert torch.allclose(gram(F2, torch.ones(1, 1, 1, 2)), gram(F2))


def test_gram_is_fp32_under_bf16_input() -> None:
    g = gram(F2.to(torch.bfloat16))
    assert g.dtype == torch.float32


def test_gram_gradient_matches_plain_autograd() -> None:
    f = torch.randn(1, 3, 4, 5, generator=torch.Generator().manual_seed(0), requires_grad=True)
    plain = f.detach().clone().requires_grad_(True)
    x = plain.reshape(3, -1)
    ((x @ x.t()) / 60).pow(2).sum().backward()
    gram(f).pow(2).sum().backward()
    assert torch.allclose(f.grad, plain.grad, atol=1e-6)
    assert f.grad.abs().sum() > 0


def test_gram_blocks_and_channels_last(monkeypatch) -> None:
    import engine.gatys.features as features

    monkeypatch.setattr(features, "CHUNK_ROWS", 7)  # several blocks, the last one partial
    f = torch.randn(1, 4, 5, 6, generator=torch.Generator().manual_seed(1))
    x = f.reshape(4, -1)
    expected = (x @ x.t()) / (4 * 30)
    for layout in (torch.contiguous_format, torch.channels_last):
        g = f.clone(memory_format=layout).requires_grad_(True)
        out = gram(g)
        assert torch.allclose(out, expected, atol=1e-5)
        out.sum().backward()
        # d/dF sum(F F^T)/n = (1 1^T + 1 1^T) F / n
        manual = (torch.ones(4, 4) * 2 @ x / (4 * 30)).reshape(f.shape)
        assert torch.allclose(g.grad, manual, atol=1e-5)


def test_layer_mask_area_average() -> None:
    mask = torch.tensor([[[[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]]])
    small = layer_mask(mask, torch.zeros(1, 5, 1, 2))
    assert torch.allclose(small, torch.tensor([[[[0.75, 0.0]]]]))


def test_content_loss_by_hand() -> None:
    loss = ContentLoss(torch.tensor([[[[1.0, 2.0]]]]))
    # mean((2-1)^2, (4-2)^2) = 2.5; unit mean(1, 4) = 2.5.
    assert loss(torch.tensor([[[[2.0, 4.0]]]])).item() == pytest.approx(1.0)
    assert loss(torch.tensor([[[[1.0, 2.0]]]])).item() == pytest.approx(0.0)
    assert "target" in dict(loss.named_buffers())


def test_style_loss_units() -> None:
    style_f = torch.tensor([[[[0.0, 2.0]], [[1.0, 1.0]]]])
    target, reference = gram(style_f), gram(F2)
    loss = StyleLoss(target, reference)
    assert loss(F2).item() == pytest.approx(1.0)  # the photo itself: 1 by definition
    assert loss(style_f).item() == pytest.approx(0.0, abs=1e-7)  # Gram matched
    # By hand: target = [[1, 0.5], [0.5, 0.5]]; features 2*style_f give 4*target.
    diff = (3 * target).pow(2).mean() / (reference - target).pow(2).mean()
    assert loss(2 * style_f).item() == pytest.approx(diff.item())
    assert "target" in dict(loss.named_buffers())


def test_style_loss_when_photo_already_matches() -> None:
    g = gram(F2)
    loss = StyleLoss(g, g)  # unit would be 0: falls back to a fraction of the target's energy
    value = loss(2 * F2).item()
    assert value == pytest.approx((3 * g).pow(2).mean().item() / (1e-3 * g.pow(2).mean().item()),
                                  rel=1e-4)


def test_masked_style_loss_ignores_outside() -> None:
    mask = torch.tensor([[[[1.0, 0.0]]]])
    target = gram(F2, mask)
    loss = StyleLoss(target, gram(torch.zeros_like(F2), mask), mask)
    changed = F2.clone()
    changed[..., 1] = 100.0  # outside the mask: no effect
    assert loss(changed).item() == pytest.approx(0.0, abs=1e-7)


def test_tv_loss_by_hand() -> None:
    img = torch.tensor([[[[0.0, 1.0], [1.0, 1.0]]]])
    # horizontal diffs (1, 0) -> 0.5; vertical (1, 0) -> 0.5
    assert TVLoss()(img).item() == pytest.approx(1.0)
    assert TVLoss()(torch.full((1, 3, 4, 4), 0.3)).item() == 0.0


def test_blend_grams_weighted_mean() -> None:
    a, b = torch.eye(2), torch.ones(2, 2)
    assert torch.allclose(blend_grams([a, b], [1.0, 3.0]), 0.25 * a + 0.75 * b)
    assert torch.allclose(blend_grams([a, b], [2.0, 0.0]), a)


def test_plan_coarse_to_fine() -> None:
    stages = plan((600, 400), GatysParams(size=512))
    assert [max(s.width, s.height) for s in stages] == [128, 256, 512]
    assert stages[-1].iterations == FINE_ITERATIONS[Quality.NORMAL]
    assert stages[0].iterations > stages[-1].iterations  # most iterations where they are cheap
    assert (stages[-1].width, stages[-1].height) == (512, 341)


def test_plan_options() -> None:
    single = plan((300, 300), GatysParams(size=512, multiscale=False, iterations=7))
    assert [(s.width, s.iterations) for s in single] == [(512, 7)]
    small = plan((300, 300), GatysParams(size=MIN_SIDE))
    assert len(small) == 1
    high = plan((300, 300), GatysParams(quality=Quality.HIGH))
    draft = plan((300, 300), GatysParams(quality=Quality.DRAFT))
    assert sum(s.cost for s in high) > sum(s.cost for s in draft)


def test_quality_help_names_the_preset_iteration_counts():
    """The help text users read (CLI, GIMP dialog tooltips) states the schedule's real numbers."""
    import dataclasses

    from engine.contract import GatysParams

    field = next(f for f in dataclasses.fields(GatysParams) if f.name == "quality")
    text = field.metadata["help"]
    for quality, n in FINE_ITERATIONS.items():
        assert f"{quality.value} {n}" in text


def test_large_sizes_are_one_full_scale_then_one_light_scale() -> None:
    from engine.contract import FineScales, StyleLoss
    from engine.gatys.features import Depth
    from engine.gatys.schedule import DEPTH_COST, FINEST_FRACTION, HEAD_FRACTION

    big = plan((4000, 3000), GatysParams(size=2048, quality=Quality.DRAFT))
    fine = FINE_ITERATIONS[Quality.DRAFT]
    # the full plan's coarsest scale (a quarter of 2048), from the photo, then the size itself
    assert [(s.width, s.height, s.depth) for s in big] == [(512, 384, Depth.FULL),
                                                         (2048, 1536, Depth.STROKES)]
    assert big[0].iterations == round(fine * 4 * HEAD_FRACTION)
    assert big[1].iterations == round(fine * FINEST_FRACTION) and big[1].light
    assert big[1].cost == 2048 * 1536 * DEPTH_COST[Depth.STROKES] * big[1].iterations
    normal = plan((4000, 3000), GatysParams(size=1024))
    assert [max(s.width, s.height) for s in normal] == [512, 1024]
    assert normal[0].iterations == round(FINE_ITERATIONS[Quality.NORMAL] * 2 * HEAD_FRACTION)
    # the head is the largest halving of the size that is at most 512 px
    assert [max(s.width, s.height) for s in plan((4000, 3000), GatysParams(size=1500))] == [
        375, 1500]
    # full, patch, single-scale and sizes just above 512: the ordinary plan, no light scale
    for params in (GatysParams(size=2048, fine_scales=FineScales.FULL),
                   GatysParams(size=2048, style_loss=StyleLoss.PATCH),
                   GatysParams(size=2048, multiscale=False), GatysParams(size=600)):
        stages = plan((4000, 3000), params)
        assert not any(s.light for s in stages), params
        assert max(stages[-1].width, stages[-1].height) == params.size
    # a banner too thin for a full head scale gets the ordinary plan
    assert not any(s.light for s in plan((4000, 200), GatysParams(size=2048)))
    full = plan((4000, 3000), GatysParams(size=2048, fine_scales=FineScales.FULL))
    assert [max(s.width, s.height) for s in full] == [512, 1024, 2048]
    assert sum(s.cost for s in big) < 0.25 * sum(s.cost for s in full)


def test_content_loss_keeps_no_fp32_copy_and_has_the_plain_gradient() -> None:
    """The blockwise squared distance equals mean((f - t)^2) / |t|^2 in value and gradient, for
    fp32 and bf16 features in either memory layout, and keeps nothing for backward but f and t
    (the plain expression keeps an fp32 copy of f - t: 200 MB at 2048 px)."""
    import torch

    from engine.gatys import losses

    saved: list[tuple[torch.dtype, int]] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.numel() > 1:  # the scalars of the division by the norm aside
            saved.append((t.dtype, t.data_ptr()))
        return t

    gen = torch.Generator().manual_seed(1)
    old = losses.CHUNK
    losses.CHUNK = 64  # several blocks even at this size
    try:
        for dtype in (torch.float32, torch.bfloat16):
            for layout in (torch.contiguous_format, torch.channels_last):
                target = torch.randn(1, 8, 21, 13, generator=gen).to(dtype)
                f = torch.randn(1, 8, 21, 13, generator=gen).to(dtype).contiguous(
                    memory_format=layout)
                loss = losses.ContentLoss(target)
                ours, plain = f.clone().requires_grad_(True), f.clone().requires_grad_(True)
                saved.clear()
                with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                    value = loss(ours)
                assert {p for _, p in saved} <= {ours.data_ptr(), loss.target.data_ptr()}
                want = (plain.float() - target.float()).pow(2).mean() / target.float().pow(
                    2).mean()
                value.backward()
                want.backward()
                assert torch.allclose(value, want, rtol=1e-5)
                assert torch.allclose(ours.grad.float(), plain.grad.float(), rtol=1e-2,
                                      atol=1e-6)
    finally:
        losses.CHUNK = old
