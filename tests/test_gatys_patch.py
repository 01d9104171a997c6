"""Patch (CNNMRF) style: the matching, the loss and its gradient, and the option end to end."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.cancel import CancelToken
from engine.contract import GatysParams, ParamError, PatchLayers, StyleLoss, params_from_dict
from engine.errors import Cancelled
from engine.gatys import stylize
from engine.gatys.patches import (
    PatchLoss,
    augmented,
    build_bank,
    nearest,
    overlap,
    similarity_to,
    target_map,
    weighted_mse,
)


def _brute_force(query: torch.Tensor, maps: list[torch.Tensor], k: int, stride: int
                 ) -> torch.Tensor:
    """Index of the nearest painting patch by cosine similarity, the obvious way."""
    def unit(p: torch.Tensor) -> torch.Tensor:
        return p / p.norm(dim=1, keepdim=True).clamp_min(1e-8)

    q = unit(F.unfold(query, k)[0].t())
    bank = []
    for m in maps:
        _, _, h, w = m.shape
        grid = F.unfold(m, k)[0].t().reshape(h - k + 1, w - k + 1, -1)
        bank.append(grid[::stride, ::stride].reshape(-1, grid.shape[-1]))
    return (q @ unit(torch.cat(bank)).t()).argmax(dim=1)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("block_bytes", [2**26, 4096])  # one block / many bands and blocks
def test_nearest_equals_brute_force(stride: int, block_bytes: int) -> None:
    gen = torch.Generator().manual_seed(stride)
    query = torch.rand((1, 8, 11, 13), generator=gen)
    maps = [torch.rand((1, 8, 9, 10), generator=gen), torch.rand((1, 8, 7, 12), generator=gen)]
    bank = build_bank(maps, [1.0, 1.0], 3, stride, None)
    got = nearest(query, bank, block_bytes=block_bytes)
    assert torch.equal(got, _brute_force(query, maps, 3, stride))


def test_nearest_similarity_and_guided_similarity_are_the_cosines() -> None:
    """The similarity that `nearest` returns with its index, and `similarity_to` for given
    patches, equal the cosine of the unfolded patch vectors; a zero patch has similarity 0."""
    gen = torch.Generator().manual_seed(7)
    query = torch.rand((1, 8, 11, 13), generator=gen) - 0.3
    query[:, :, :3, :3] = 0.0  # one all-zero patch position
    painting = torch.rand((1, 8, 9, 10), generator=gen) - 0.3
    bank = build_bank([painting], [1.0], 3, 1, None)
    q = F.unfold(query, 3)[0].t()
    b = F.unfold(painting, 3)[0].t()
    cos = (q @ b.t()) / (q.norm(dim=1)[:, None].clamp_min(1e-8) * b.norm(dim=1)[None])
    index, value = nearest(query, bank, block_bytes=4096, with_similarity=True)
    assert torch.allclose(value, cos.max(dim=1).values, atol=1e-5)
    assert float(value[0]) == 0.0
    pick = torch.randint(0, len(b), (len(q),), generator=gen)
    got = similarity_to(query, bank.table, bank.corner[pick], bank.row[pick], 3)
    assert torch.allclose(got, cos[torch.arange(len(q)), pick], atol=1e-5)


def test_a_shifted_copy_is_matched_at_the_shift() -> None:
    query = torch.rand((1, 6, 12, 14), generator=torch.Generator().manual_seed(1))
    painting = query[:, :, 2:, 3:]  # the same features, shifted by (2, 3)
    bank = build_bank([painting], [1.0], 3, 1, None)
    index = nearest(query, bank).reshape(10, 12)
    pw = painting.shape[-1]
    y, x = bank.corner[index] // pw, bank.corner[index] % pw
    yy, xx = torch.meshgrid(torch.arange(10), torch.arange(12), indexing="ij")
    inside = (yy >= 2) & (xx >= 3)  # patches that exist in the shifted copy
    assert torch.equal(y[inside], yy[inside] - 2) and torch.equal(x[inside], xx[inside] - 3)


def test_target_map_is_the_painting_when_matched_to_itself() -> None:
    fmap = torch.rand((1, 5, 8, 9), generator=torch.Generator().manual_seed(2))
    bank = build_bank([fmap], [1.0], 3, 1, None)
    target = target_map(nearest(fmap, bank), bank, fmap.shape)
    assert torch.allclose(target, fmap, atol=1e-6)


def test_patch_mse_is_the_cnnmrf_loss_with_an_exact_gradient() -> None:
    """Between re-matches, sum_p |patch_p(F) - S_p|^2 and the overlap-weighted MSE to the folded
    target have proportional gradients, and the MSE's gradient passes a numerical check."""
    gen = torch.Generator().manual_seed(3)
    k, c, h, w = 3, 3, 6, 7
    feats = torch.rand((1, c, h, w), generator=gen, dtype=torch.float64, requires_grad=True)
    matched = torch.rand((c * k * k, (h - k + 1) * (w - k + 1)), generator=gen,
                         dtype=torch.float64)  # any fixed set of matched painting patches
    count = overlap(h, w, k).double()
    target = F.fold(matched[None], (h, w), k) / count
    explicit = (F.unfold(feats, k)[0] - matched).pow(2).sum()
    (g_explicit,) = torch.autograd.grad(explicit, feats)
    mse = weighted_mse(feats, target, count)
    (g_mse,) = torch.autograd.grad(mse, feats)
    assert torch.allclose(g_explicit, g_mse * c * count.sum(), atol=1e-10)
    assert torch.autograd.gradcheck(lambda f: weighted_mse(f, target, count), (feats,))


def test_patch_loss_gradient_numerically() -> None:
    gen = torch.Generator().manual_seed(4)
    painting = torch.rand((1, 4, 7, 7), generator=gen)
    photo = torch.rand((1, 4, 6, 6), generator=gen)
    mask = torch.zeros((1, 1, 6, 6))
    mask[..., :, :3] = 1.0
    loss = PatchLoss(build_bank([painting], [1.0], 3, 1, None), photo, rematch=10**6, mask=mask)
    assert float(loss(photo)) == pytest.approx(1.0)  # the photo is the unit
    x = photo.double().requires_grad_(True)
    assert torch.autograd.gradcheck(loss, (x,))
    (grad,) = torch.autograd.grad(loss(x), x)
    assert grad[..., 3:].abs().max() == 0 and grad[..., :3].abs().max() > 0  # style only inside


def test_rematches_on_schedule() -> None:
    gen = torch.Generator().manual_seed(5)
    photo = torch.rand((1, 4, 6, 6), generator=gen)
    loss = PatchLoss(build_bank([torch.rand((1, 4, 8, 8), generator=gen)], [1.0], 3, 1, None),
                     photo, rematch=3)
    for _ in range(7):
        loss(photo)
    assert len(loss.match_seconds) == 1 + 3  # construction, then calls 0, 3 and 6


def test_several_paintings_contribute_in_proportion_to_their_weights() -> None:
    a, b = torch.rand((1, 4, 22, 22)), torch.rand((1, 4, 22, 22))
    bank = build_bank([a, b], [1.0, 0.25], 3, 1, None)
    from_a = int((bank.corner < 22 * 22).sum())
    assert from_a == 400 and len(bank.corner) - from_a == 100
    assert len(build_bank([a, b], [1.0, 0.0], 3, 1, None).corner) == 400


def test_augmented_copies_keep_the_painting_and_add_four() -> None:
    rgb = np.random.default_rng(0).random((30, 40, 3)).astype(np.float32)
    copies = augmented(rgb)
    assert len(copies) == 5 and copies[0] is rgb
    assert all(c.ndim == 3 and c.shape[2] == 3 and 0 <= c.min() and c.max() <= 1
               for c in copies)


# ------------------------------------------------------------------------ end to end (VGG19)

def _photo(h: int = 48, w: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([xx / w, yy / h, 0.5 + 0.4 * np.sin(xx / 5) * np.cos(yy / 7)], axis=2)
    return np.clip(rgb, 0, 1).astype(np.float32)


def _stripes(h: int = 64, w: int = 64) -> np.ndarray:
    on = ((np.arange(w)[None, :].repeat(h, 0) // 3) % 2).astype(np.float32)[..., None]
    return (on * np.array([1.0, 0.2, 0.1], np.float32) + (1 - on) * 0.05).astype(np.float32)


def _params(**kw) -> GatysParams:
    base = dict(size=64, iterations=6, multiscale=False, style_loss=StyleLoss.PATCH)
    base.update(kw)
    return GatysParams(**base)


def test_painting_made_of_the_photo_leaves_the_photo() -> None:
    photo = _photo()
    result = stylize(photo, [photo], _params(patch_stride=1, tv_weight=0.0))
    assert result.info["style_loss"] < 0.02
    assert np.abs(result.rgb - photo).mean() < 0.01
    assert result.info["patch_matches"] >= 2


def test_patch_style_moves_towards_the_painting() -> None:
    result = stylize(_photo(), [_stripes()], _params(iterations=10, patch_rematch=3))
    assert result.info["style_loss"] < 0.8  # 1 = the photo itself
    assert result.rgb.shape == (48, 64, 3) and np.isfinite(result.rgb).all()
    assert result.info["patch_matches"] == 2 * (1 + 4)  # 2 layers x (set-up + calls 0,3,6,9)


def test_patch_style_with_mask_blend_and_augmentation_runs() -> None:
    mask = np.zeros((48, 64), np.float32)
    mask[:, :32] = 1.0
    result = stylize(_photo(), [_stripes(), _photo()[::-1]],
                     _params(iterations=2, patch_augment=True, patch_layers=PatchLayers.RELU3,
                             style_weights=(2.0, 1.0)), mask=mask)
    assert result.rgb.shape == (48, 64, 3) and np.isfinite(result.rgb).all()


def test_patch_cancel_within_one_iteration() -> None:
    token = CancelToken()
    seen = []

    def progress(event) -> None:
        seen.append(event.iteration)
        if event.iteration == 1:
            token.cancel()

    with pytest.raises(Cancelled):
        stylize(_photo(), [_stripes()], _params(iterations=50), progress=progress, cancel=token)
    assert seen == [1]


@pytest.mark.parametrize("data, field", [
    ({"style_loss": "mrf"}, "style_loss"), ({"style_loss": 3}, "style_loss"),
    ({"patch_size": 0}, "patch_size"), ({"patch_size": 8}, "patch_size"),
    ({"patch_size": 2.5}, "patch_size"), ({"patch_size": "big"}, "patch_size"),
    ({"patch_layers": "relu5_1"}, "patch_layers"), ({"patch_rematch": 0}, "patch_rematch"),
    ({"patch_rematch": 1001}, "patch_rematch"), ({"patch_stride": 5}, "patch_stride"),
    ({"patch_stride": True}, "patch_stride"), ({"patch_augment": "maybe"}, "patch_augment"),
])
def test_bad_patch_values_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(ParamError) as err:
        params_from_dict(GatysParams, data)
    assert err.value.name == field and field in str(err.value)


def test_patch_values_parse() -> None:
    p = params_from_dict(GatysParams, {"style_loss": "PATCH", "patch_size": "5",
                                       "patch_layers": "relu3_1+relu4_1", "patch_rematch": 4,
                                       "patch_stride": 1, "patch_augment": "on"})
    assert (p.style_loss, p.patch_size, p.patch_layers, p.patch_rematch, p.patch_stride,
            p.patch_augment) == (StyleLoss.PATCH, 5, PatchLayers.RELU3_RELU4, 4, 1, True)
    assert GatysParams().style_loss is StyleLoss.GRAM  # today's behaviour is the default


def test_cli_has_the_derived_flags() -> None:
    out = subprocess.run([sys.executable, "-m", "engine", "stylize", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for flag in ("--style-loss", "--patch-size", "--patch-layers", "--patch-rematch",
                 "--patch-stride", "--patch-augment"):
        assert flag in out
