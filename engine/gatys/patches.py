"""Patch-based (MRF) style: every k x k patch of the output's VGG19 features is pulled towards its
nearest patch of the painting's features (Li & Wand 2016, "CNNMRF").

The matching is the expensive part, so it is done the fast way and not every iteration:
- normalised cross-correlation = a convolution of the output's features with the painting's unit
  patches as kernels, in bands of output rows and blocks of painting patches so that memory stays
  bounded at any size, in bf16 where the CPU has native bf16 (the argmax of a cosine needs no
  more precision);
- the nearest neighbours are re-matched every `patch_rematch` loss evaluations, from the current
  output's features. The first match at each scale is made from the image the scale starts from
  (the photo at the coarsest scale, as Neural Neighbor Style Transfer does, then the upsampled
  coarser result), which keeps the photo's layout: each place gets the painting's stroke most
  like what is there already.

Between re-matches the CNNMRF loss sum_p |patch_p(F) - S_match(p)|^2 is, up to a constant, a
weighted MSE to one target map T = fold(matched patches) / overlap count, weighted by the overlap
count (each feature cell sits in `count` patches). So an iteration costs a feature MSE and the
gradient is exact (tests/test_gatys_patch.py checks both).

Normalisation, as the other losses (see losses.py): divided by the same loss of the photo itself at
this scale, so 1 = no closer to the painting's patches than the photo, 0 = made of them.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from engine.contract import PatchLayers
from engine.gatys.features import layer_mask

log = logging.getLogger(__name__)

BLOCK_BYTES = 64 * 2**20  # working memory of one similarity block (output patches x painting)
AUGMENT_ANGLES = (-10.0, 10.0)  # degrees; small, so a painting's strokes keep their direction
AUGMENT_SCALES = (0.85, 1.15)

LAYERS = {
    PatchLayers.RELU3_RELU4: ("relu3_1", "relu4_1"),
    PatchLayers.RELU3: ("relu3_1",),
    PatchLayers.RELU4: ("relu4_1",),
    PatchLayers.RELU2_RELU3_RELU4: ("relu2_1", "relu3_1", "relu4_1"),
}


@dataclass
class PatchBank:
    """The painting patches of one layer, pooled from every painting (and augmented copy).

    `table` holds the feature cells of every painting map side by side (C, cells); patch i has
    its top-left cell at `corner[i]` in a map whose rows are `row[i]` cells long, so its cell
    (dy, dx) is table[:, corner + dy * row + dx]: the targets are gathered from the maps instead
    of keeping a (patches, C*k*k) copy in fp32.
    """

    table: torch.Tensor  # (C, cells) fp32
    units: torch.Tensor  # (patches, C*k*k) unit vectors, in the matching dtype
    corner: torch.Tensor  # (patches,) int64
    row: torch.Tensor  # (patches,) int64
    size: int  # k


def _unit_rows(patches: torch.Tensor) -> torch.Tensor:
    return patches / patches.norm(dim=1, keepdim=True).clamp_min(1e-8)


def build_bank(maps: Sequence[torch.Tensor], keep: Sequence[float], size: int, stride: int,
               dtype: torch.dtype | None, seed: int = 0) -> PatchBank:
    """Patches of (1, C, H, W) feature maps every `stride` cells; map j keeps a random fraction
    `keep[j]` of them (several paintings contribute in proportion to their blend weights)."""
    gen = torch.Generator().manual_seed(seed)
    tables, units, corners, rows = [], [], [], []
    offset = 0
    for fmap, fraction in zip(maps, keep, strict=True):
        _, c, h, w = fmap.shape
        if fraction <= 0 or h < size or w < size:
            continue
        ys = torch.arange(0, h - size + 1, stride)
        xs = torch.arange(0, w - size + 1, stride)
        corner = (ys[:, None] * w + xs[None, :]).reshape(-1)
        if fraction < 1:
            n = max(1, round(fraction * len(corner)))
            corner = corner[torch.randperm(len(corner), generator=gen)[:n]].sort().values
        corner = corner.to(fmap.device)
        f = fmap[0].float()
        # Built in blocks so the fp32 (patches, C*k*k) copy never exists whole.
        for i in range(0, len(corner), 4096):
            units.append(_unit_rows(_gather_patches(f.reshape(c, -1), corner[i:i + 4096],
                                                    torch.full((1,), w, device=fmap.device),
                                                    size)
                                    ).to(dtype or torch.float32))
        tables.append(f.reshape(c, -1))
        corners.append(corner + offset)
        rows.append(torch.full_like(corner, w))
        offset += h * w
    if not units:
        raise ValueError("no painting patches: the painting is smaller than one patch")
    return PatchBank(torch.cat(tables, 1), torch.cat(units), torch.cat(corners), torch.cat(rows),
                     size)


def _gather_patches(table: torch.Tensor, corner: torch.Tensor, row: torch.Tensor,
                    size: int) -> torch.Tensor:
    """(n, C*k*k) patch vectors, in F.unfold's (channel, dy, dx) order."""
    cells = [table[:, corner + dy * row + dx] for dy in range(size) for dx in range(size)]
    return torch.stack(cells, 2).permute(1, 0, 2).reshape(len(corner), -1)


def _patch_norms(features: torch.Tensor, size: int) -> torch.Tensor:
    """|k x k patch| of (1, C, H, W) fp32 features at every patch position, row-major (no
    unfolded copy: a box sum of the cells' squared norms), clamped away from 0."""
    sq = F.avg_pool2d(features.pow(2).sum(1, keepdim=True), size, stride=1) * (size * size)
    return sq.sqrt().clamp_min(1e-8).reshape(-1)


def nearest(query: torch.Tensor, bank: PatchBank, block_bytes: int = BLOCK_BYTES,
            *, with_similarity: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Index into `bank` of the nearest painting patch (highest cosine similarity) for every
    k x k patch of `query` (1, C, H, W), row-major over the (H-k+1, W-k+1) patch positions
    (and that similarity, when asked for).

    The products are one convolution of the query with the bank's unit patches as kernels: the
    argmax needs no division by the query patch's norm (one constant per position), so no
    unfolded, normalised copy of the query is made; the convolution is about twice as fast as
    unfold + matrix product on two cores (relu3_1 at 448 px: 0.58 s against 1.11 s)."""
    k = bank.size
    _, c, h, w = query.shape
    ph, pw = h - k + 1, w - k + 1
    n_bank = bank.units.shape[0]
    device = bank.units.device
    kernels = bank.units.reshape(n_bank, c, k, k)
    # Output rows per band and painting patches per block such that one similarity block
    # (patches x rows x pw, fp32) stays within block_bytes: the whole bank if a few rows fit.
    band_rows = min(ph, max(1, block_bytes // (4 * pw * n_bank)))
    cols = n_bank
    if band_rows < min(ph, 8):
        band_rows = min(ph, 8)
        cols = max(1, min(n_bank, block_bytes // (4 * pw * band_rows)))
    out = torch.empty(ph * pw, dtype=torch.int64, device=device)
    similarity = torch.empty(ph * pw, dtype=torch.float32, device=device)
    q = query.detach().to(device)
    q_norm = _patch_norms(q.float(), k)  # for the similarity's value only
    q = q.to(kernels.dtype)
    for r0 in range(0, ph, band_rows):
        r1 = min(ph, r0 + band_rows)
        band = q[:, :, r0:r1 + k - 1]
        best = torch.full(((r1 - r0) * pw,), -math.inf, device=device)
        arg = torch.zeros((r1 - r0) * pw, dtype=torch.int64, device=device)
        for j0 in range(0, n_bank, cols):
            sim = F.conv2d(band, kernels[j0:j0 + cols])[0]  # (patches, rows, pw)
            value, index = sim.reshape(sim.shape[0], -1).max(dim=0)
            value = value.float()
            better = value > best
            best = torch.where(better, value, best)
            arg = torch.where(better, index + j0, arg)
        out[r0 * pw:r1 * pw] = arg
        similarity[r0 * pw:r1 * pw] = best / q_norm[r0 * pw:r1 * pw]
    return (out, similarity) if with_similarity else out


def similarity_to(query: torch.Tensor, table: torch.Tensor, corner: torch.Tensor,
                  row: torch.Tensor, size: int) -> torch.Tensor:
    """Cosine similarity of every k x k patch of `query` (1, C, H, W; row-major positions) to
    one given patch each: the one whose top-left cell is `corner[i]` in `table` (rows `row[i]`
    long), as in PatchBank. Summed cell offset by cell offset (k * k gathers of C x positions),
    never as (positions, C*k*k) copies: five times faster at relu3_1."""
    _, c, h, w = query.shape
    ph, pw = h - size + 1, w - size + 1
    f = query.detach()[0].float()
    dot = torch.zeros(ph * pw, device=f.device)
    ref_sq = torch.zeros(ph * pw, device=f.device)
    cell_sq = table.pow(2).sum(0)
    for dy in range(size):
        for dx in range(size):
            cells = corner + dy * row + dx
            dot += (table[:, cells] * f[:, dy:dy + ph, dx:dx + pw].reshape(c, -1)).sum(0)
            ref_sq += cell_sq[cells]
    return dot / (_patch_norms(f[None], size) * ref_sq.sqrt().clamp_min(1e-8))


def target_map(index: torch.Tensor, bank: PatchBank, shape: torch.Size,
               corner: torch.Tensor | None = None, row: torch.Tensor | None = None
               ) -> torch.Tensor:
    """T = fold(matched painting patches) / overlap count, (1, C, H, W) fp32. The patches are
    the bank's `index`, or given directly by their `corner` and `row` in the bank's table."""
    _, c, h, w = shape
    k = bank.size
    ph, pw = h - k + 1, w - k + 1
    if corner is None or row is None:
        corner, row = bank.corner[index], bank.row[index]
    t = torch.zeros((c, h, w), dtype=torch.float32, device=bank.table.device)
    for dy in range(k):
        for dx in range(k):
            cells = bank.table[:, corner + dy * row + dx].reshape(c, ph, pw)
            t[:, dy:dy + ph, dx:dx + pw] += cells
    return (t / overlap(h, w, k, t.device)[0]).unsqueeze(0)


def overlap(h: int, w: int, k: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(1, 1, H, W): how many k x k patches cover each cell (fewer along the borders)."""
    ones = torch.ones((1, 1, h - k + 1, w - k + 1), device=device)
    return F.conv_transpose2d(ones, torch.ones((1, 1, k, k), device=device))


def weighted_mse(features: torch.Tensor, target: torch.Tensor, weight: torch.Tensor
                 ) -> torch.Tensor:
    """sum(weight * (F - T)^2) / (C * sum(weight)); with weight = overlap count this is the
    CNNMRF patch loss up to a constant while the matches are fixed."""
    dtype = torch.float64 if features.dtype == torch.float64 else torch.float32
    with torch.autocast(features.device.type, enabled=False):
        diff = features.to(dtype) - target.to(dtype)
        wsum = weight.to(dtype).sum().clamp_min(1e-12)
        return (diff.pow(2) * weight.to(dtype)).sum() / (features.shape[1] * wsum)


class PatchLoss(nn.Module):
    """The patch style loss of one layer; re-matches its target every `rematch` evaluations.

    `guide` (optional; Deep Image Analogy's refinement) gives every output patch position one
    more candidate outside the bank: the corner, in the bank's table, of the painting patch a
    correspondence field assigns to it (first map of the table, rows `guide_row` long). It wins
    where it is at least as similar as the bank's nearest, so a picture that already is the
    painting's patches there (B' = A) keeps them, whatever the bank's stride skipped."""

    def __init__(self, bank: PatchBank, reference: torch.Tensor, rematch: int,
                 mask: torch.Tensor | None = None, guide: torch.Tensor | None = None,
                 guide_row: int = 0):
        super().__init__()
        self.bank = bank
        self.guide = guide
        # Every guided patch lies in the table's first map, so all share its row length.
        self.guide_rows = None if guide is None else torch.full_like(guide, guide_row)
        self.rematch = max(1, rematch)
        _, _, h, w = reference.shape
        weight = overlap(h, w, bank.size, reference.device)
        if mask is not None:
            weight = weight * mask.detach().float()
        self.register_buffer("weight", weight)
        self.calls = 0
        self.match_seconds: list[float] = []
        self.register_buffer("target", self._match(reference))
        unit = weighted_mse(reference.float(), self.target, weight)
        floor = 1e-3 * weighted_mse(torch.zeros_like(self.target), self.target, weight) + 1e-12
        self.register_buffer("norm", torch.maximum(unit, floor).detach())

    def _match(self, features: torch.Tensor) -> torch.Tensor:
        t0 = time.perf_counter()
        f = features.detach().float()
        if self.guide is None:
            target = target_map(nearest(f, self.bank), self.bank, f.shape)
        else:
            index, best = nearest(f, self.bank, with_similarity=True)
            guided = similarity_to(f, self.bank.table, self.guide, self.guide_rows,
                                   self.bank.size)
            use = guided >= best
            target = target_map(index, self.bank, f.shape,
                                torch.where(use, self.guide, self.bank.corner[index]),
                                torch.where(use, self.guide_rows, self.bank.row[index]))
        self.match_seconds.append(time.perf_counter() - t0)
        return target

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.calls % self.rematch == 0:
            self.target = self._match(features)
        self.calls += 1
        return weighted_mse(features, self.target, self.weight) / self.norm


# ---------------------------------------------------------------- painting copies, loss set-up

def augmented(rgb: np.ndarray) -> list[np.ndarray]:
    """The painting plus slightly rotated and rescaled copies (CNNMRF's style augmentation):
    more candidate strokes at other orientations and sizes than the one canvas has."""
    im = Image.fromarray((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8))
    w, h = im.size
    out = [rgb]
    for angle in AUGMENT_ANGLES:
        a = math.radians(abs(angle))
        # The largest centred crop of the same aspect ratio with no corner outside the canvas.
        s = 1.0 / (math.cos(a) + math.sin(a) * max(w / h, h / w))
        r = im.rotate(angle, resample=Image.BICUBIC)
        cw, ch = max(1, int(w * s)), max(1, int(h * s))
        box = ((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)
        out.append(np.asarray(r.crop(box).resize((w, h), Image.BICUBIC), np.float32) / 255.0)
    for scale in AUGMENT_SCALES:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        out.append(np.asarray(im.resize(size, Image.BICUBIC), np.float32) / 255.0)
    return out


def patch_losses(
    content_features: dict[str, torch.Tensor],
    painting_features: Sequence[Callable[[], dict[str, torch.Tensor]]],
    painting_weights: Sequence[float],
    layers: Sequence[str],
    size: int,
    stride: int,
    rematch: int,
    mask: torch.Tensor | None,
    dtype: torch.dtype | None,
) -> dict[str, PatchLoss]:
    """One PatchLoss per layer. `painting_features[j]()` computes the features of painting copy j
    (called once each, so only one copy's full feature set is alive at a time)."""
    top = max(painting_weights)
    keep = [wt / top for wt in painting_weights]
    maps: dict[str, list[torch.Tensor]] = {k: [] for k in layers}
    for compute in painting_features:
        fs = compute()
        for k in layers:
            maps[k].append(fs[k].float())
        del fs
    losses = {}
    for k in layers:
        bank = build_bank(maps[k], keep, size, stride, dtype)
        maps[k] = []
        fc = content_features[k]
        m = layer_mask(mask, fc) if mask is not None else None
        losses[k] = PatchLoss(bank, fc, rematch, m)
        log.debug("patch layer %s: %d painting patches, %.2f s to match", k, len(bank.units),
                  losses[k].match_seconds[-1])
    return losses
