"""Nearest-neighbour fields between two feature maps: PatchMatch (vectorised over the whole map)
and exact brute force (chunked matrix products), with one patch distance for both.

The patch distance between position p of map A and q of map B is the sum, over a k x k window,
of squared differences of per-pixel feature vectors, with zero padding outside the maps. Deep
Image Analogy compares two pairs at once (A with B' and A' with B); callers concatenate each side's
pair along the channels, so the sum over channels is the paper's sum over the two pairs.

Departures from the authors' CUDA PatchMatch (Liao et al. 2017):
- Every position is updated at once per candidate (Jacobi style), not asynchronously per thread.
- Outside the map a patch meets zeros (cost |f|^2 per missing cell, 1 for unit features) where
  the authors average over the cells that exist on both sides.
- For large maps the per-position descriptor (the k*k*C patch vector) is replaced by its
  projection on the top principal components of both maps' patches (`patch_descriptors`): the
  distance in that subspace is what PatchMatch then minimises. Exact descriptors are used
  whenever the patch vector is no longer than the projection would be.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

# Jump-flooding propagation: neighbours 8, 4, 2 and 1 cells away, as the authors' kernel does.
JUMPS = (8, 4, 2, 1)
PCA_SAMPLES = 1024  # patches sampled per map to fit the projection (top 32 of them)
CHUNK_BYTES = 96 << 20  # per intermediate tensor in the brute-force search


@dataclass
class Field:
    """For each cell of a (h, w) map, the flat index (y * wb + x) of its match in a (hb, wb) map,
    and the patch distance of that match."""

    index: Tensor  # (h, w) int64
    dist: Tensor  # (h, w) float32
    target: tuple[int, int]  # (hb, wb)

    @property
    def yx(self) -> tuple[Tensor, Tensor]:
        wb = self.target[1]
        return torch.div(self.index, wb, rounding_mode="floor"), self.index % wb

    def offsets(self) -> Tensor:
        """(2, h, w) displacement (dy, dx) from each cell to its match."""
        y, x = self.yx
        h, w = self.index.shape
        gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        return torch.stack([y - gy, x - gx])


def identity_field(shape: tuple[int, int], target: tuple[int, int]) -> Field:
    """Each cell matched to the same coordinates (clamped), the authors' initial guess."""
    h, w = shape
    hb, wb = target
    gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    index = gy.clamp(max=hb - 1) * wb + gx.clamp(max=wb - 1)
    return Field(index, torch.full((h, w), math.inf), target)


def upsample_field(field: Field, shape: tuple[int, int], target: tuple[int, int]) -> Field:
    """A finer layer's initial field: each fine cell takes the coarse cell it lies in and keeps
    that cell's displacement, scaled by the size ratio (the authors' upsampling rule)."""
    h, w = shape
    hb, wb = target
    ch, cw = field.index.shape
    ry, rx = h / ch, w / cw
    gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    cy = ((gy + 0.5) / ry).long().clamp(0, ch - 1)
    cx = ((gx + 0.5) / rx).long().clamp(0, cw - 1)
    by, bx = field.yx
    my = by[cy, cx]
    mx = bx[cy, cx]
    ny = (gy + (my - cy) * ry + 0.5).long().clamp(0, hb - 1)
    nx = (gx + (mx - cx) * rx + 0.5).long().clamp(0, wb - 1)
    return Field(ny * wb + nx, torch.full((h, w), math.inf), target)


# ------------------------------------------------------------------------------ descriptors

def _unfold(fmap: Tensor, patch: int) -> Tensor:
    """(C, h, w) -> (h*w, C*k*k) patch vectors, channel-major like a conv weight."""
    return F.unfold(fmap[None], patch, padding=patch // 2)[0].t().contiguous()


def _sample_patches(fmap: Tensor, patch: int, n: int, gen: torch.Generator) -> Tensor:
    """`n` random k x k patches as (n, C*k*k) rows, channel-major like `_unfold`."""
    c, h, w = fmap.shape
    r = patch // 2
    rows = F.pad(fmap, (r, r, r, r)).reshape(c, -1).t().contiguous()  # (cells, C)
    wp = w + 2 * r
    ys = torch.randint(0, h, (n,), generator=gen)
    xs = torch.randint(0, w, (n,), generator=gen)
    d = torch.arange(patch)
    cells = (ys[:, None, None] + d[None, :, None]) * wp + xs[:, None, None] + d[None, None, :]
    picked = rows.index_select(0, cells.reshape(-1)).view(n, patch * patch, c)
    return picked.transpose(1, 2).reshape(n, c * patch * patch)


def patch_descriptors(pairs: list[tuple[Tensor, Tensor]], patch: int, dims: int | None,
                      gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Descriptors (N, D) of both sides for a list of (A-side map, B-side map) pairs, such that
    squared Euclidean distance between them is the patch distance (or, past `dims` per pair, its
    part in the top-`dims` principal subspace of the pair's patches)."""
    out_a, out_b = [], []
    for fa, fb in pairs:
        c = fa.shape[0]
        full = c * patch * patch
        if dims is None or full <= dims:
            out_a.append(_unfold(fa, patch))
            out_b.append(_unfold(fb, patch))
            continue
        samples = torch.cat([_sample_patches(fa, patch, PCA_SAMPLES, gen),
                             _sample_patches(fb, patch, PCA_SAMPLES, gen)])
        samples = samples - samples.mean(0, keepdim=True)
        # A randomised SVD: the full one of a 8192 x 3200 matrix costs seconds on two cores.
        # svd_lowrank draws its test matrix from torch's global generator; seeded from ours, so
        # the same `seed` gives the same subspace, hence the same fields and picture.
        seed = int(torch.randint(0, 2**62, (1,), generator=gen))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            _u, _s, v = torch.svd_lowrank(samples, q=min(dims + 8, full), niter=2)
        weight = v[:, :dims].t().reshape(dims, c, patch, patch).contiguous()
        for fmap, out in ((fa, out_a), (fb, out_b)):
            proj = F.conv2d(fmap[None], weight, padding=patch // 2)[0]
            out.append(proj.reshape(dims, -1).t())
    return torch.cat(out_a, 1).contiguous(), torch.cat(out_b, 1).contiguous()


# ------------------------------------------------------------------------------- PatchMatch

def _shift(t: Tensor, dy: int, dx: int) -> tuple[Tensor, Tensor]:
    """u[y, x] = t[y - dy, x - dx] and a mask of where that cell exists."""
    h, w = t.shape
    u = torch.zeros_like(t)
    ok = torch.zeros((h, w), dtype=torch.bool)
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    u[yd, xd] = t[ys, xs]
    ok[yd, xd] = True
    return u, ok


class _Search:
    """The state of one PatchMatch run: current matches and distances, flat over positions."""

    def __init__(self, desc_a: Tensor, desc_b: Tensor, shape: tuple[int, int],
                 target: tuple[int, int], init: Field):
        self.a, self.b = desc_a, desc_b
        self.na = (desc_a * desc_a).sum(1)
        self.nb = (desc_b * desc_b).sum(1)
        self.shape, self.target = shape, target
        self.index = init.index.reshape(-1).clone()
        self.dist = self._score(self.index)
        self.improved = 0

    def _score(self, index: Tensor, where: Tensor | None = None) -> Tensor:
        """Distances of positions `where` (all when None) to B's cells `index`."""
        a, na = self.a, self.na
        if where is not None:
            a, na = a.index_select(0, where), na.index_select(0, where)
        dot = (a * self.b.index_select(0, index)).sum(1)
        return na + self.nb.index_select(0, index) - 2.0 * dot

    def offer(self, y: Tensor, x: Tensor, valid: Tensor) -> None:
        """Take candidate (y, x) wherever it exists and beats the current match."""
        hb, wb = self.target
        valid = (valid & (y >= 0) & (y < hb) & (x >= 0) & (x < wb)).reshape(-1)
        index = (y.clamp(0, hb - 1) * wb + x.clamp(0, wb - 1)).reshape(-1)
        # Only positions whose candidate differs from their match: in a coherent field most
        # propagated candidates are the match itself, and the gathers are the whole cost.
        where = (valid & (index != self.index)).nonzero().squeeze(1)
        if where.numel() == 0:
            return
        index = index.index_select(0, where)
        d = self._score(index, where)
        better = d < self.dist.index_select(0, where)
        where = where[better]
        self.index[where] = index[better]
        self.dist[where] = d[better]
        self.improved += int(where.numel())

    def yx(self) -> tuple[Tensor, Tensor]:
        h, w = self.shape
        wb = self.target[1]
        idx = self.index.view(h, w)
        return torch.div(idx, wb, rounding_mode="floor"), idx % wb

    def propagate(self) -> None:
        for jump in JUMPS:
            # Left, right, up, down neighbour `jump` cells away: its match moved back by the
            # same step is a candidate for this cell.
            for dy, dx in ((0, jump), (0, -jump), (jump, 0), (-jump, 0)):
                if abs(dy) >= self.shape[0] or abs(dx) >= self.shape[1]:
                    continue  # no neighbour that far on this (small) map
                y, x = self.yx()
                sy, ok = _shift(y, dy, dx)
                sx, _ = _shift(x, dy, dx)
                self.offer(sy + dy, sx + dx, ok)

    def random_search(self, radius: int, gen: torch.Generator) -> None:
        hb, wb = self.target
        mag = min(radius, max(hb, wb)) if radius > 0 else max(hb, wb)
        valid = torch.ones(self.shape, dtype=torch.bool)
        while mag >= 1:
            y, x = self.yx()
            y0, y1 = (y - mag).clamp(min=0), (y + mag + 1).clamp(max=hb)
            x0, x1 = (x - mag).clamp(min=0), (x + mag + 1).clamp(max=wb)
            ry = torch.rand(self.shape, generator=gen)
            rx = torch.rand(self.shape, generator=gen)
            cy = y0 + (ry * (y1 - y0)).long()
            cx = x0 + (rx * (x1 - x0)).long()
            self.offer(torch.minimum(cy, y1 - 1), torch.minimum(cx, x1 - 1), valid)
            mag //= 2


def patchmatch(desc_a: Tensor, desc_b: Tensor, shape: tuple[int, int], target: tuple[int, int],
               init: Field, *, iterations: int, radius: int, gen: torch.Generator,
               step: Callable[[int], None] | None = None) -> Field:
    """Approximate nearest neighbours of A's descriptors among B's: `iterations` rounds of
    jump-flooding propagation and random search (radius halving down to 1; 0 = whole map),
    each over all positions at once. `step(i)` runs after round i (progress, cancel)."""
    s = _Search(desc_a, desc_b, shape, target, init)
    for i in range(iterations):
        s.propagate()
        s.random_search(radius, gen)
        if step is not None:
            step(i + 1)
    return Field(s.index.view(shape), s.dist.view(shape), target)


# ------------------------------------------------------------------------------ brute force

def _box_energy(fmap: Tensor, patch: int) -> Tensor:
    """Sum of |f|^2 over each k x k window (zero padded)."""
    e = (fmap * fmap).sum(0)[None, None]
    return F.avg_pool2d(e, patch, stride=1, padding=patch // 2,
                        count_include_pad=True)[0, 0] * (patch * patch)


def exact_fields(fa: Tensor, fb: Tensor, patch: int,
                 step: Callable[[int, int], None] | None = None) -> tuple[Field, Field]:
    """Exact nearest neighbours both ways (A -> B and B -> A) under the patch distance.

    One matrix product of per-pixel features gives every pixel-to-pixel dot product; the patch
    dot product is its sum along the k*k "diagonals" (the same offset on both sides), done with
    k*k shifted views. Chunked over rows of A so memory stays near CHUNK_BYTES per buffer."""
    c, ha, wa = fa.shape
    _, hb, wb = fb.shape
    r = patch // 2
    ap = F.pad(fa, (r, r, r, r))
    bmat = F.pad(fb, (r, r, r, r)).reshape(c, -1)
    na = _box_energy(fa, patch).reshape(-1)
    nb = _box_energy(fb, patch).reshape(-1)
    per_row = 4 * (wa + 2 * r) * (hb + 2 * r) * (wb + 2 * r)
    rows = max(1, CHUNK_BYTES // per_row - 2 * r)
    ab_index = torch.empty(ha * wa, dtype=torch.long)
    ab_dist = torch.empty(ha * wa)
    ba_index = torch.zeros(hb * wb, dtype=torch.long)
    ba_dist = torch.full((hb * wb,), math.inf)
    chunks = math.ceil(ha / rows)
    for n, y0 in enumerate(range(0, ha, rows)):
        y1 = min(ha, y0 + rows)
        h = y1 - y0
        arows = ap[:, y0:y1 + 2 * r, :].reshape(c, -1)
        g = (arows.t() @ bmat).view(h + 2 * r, wa + 2 * r, hb + 2 * r, wb + 2 * r)
        s = g[:h, :wa, :hb, :wb].clone()
        for dy in range(patch):
            for dx in range(patch):
                if dy or dx:
                    s += g[dy:dy + h, dx:dx + wa, dy:dy + hb, dx:dx + wb]
        del g
        ssd = s.view(h * wa, hb * wb).mul_(-2.0)
        ssd += na[y0 * wa:y1 * wa, None]
        ssd += nb[None, :]
        d, i = ssd.min(1)
        ab_dist[y0 * wa:y1 * wa] = d
        ab_index[y0 * wa:y1 * wa] = i
        dcol, icol = ssd.min(0)
        better = dcol < ba_dist
        ba_dist = torch.where(better, dcol, ba_dist)
        ba_index = torch.where(better, icol + y0 * wa, ba_index)
        if step is not None:
            step(n + 1, chunks)
    return (Field(ab_index.view(ha, wa), ab_dist.view(ha, wa), (hb, wb)),
            Field(ba_index.view(hb, wb), ba_dist.view(hb, wb), (ha, wa)))


def brute_force_cost(shape_a: tuple[int, int], shape_b: tuple[int, int], channels: int,
                     patch: int) -> float:
    """Multiply-adds of `exact_fields`: the product plus the k*k diagonal sums."""
    na = shape_a[0] * shape_a[1]
    nb = shape_b[0] * shape_b[1]
    return float(na) * nb * (channels + patch * patch)


def patchmatch_cost(shape_a: tuple[int, int], dims: int, iterations: int, radius: int,
                    target: tuple[int, int]) -> float:
    """Multiply-adds of one PatchMatch run (candidates x positions x descriptor length)."""
    mag = min(radius, max(target)) if radius > 0 else max(target)
    candidates = 4 * len(JUMPS) + max(1, int(math.log2(max(mag, 1))) + 1)
    return float(shape_a[0] * shape_a[1]) * dims * candidates * iterations


def descriptor_cost(shape_a: tuple[int, int], shape_b: tuple[int, int], channels: int,
                    patch: int, dims: int) -> float:
    """Multiply-adds of `patch_descriptors` for one pair: fitting (randomised SVD of the samples)
    and projecting both maps (a convolution with `dims` filters)."""
    full = channels * patch * patch
    if full <= dims:
        return 0.0
    cells = shape_a[0] * shape_a[1] + shape_b[0] * shape_b[1]
    return 2.0 * PCA_SAMPLES * full * (dims + 8) * 6 + float(cells) * full * dims
