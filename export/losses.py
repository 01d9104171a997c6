"""Perceptual loss of Johnson et al. on the engine's own VGG19 (`engine.backbone`), so the fast
networks optimise the same features the Gatys engine and the project's yardstick measure.

Johnson uses VGG16 relu1_2..relu4_3 for style and relu2_2 for content; we use the Gatys layers of
VGG19 (relu{1..5}_1 style, relu4_2 content) because that is what `nst_score.py` scores.
Gram matrices are always computed in float32: in bf16 their sums over H*W lose most of their
mantissa and the style loss turns noisy.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from engine.backbone import Backbone
from engine.gatys.patches import build_bank

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
# The layers and patch size of nst_score.py's `patch` measure, which the patch term optimises.
PATCH_LAYERS = ("relu3_1", "relu4_1")
PATCH_SIZE = 3
# Every n-th painting patch in the bank and every n-th output patch matched per step (with a
# random phase, so over the steps every position is pulled): relu3_1 holds 4x the cells of
# relu4_1 at a quarter of the depth, so striding it keeps both layers' matching at ~10 GFLOP.
PATCH_STRIDE = {"relu3_1": 2, "relu4_1": 1}


def gram(features: torch.Tensor) -> torch.Tensor:
    f = features.float()
    b, c, h, w = f.shape
    f = f.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def total_variation(rgb: torch.Tensor) -> torch.Tensor:
    return ((rgb[..., 1:, :] - rgb[..., :-1, :]).abs().mean()
            + (rgb[..., :, 1:] - rgb[..., :, :-1]).abs().mean())


def content_distance(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error over the target's energy, per sample, then the mean over samples."""
    f, t = features.float(), target.float()
    return (((f - t) ** 2).mean(dim=(1, 2, 3)) / (t.pow(2).mean(dim=(1, 2, 3)) + 1e-8)).mean()


class PatchTerm(nn.Module):
    """Patch (MRF) style for a feed-forward network: the mean cosine distance from each 3x3
    feature patch of the output to its nearest patch of the painting, at relu3_1 and relu4_1.

    The Gram loss alone matches the painting's global statistics; the networks it trains paint
    a texture with the right colours but not the painting's strokes (issue #14: Starry Night's
    patch score barely moved when the style weight went up). This is the measure nst_score.py
    reports, so the network is trained on what it is judged by. Departures from CNNMRF (Li &
    Wand 2016): cosine distance instead of the squared distance to the matched patch (the
    network's outputs vary in contrast, and the Gram term already pins the magnitudes), no
    rotated/scaled copies of the painting (the score does not use them), and a strided subset
    of output patches per step (see PATCH_STRIDE) to keep a CPU step affordable.
    """

    def __init__(self, style_features: dict[str, torch.Tensor],
                 layers: Sequence[str] = PATCH_LAYERS):
        super().__init__()
        self.layers = tuple(layers)
        for i, name in enumerate(self.layers):
            bank = build_bank([style_features[name]], [1.0], PATCH_SIZE, PATCH_STRIDE[name],
                              torch.float32)
            self.register_buffer(f"units_{i}", bank.units)

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        total = next(iter(features.values())).new_zeros((), dtype=torch.float32)
        for i, name in enumerate(self.layers):
            units = getattr(self, f"units_{i}")
            stride = PATCH_STRIDE[name]
            oy, ox = torch.randint(0, stride, (2,)).tolist()
            f = features[name].float()[:, :, oy:, ox:]
            with torch.autocast(f.device.type, enabled=False):
                p = F.unfold(f, PATCH_SIZE, stride=stride).transpose(1, 2)  # (B, L, C*k*k)
                u = p / p.norm(dim=2, keepdim=True).clamp_min(1e-8)
                with torch.no_grad():
                    match = (u @ units.t()).argmax(dim=2)  # (B, L)
                # Per sample, then the mean: equal DDP shards average to the whole batch's value.
                total = total + (1 - (u * units[match]).sum(dim=2)).mean()
        return total / len(self.layers)


class PerceptualLoss(nn.Module):
    """Holds the style Grams as buffers; `forward(output, content)` returns the weighted terms.
    With `patch_weight` > 0 it adds the patch term (PatchTerm) on the same VGG19 pass."""

    def __init__(self, backbone: Backbone, style_rgb01: torch.Tensor, *, style_weight: float,
                 content_weight: float, tv_weight: float, patch_weight: float = 0.0,
                 style_layers: Sequence[str] = STYLE_LAYERS, content_layer: str = CONTENT_LAYER):
        super().__init__()
        self.backbone = backbone
        self.style_layers = tuple(style_layers)
        self.content_layer = content_layer
        self.weights = {"style": style_weight, "content": content_weight, "tv": tv_weight,
                        "patch": patch_weight}
        layers = tuple(dict.fromkeys((*self.style_layers, *PATCH_LAYERS)))
        with torch.no_grad():
            feats = backbone(style_rgb01.float(), layers)
        for i, name in enumerate(self.style_layers):
            self.register_buffer(f"target_{i}", gram(feats[name]))
        self.patch = PatchTerm(feats) if patch_weight > 0 else None

    def forward(self, output: torch.Tensor, content: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            target = self.backbone(content, [self.content_layer])[self.content_layer]
        wanted = (*self.style_layers, *(PATCH_LAYERS if self.patch is not None else ()),
                  self.content_layer)
        feats = self.backbone(output, tuple(dict.fromkeys(wanted)))
        # Normalised by the target's energy so the weight means the same at any layer or dtype.
        # Per sample, then averaged: every term is a plain mean over samples, so data-parallel
        # gradient averaging over equal shards equals the single-process gradient.
        c_loss = content_distance(feats[self.content_layer], target)
        s_loss = output.new_zeros((), dtype=torch.float32)
        for i, name in enumerate(self.style_layers):
            g_target = getattr(self, f"target_{i}")
            g = gram(feats[name])
            # Relative to the target's own scale: the per-layer Gram magnitudes differ by orders
            # of magnitude, and relu5_1 would otherwise not count at all.
            s_loss = s_loss + ((g - g_target) ** 2).mean() / (g_target.pow(2).mean() + 1e-12)
        s_loss = s_loss / len(self.style_layers)
        tv = total_variation(output.float())
        w = self.weights
        total = w["style"] * s_loss + w["content"] * c_loss + w["tv"] * tv
        terms = {"style": s_loss.detach(), "content": c_loss.detach(), "tv": tv.detach()}
        if self.patch is not None:
            p_loss = self.patch(feats)
            total = total + w["patch"] * p_loss
            terms["patch"] = p_loss.detach()
        return {"total": total, **terms}


class BatchStyleLoss(nn.Module):
    """The same perceptual loss when every sample has its own painting (the any-painting
    network's training): `forward(output, content, style_features)` takes the paintings' VGG
    features at `style_layers` (computed once per step by the caller, who also needs them for the
    style codes) and compares each output's Grams with its own painting's. Same normalisations
    as PerceptualLoss, per sample."""

    def __init__(self, backbone: Backbone, *, style_weight: float, content_weight: float,
                 tv_weight: float, style_layers: Sequence[str] = STYLE_LAYERS,
                 content_layer: str = CONTENT_LAYER):
        super().__init__()
        self.backbone = backbone
        self.style_layers = tuple(style_layers)
        self.content_layer = content_layer
        self.weights = {"style": style_weight, "content": content_weight, "tv": tv_weight}

    def forward(self, output: torch.Tensor, content: torch.Tensor,
                style_features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            target = self.backbone(content, [self.content_layer])[self.content_layer]
        feats = self.backbone(output, (*self.style_layers, self.content_layer))
        c_loss = content_distance(feats[self.content_layer], target)
        s_loss = output.new_zeros((), dtype=torch.float32)
        for name in self.style_layers:
            g_target = gram(style_features[name]).detach()
            err = ((gram(feats[name]) - g_target) ** 2).mean(dim=(1, 2))
            s_loss = s_loss + (err / (g_target.pow(2).mean(dim=(1, 2)) + 1e-12)).mean()
        s_loss = s_loss / len(self.style_layers)
        tv = total_variation(output.float())
        w = self.weights
        total = w["style"] * s_loss + w["content"] * c_loss + w["tv"] * tv
        return {"total": total, "style": s_loss.detach(), "content": c_loss.detach(),
                "tv": tv.detach()}
