"""Which VGG19 layers carry content and style, and the Gram matrix that summarises style.

Gram matrices are always computed in fp32, even under bf16 autocast: they sum H*W products per
entry, and bf16's 8-bit mantissa loses the small differences the style loss is made of.
"""

from __future__ import annotations

import enum

import torch
import torch.nn.functional as F

CONTENT_LAYER = "relu4_2"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
ALL_LAYERS = (*STYLE_LAYERS, CONTENT_LAYER)


class Depth(enum.Enum):
    """How deep into VGG19 a scale's losses reach (schedule.py chooses per scale)."""

    FULL = "full"  # relu1_1..relu5_1 style, relu4_2 content: the arrangement of the style
    STROKES = "strokes"  # relu1_1..relu3_1, content relu3_1: brush strokes up to ~24 px
    # (Stopping at relu2_1 instead saved only 11 % at 2048 px: 7.5 against 8.5 s an iteration.)


LAYERS = {
    Depth.FULL: (STYLE_LAYERS, CONTENT_LAYER),
    Depth.STROKES: (("relu1_1", "relu2_1", "relu3_1"), "relu3_1"),
}


def stage_layers(depth: Depth) -> tuple[tuple[str, ...], str]:
    """(style layers, content layer) of a scale."""
    return LAYERS[depth]


CHUNK_ROWS = 1 << 16  # pixels per block when building a Gram matrix


def _pixels_by_channels(features: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) -> (H*W, C); a free view for channels_last tensors (the CPU layout here)."""
    return features.permute(0, 2, 3, 1).reshape(-1, features.shape[1])


class _LowMemoryGram(torch.autograd.Function):
    """F F^T / n accumulated in fp32 block by block, keeping only the (bf16) features for
    backward: no full fp32 copy of a feature map is ever made (at 1024 px relu1_1 in fp32 is
    256 MB, and forward + backward would otherwise need three such copies at once)."""

    @staticmethod
    def forward(ctx, features: torch.Tensor, n: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(features)
        ctx.n = n
        x = _pixels_by_channels(features)
        c = x.shape[1]
        out = torch.zeros((c, c), dtype=torch.float32, device=features.device)
        with torch.autocast(features.device.type, enabled=False):
            for i in range(0, x.shape[0], CHUNK_ROWS):
                block = x[i:i + CHUNK_ROWS].float()
                out.addmm_(block.t(), block)
        return out / n

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (features,) = ctx.saved_tensors
        x = _pixels_by_channels(features)
        sym = (grad + grad.t()).float() / ctx.n
        out = torch.empty_like(x)
        with torch.autocast(features.device.type, enabled=False):
            for i in range(0, x.shape[0], CHUNK_ROWS):
                out[i:i + CHUNK_ROWS] = x[i:i + CHUNK_ROWS].float() @ sym
        _, c, h, w = features.shape
        return out.reshape(1, h, w, c).permute(0, 3, 1, 2), None


def gram(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """G = F F^T / (C * H * W) for (1, C, H, W) features -> (C, C), fp32.

    With a mask (1, 1, H, W) in 0..1 the features are weighted by it and the sum is divided by the
    mask's area instead of H * W, so a masked Gram describes the texture *inside* the mask at the
    same scale as an unmasked one.
    """
    _, c, h, w = features.shape
    if mask is None:
        return _LowMemoryGram.apply(features, float(c * h * w))
    with torch.autocast(features.device.type, enabled=False):
        f = features.float()
        f = f * mask
        # Weighted second moment: sum(m^2 f f^T) / sum(m^2) keeps a hard 0/1 mask exact.
        area = float(mask.float().pow(2).sum().clamp_min(1.0))
        f = f.reshape(c, -1)
        return (f @ f.t()) / (c * area)


def layer_mask(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A (1, 1, H, W) pixel mask resampled to a feature map's spatial size (area average, so a
    feature is weighted by how much of its receptive field centre lies inside the mask)."""
    h, w = like.shape[-2:]
    if mask.shape[-2:] == (h, w):
        return mask
    return F.adaptive_avg_pool2d(mask, (h, w))
