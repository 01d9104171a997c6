"""The latent feature maps of A' and B: unit normalisation, the paper's response-weighted blend of
a photo's own features with the warped reference's, and patch voting through a field."""

from __future__ import annotations

import torch
from torch import Tensor

from engine.analogy.patchmatch import Field

# The paper's sigmoid that turns normalised feature energy into a "this is structure" mask.
KAPPA = 300.0
TAU = 0.05


def unit(fmap: Tensor) -> Tensor:
    """Each position's feature vector scaled to length 1 (the paper's normalised F-bar)."""
    return fmap / fmap.norm(dim=0, keepdim=True).clamp_min(1e-6)


def response_weight(fmap: Tensor, alpha: float) -> Tensor:
    """W = alpha * sigmoid(kappa * (|F|^2 - tau)), |F|^2 min-max normalised over the map.

    The authors' code replaces the sigmoid by a hard step at tau (it is nearly one at
    kappa = 300); we keep the paper's sigmoid."""
    energy = (fmap * fmap).sum(0)
    lo, hi = energy.min(), energy.max()
    energy = (energy - lo) / (hi - lo).clamp_min(1e-12)
    return alpha * torch.sigmoid(KAPPA * (energy - TAU))


def blend(own: Tensor, warped: Tensor, alpha: float) -> Tensor:
    """F' = F * W + R * (1 - W): the photo's own features where they respond strongly (edges,
    structure), the reference's reconstructed features elsewhere."""
    w = response_weight(own, alpha)[None]
    return own * w + warped * (1.0 - w)


def vote(field: Field, source: Tensor, patch: int) -> Tensor:
    """Warp `source` (C, hb, wb) through `field` with patch voting: each output cell averages
    the values that every k x k patch covering it brings from its match (the authors' avg_vote).
    """
    c = source.shape[0]
    h, w = field.index.shape
    hb, wb = field.target
    flat = source.reshape(c, -1).t().contiguous()  # (hb*wb, C): gathers rows
    y, x = field.yx
    acc = torch.zeros(h * w, c, dtype=source.dtype)
    count = torch.zeros(h * w, 1, dtype=source.dtype)
    r = patch // 2
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            # The patch centred at p + d matched q; it covers p with its cell q - d.
            sy, ok = _take(y, dy, dx)
            sx, _ = _take(x, dy, dx)
            qy, qx = sy - dy, sx - dx
            ok = ok & (qy >= 0) & (qy < hb) & (qx >= 0) & (qx < wb)
            idx = (qy.clamp(0, hb - 1) * wb + qx.clamp(0, wb - 1)).reshape(-1)
            m = ok.reshape(-1, 1).to(source.dtype)
            acc += flat.index_select(0, idx) * m
            count += m
    out = acc / count.clamp_min(1.0)
    return out.t().reshape(c, h, w).contiguous()


def _take(t: Tensor, dy: int, dx: int) -> tuple[Tensor, Tensor]:
    """u[y, x] = t[y + dy, x + dx] and where that cell exists."""
    h, w = t.shape
    u = torch.zeros_like(t)
    ok = torch.zeros((h, w), dtype=torch.bool)
    ys = slice(max(dy, 0), h + min(dy, 0))
    yd = slice(max(-dy, 0), h + min(-dy, 0))
    xs = slice(max(dx, 0), w + min(dx, 0))
    xd = slice(max(-dx, 0), w + min(-dx, 0))
    u[yd, xd] = t[ys, xs]
    ok[yd, xd] = True
    return u, ok
