"""A' (or B) refined towards the reference's feature patches: a departure from Liao et al.

The paper's A' is the reference's pixels voted through the finest field: every pixel is the
painting's, but the pieces are smaller than the 40-100 px that a relu3_1 / relu4_1 patch sees, so
A''s deep features are new combinations rather than the painting's own patches (docs/analogy.md,
"Quality": nst_score's `patch` only 15 % below the photo's). This stage starts from that voted
picture and runs the patch style objective of `engine.gatys` on it: content = the photo at
relu4_2, style = every 3 x 3 patch of relu3_1 and relu4_1 pulled to its nearest patch of the
reference, re-matched every REMATCH iterations (patch style: every 10), TV smoothing;
the same normalised units as `stylize --style-loss patch`: the first COARSE of the iterations at
half the analogy's working size, the rest at that size (see COARSE below). The patch weight is
`refine_weight` (2 by default, patch style's is 1: docs/analogy.md, "Stroke refinement").

Because the first match is made from the voted A' -- already the reference's colours arranged
by the semantic correspondence -- the patches found are, for the most part, those of the
corresponding parts of the reference (eye to eye), not what a free CNNMRF run from the photo
would pick. `refine_iterations = 0` returns the paper's A' unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from engine.analogy.patchmatch import Field
from engine.backbone import Backbone
from engine.cancel import CancelToken
from engine.contract import GatysParams, Optimizer
from engine.gatys import patches
from engine.gatys.features import CONTENT_LAYER
from engine.gatys.losses import ContentLoss
from engine.gatys.optimise import Objective, Weights, optimise
from engine.gatys.transfer import PATCH_UNIT, TV_UNIT, vgg_features

LAYERS = ("relu3_1", "relu4_1")  # what patch style (and the yardstick's `patch`) matches
_PATCH = GatysParams()  # patch style's defaults: patch size, stride, TV weight
# Re-matched every 2 evaluations, five times as often as patch style (10): the voted start is far
# from the reference's patches, so the matches go stale quickly. Session 10 measured (30
# iterations, weight 2, 448 px, nst_score patch / content): raccoon x Great Wave 0.498 / 0.675
# every 10, 0.476 / 0.716 every 5, 0.474 / 0.726 every 3, 0.461 / 0.752 every 2, and chose 5
# when a match of both layers cost 2.7 s. Since the match is a convolution (engine.gatys.patches,
# session 12: 1.0 s) every 2 costs ~6 s more than every 5 one way, and at the same patch weight
# it moves the trade-off rather than sliding along it. Session 12, on cached matches
# (runs/r12/exp.py, the default stages; patch / content; in-memory scores, ~0.008 below the
# CLI's): every 5, weight 2: raccoon 0.469 / 0.741, kitten x Woman with a Hat 0.612 / 0.677;
# every 2 (both stages), weight 2: 0.449 / 0.784, 0.579 / 0.719; weight 1.75: 0.455 / 0.749,
# 0.585 / 0.682; every 3 (coarse 2), weight 2: 0.456 / 0.772, 0.589 / 0.709. Also tried: the
# relu3_1 patches at stride 1 in the coarse stage (raccoon 0.444 / 0.789 with every 2: content for
# little), a denser schedule early (0, 1, 2, 4, 6, 9, 12, 16: as every 3). Earlier, not kept: the
# reference's relu4_1 patches at stride 1 (raccoon 0.487 / 0.700 every 5), weight 3 (0.487 /
# 0.752), starting from a softened A' (0.495-0.501).
REMATCH = 2
# The first COARSE of the iterations run at half size (a quarter of the pixels, so about a quarter
# of the time each), at COARSE_WEIGHT x the patch weight; only the change they make is brought
# up to full size. At half size the same 3 x 3 relu3_1 / relu4_1 patches cover twice the
# picture, so the coarse stage moves the larger strokes cheaply and the full-size iterations
# start nearer the reference's patches. Measured on cached matches (runs/r11/exp8.py, 448 px,
# nst_score patch / content, seconds of refinement + scoring), against 30 full-size iterations
# (raccoon x Great Wave 0.476 / 0.716, 69.9 s; kitten x Woman with a Hat 0.605 / 0.632, 60.5 s):
#   12 at half size (weight 0.5 x) + 20 full: raccoon 0.468 / 0.746, 51.5 s; kitten 0.596 / 0.666,
#   50.9 s (the default: 32 iterations);
#   12 at half size (0.25 x) + 24 full: raccoon 0.470 / 0.728, 57.2 s; kitten 0.592 / 0.629, 52.9 s;
#   22 full, no coarse stage: raccoon 0.495 / 0.700, kitten 0.629 / 0.615.
# Not kept: the coarse result itself upsampled as the start (blurs the voted detail; B' = A
# would no longer give A); content at relu4_1 to skip conv4_2 (-8 s; raccoon 0.471 / 0.771);
# the full weight at half size (15 there, result as the start, + 20: raccoon 0.448 / 0.831: the
# face dissolves into wave crests).
COARSE = 3 / 8
COARSE_WEIGHT = 0.5
SHRINK = 2  # the coarse stage's pictures are 1/SHRINK of the working size on each side
MIN_COARSE_SIDE = 32  # px of the half-size pictures: relu4_1 then has 4 cells, room for a patch
STRIDE = _PATCH.patch_stride  # the reference's patches are taken every STRIDE cells


def guide_corners(fld: Field, shape: tuple[int, int], target: tuple[int, int], k: int
                  ) -> Tensor:
    """For every k x k patch position of a (h, w) feature map of the picture (row-major), the
    flat top-left corner, in the reference's (hb, wb) map of the same layer, of the patch that
    the pixel field `fld` (picture -> reference, at the pictures' working size) puts under its
    centre."""
    h, w = shape
    hb, wb = target
    big_h, big_w = fld.index.shape
    ref_h, ref_w = fld.target
    gy, gx = torch.meshgrid(torch.arange(h - k + 1), torch.arange(w - k + 1), indexing="ij")
    py = ((gy + k // 2 + 0.5) * big_h / h).long().clamp(0, big_h - 1)
    px = ((gx + k // 2 + 0.5) * big_w / w).long().clamp(0, big_w - 1)
    ty, tx = (t[py, px] for t in fld.yx)
    cy = ((ty + 0.5) * hb / ref_h).long() - k // 2
    cx = ((tx + 0.5) * wb / ref_w).long() - k // 2
    return (cy.clamp(0, hb - k) * wb + cx.clamp(0, wb - k)).reshape(-1)


def _shrink(t: Tensor) -> Tensor:
    return F.interpolate(t[None], scale_factor=1 / SHRINK, mode="bilinear", antialias=True,
                         align_corners=False)[0].clamp(0.0, 1.0)


def stages(iterations: int, shape: tuple[int, int], ref_shape: tuple[int, int]
           ) -> tuple[int, int]:
    """(iterations at half size, iterations at full size) for `iterations` in all: COARSE of
    them at half size, unless half of either picture would be too small for a relu4_1 patch."""
    small = min(*shape, *ref_shape) // SHRINK < MIN_COARSE_SIDE
    coarse = 0 if small or iterations < 2 else round(iterations * COARSE)
    return coarse, iterations - coarse


def _objective(photo: Tensor, reference: Tensor, fld: Field, weight: float, net: Backbone,
               device: torch.device, dtype: torch.dtype | None) -> Objective:
    fc = vgg_features(net, photo[None].to(device), dtype, device, (*LAYERS, CONTENT_LAYER))
    maps = vgg_features(net, reference[None].to(device), dtype, device, LAYERS)
    losses = {}
    for name in LAYERS:
        k = _PATCH.patch_size
        bank = patches.build_bank([maps[name]], [1.0], k, STRIDE, dtype)
        guide = guide_corners(fld, tuple(fc[name].shape[2:]), tuple(maps[name].shape[2:]), k)
        losses[name] = patches.PatchLoss(bank, fc[name], REMATCH, guide=guide.to(device),
                                         guide_row=maps[name].shape[3])
    return Objective(net, ContentLoss(fc[CONTENT_LAYER]), losses,
                     Weights(1.0, PATCH_UNIT * weight, TV_UNIT * _PATCH.tv_weight), dtype)


def refine(picture: Tensor, photo: Tensor, reference: Tensor, fld: Field, *, iterations: int,
           weight: float, net: Backbone, device: torch.device, dtype: torch.dtype | None,
           step: Callable[[int, float], None], cancel: CancelToken) -> Tensor:
    """`picture` (3, h, w, 0..1; the voted A') after `iterations` L-BFGS steps of the patch
    objective in all (`stages`: first at half size, then at full size); `photo` (3, h, w) is the
    structure kept, `reference` (3, H, W) the patches, `fld` the analogy's pixel field from
    `picture` to `reference` (each patch's guided candidate; the field is in proportions of the
    pictures, so it serves both sizes)."""
    coarse, fine = stages(iterations, tuple(picture.shape[1:]), tuple(reference.shape[1:]))
    image = picture[None].to(device).float().clone()
    if coarse:
        objective = _objective(_shrink(photo), _shrink(reference), fld, weight * COARSE_WEIGHT, net,
                               device, dtype)
        start = _shrink(picture)[None].to(device)
        small = optimise(start.clone(), objective, coarse, Optimizer.LBFGS,
                         lambda i, losses: step(i, losses.get("total", 0.0)), cancel)
        del objective
        # Only the change is brought up: the voted picture's own fine detail (the reference's
        # pixels) stays, and where the coarse stage changed nothing (B' = A) A' is untouched.
        image = (image + F.interpolate(small - start, size=tuple(picture.shape[1:]),
                                       mode="bicubic", align_corners=False)).clamp(0.0, 1.0)
    objective = _objective(photo, reference, fld, weight, net, device, dtype)
    out = optimise(image, objective, fine, Optimizer.LBFGS,
                   lambda i, losses: step(coarse + i, losses.get("total", 0.0)), cancel)
    return out[0].detach().float().cpu()
