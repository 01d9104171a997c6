"""Image operations shared by both methods: colour preservation, strength, masks."""

from __future__ import annotations

import numpy as np

# ITU-R BT.601 luma / YIQ, as in Gatys et al. "Preserving Color in Neural Artistic Style
# Transfer" (2016), luminance-only transfer.
_RGB2YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
    dtype=np.float32,
)
_YIQ2RGB = np.linalg.inv(_RGB2YIQ).astype(np.float32)


def rgb_to_yiq(rgb: np.ndarray) -> np.ndarray:
    return rgb @ _RGB2YIQ.T


def yiq_to_rgb(yiq: np.ndarray) -> np.ndarray:
    return yiq @ _YIQ2RGB.T


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ _RGB2YIQ[0]


def keep_colors(styled: np.ndarray, original: np.ndarray) -> np.ndarray:
    """The styled luminance with the original's chroma (I and Q), same shapes in and out."""
    y = luminance(styled)
    yiq = rgb_to_yiq(original)
    yiq[..., 0] = y
    return np.clip(yiq_to_rgb(yiq), 0.0, 1.0).astype(np.float32)


def match_luminance(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Grey style image whose luminance mean/std match the content's, for luminance-only transfer
    (so the optimiser sees the style's texture, not its palette)."""
    ys, yc = luminance(style), luminance(content)
    y = (ys - ys.mean()) * (yc.std() / max(float(ys.std()), 1e-6)) + yc.mean()
    return np.repeat(np.clip(y, 0.0, 1.0)[..., None], 3, axis=2).astype(np.float32)


def blend(styled: np.ndarray, original: np.ndarray, strength: float,
          mask: np.ndarray | None = None) -> np.ndarray:
    """original + strength * mask * (styled - original): strength 0 or mask 0 keep the original."""
    w = np.float32(strength)
    if mask is not None:
        w = w * mask[..., None].astype(np.float32)
    if np.all(w == 1):
        return styled
    return (original + w * (styled - original)).astype(np.float32)
