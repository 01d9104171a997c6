"""Content, style and total-variation losses, each holding its target as a buffer.

Normalisation (why the weights are relative): every loss is divided by a reference computed once
from the inputs, so the numbers mean the same for any image, size or painting:
- content: |F - F_content|^2 / |F_content|^2 at relu4_2 (0 = the photo's structure kept);
- style, per layer: |G - G_style|^2 / |G_content - G_style|^2 (1 = no more stylised than the photo,
  0 = the painting's Gram matrix matched), averaged over relu1_1 ... relu5_1.
These are the same quantities `nst_score.py` measures, so the defaults trade them off directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from engine.gatys.features import gram, layer_mask

CHUNK = 1 << 22  # elements per block of the squared distance


def _rows(features: torch.Tensor) -> int:
    return max(1, CHUNK // max(1, features.shape[1] * features.shape[3]))


class _SquaredDistance(torch.autograd.Function):
    """mean((f - t)^2) accumulated in fp32, block by block of rows, keeping only f and t for
    backward. The plain expression keeps an fp32 copy of f - t for its backward: 200 MB for
    relu3_1 at 2048 x 1536, where f itself is kept anyway by the layer after it."""

    @staticmethod
    def forward(ctx, features: torch.Tensor,  # type: ignore[override]
                target: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(features, target)
        total = torch.zeros((), dtype=torch.float32, device=features.device)
        rows = _rows(features)
        for i in range(0, features.shape[2], rows):
            d = features[:, :, i:i + rows].float() - target[:, :, i:i + rows].float()
            total += d.pow(2).sum()
        return total / features.numel()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        features, target = ctx.saved_tensors
        scale = 2.0 * grad.float() / features.numel()
        out = torch.empty_like(features)
        rows = _rows(features)
        for i in range(0, features.shape[2], rows):
            out[:, :, i:i + rows] = (features[:, :, i:i + rows].float()
                                     - target[:, :, i:i + rows].float()) * scale
        return out, None


class ContentLoss(nn.Module):
    """The target is kept in the features' own dtype (bf16 under autocast: it was computed in
    bf16, so an fp32 copy would only double its memory); the distance is taken in fp32."""

    def __init__(self, target: torch.Tensor):
        super().__init__()
        target = target.detach()
        self.register_buffer("target", target)
        self.register_buffer("norm", target.float().pow(2).mean().clamp_min(1e-8))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        with torch.autocast(features.device.type, enabled=False):
            return _SquaredDistance.apply(features, self.target) / self.norm


class StyleLoss(nn.Module):
    """Distance of the image's Gram matrix to a target Gram (a blend of one or more paintings).

    `reference` is the Gram of the content image at this layer: the distance from it to the target
    sets the loss's unit. When the photo already matches the painting at a layer, the unit falls
    back to a small fraction of the target's own energy rather than dividing by ~0.
    """

    def __init__(self, target_gram: torch.Tensor, reference_gram: torch.Tensor,
                 mask: torch.Tensor | None = None):
        super().__init__()
        target_gram = target_gram.detach().float()
        self.register_buffer("target", target_gram)
        unit = (reference_gram.detach().float() - target_gram).pow(2).mean()
        floor = 1e-3 * target_gram.pow(2).mean() + 1e-12
        self.register_buffer("norm", torch.maximum(unit, floor))
        self.register_buffer("mask", mask.detach().float() if mask is not None else None)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        m = layer_mask(self.mask, features) if self.mask is not None else None
        return (gram(features, m) - self.target).pow(2).mean() / self.norm


class TVLoss(nn.Module):
    """Mean squared difference between neighbouring pixels (image in 0..1): discourages the
    high-frequency noise that the optimiser otherwise leaves in flat areas."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        dx = image[..., :, 1:] - image[..., :, :-1]
        dy = image[..., 1:, :] - image[..., :-1, :]
        return dx.pow(2).mean() + dy.pow(2).mean()


def blend_grams(grams: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """Weighted mean of several paintings' Gram matrices (neural-style's style blending): the
    target texture statistics are mixed, not the losses, so one image can sit between styles."""
    total = float(sum(weights))
    out = torch.zeros_like(grams[0])
    for g, w in zip(grams, weights, strict=True):
        out = out + g * (float(w) / total)
    return out
