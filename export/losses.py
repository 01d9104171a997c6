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
from torch import nn

from engine.backbone import Backbone

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"


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


class PerceptualLoss(nn.Module):
    """Holds the style Grams as buffers; `forward(output, content)` returns the weighted terms."""

    def __init__(self, backbone: Backbone, style_rgb01: torch.Tensor, *, style_weight: float,
                 content_weight: float, tv_weight: float,
                 style_layers: Sequence[str] = STYLE_LAYERS, content_layer: str = CONTENT_LAYER):
        super().__init__()
        self.backbone = backbone
        self.style_layers = tuple(style_layers)
        self.content_layer = content_layer
        self.weights = {"style": style_weight, "content": content_weight, "tv": tv_weight}
        with torch.no_grad():
            feats = backbone(style_rgb01.float(), self.style_layers)
        for i, name in enumerate(self.style_layers):
            self.register_buffer(f"target_{i}", gram(feats[name]))

    def forward(self, output: torch.Tensor, content: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            target = self.backbone(content, [self.content_layer])[self.content_layer]
        feats = self.backbone(output, (*self.style_layers, self.content_layer))
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
        return {"total": total, "style": s_loss.detach(), "content": c_loss.detach(),
                "tv": tv.detach()}


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
