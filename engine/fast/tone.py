"""Tone matching between tiles: one low-resolution run of the whole photo sets the broad tone,
every tile keeps its own detail.

Why: instance norm makes each tile normalise with its own statistics, so a tile of sky next to a
tile of facade comes out lighter or darker than the same sky in a one-piece run. The feathered
overlap hides the seam, but at 24 MP the tiles still show as soft rectangles of different tone
(measured: low-frequency difference to the one-piece result 0.041 on 0..1).

How: the photo is shrunk by an integer factor `k` to about `REFERENCE_PIXELS` and styled in one
piece — a reference whose instance norms see the whole picture. Both the reference and each
tile's output are averaged over the same global grid of cells (`cell` full-resolution pixels);
the difference, blurred over 3x3 cells, is interpolated back to full resolution and added to the
tile. Texture and edges come from the tile, the tone of every ~250 px region (cells blurred
3x3) from the reference, so neighbouring tiles agree and the rectangles disappear (difference
0.029, which is what separates the low-resolution reference itself from the one-piece run).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

RunFn = Callable[[np.ndarray], np.ndarray]

REFERENCE_PIXELS = 1_000_000  # the reference run: ~0.15 s for the shipped networks on 2 cores
CELL = 80  # full-resolution pixels per grid cell (before the 3x3 blur)
MIN_CELL_IN_REFERENCE = 8  # reference pixels per cell: fewer and its brush strokes leak in


def _cell_sums(a: np.ndarray, axis: int, origin: int, cell: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of `a` along `axis` over the global cells (`a` starts at `origin`), and how many
    pixels each sum holds. Whole cells are summed through a reshape: `np.add.reduceat` with
    many short segments is ten times slower on a 24 MP photo."""
    n = a.shape[axis]
    head = min(-origin % cell, n)
    body = (n - head) // cell * cell

    def part(start: int, stop: int) -> np.ndarray:
        return a[(slice(None),) * axis + (slice(start, stop),)]

    parts, counts = [], []
    if head:
        parts.append(part(0, head).sum(axis=axis, keepdims=True))
        counts.append(head)
    if body:
        mid = part(head, head + body)
        shape = mid.shape[:axis] + (body // cell, cell) + mid.shape[axis + 1:]
        parts.append(mid.reshape(shape).sum(axis=axis + 1))
        counts += [cell] * (body // cell)
    if head + body < n:
        parts.append(part(head + body, n).sum(axis=axis, keepdims=True))
        counts.append(n - head - body)
    return np.concatenate(parts, axis=axis), np.asarray(counts, np.float32)


def cell_means(rgb: np.ndarray, y0: int, x0: int, cell: int,
               with_counts: bool = False):
    """Per-channel means of `rgb` (placed at (y0, x0) in the photo) over the cells of the photo's
    global `cell` grid that it touches; cells cut by its border average what is inside. With
    `with_counts`, also the rows and columns of each cell row/column that were inside."""
    rows, ny = _cell_sums(rgb, 0, y0, cell)
    sums, nx = _cell_sums(rows, 1, x0, cell)
    means = sums / (ny[:, None, None] * nx[None, :, None])
    return (means, ny, nx) if with_counts else means


def _whole_cells(counts: np.ndarray, first: int, cell: int, length: int) -> np.ndarray:
    """Which of the cells first, first+1, ... a tile covers as fully as the photo does (the
    photo's last cell may itself be short)."""
    idx = first + np.arange(len(counts))
    full = np.minimum((idx + 1) * cell, length) - idx * cell
    return counts == full


def _blur3(grid: np.ndarray) -> np.ndarray:
    p = np.pad(grid, ((1, 1), (1, 1), (0, 0)), mode="edge")
    return sum(p[i:i + grid.shape[0], j:j + grid.shape[1]]
               for i in range(3) for j in range(3)) / np.float32(9)


def _interpolation(n: int, origin: int, cell: int, cells: int) -> np.ndarray:
    """(n, cells) linear-interpolation weights from cell centres to pixels origin..origin+n-1,
    with `cells` counted from the cell that holds `origin`."""
    pos = (np.arange(n) + origin + 0.5) / cell - 0.5 - origin // cell
    pos = np.clip(pos, 0, cells - 1)
    lo = np.minimum(pos.astype(np.int64), max(cells - 2, 0))
    frac = (pos - lo).astype(np.float32)
    weights = np.zeros((n, cells), np.float32)
    weights[np.arange(n), lo] = 1 - frac
    weights[np.arange(n), np.minimum(lo + 1, cells - 1)] += frac
    return weights


class ToneMatch:
    """Built once per photo (runs the reference); then `tile(rgb, y0, x0)` corrects one tile's
    output in place and returns it."""

    def __init__(self, content: np.ndarray, run_whole: RunFn,
                 reference_pixels: int = REFERENCE_PIXELS, cell: int = CELL,
                 run_size: Callable[[int, int], tuple[int, int]] | None = None):
        """`run_size(h, w)`: the size `run_whole` really runs an h x w image at (the network's
        padding); the reference is shrunk until that, not just the image, fits
        `reference_pixels`."""
        self.height, self.width = content.shape[:2]
        k = max(1, math.ceil(math.sqrt(self.height * self.width / reference_pixels)))
        if run_size is not None:
            while k < max(self.height, self.width) and math.prod(run_size(
                    -(-self.height // k), -(-self.width // k))) > reference_pixels:
                k += 1
        per_cell = max(MIN_CELL_IN_REFERENCE, round(cell / k))
        self.cell = k * per_cell
        small = cell_means(content, 0, 0, k)  # an exact k-fold area shrink
        reference = run_whole(small)
        self.reference_cells = cell_means(reference, 0, 0, per_cell)

    def tile(self, rgb: np.ndarray, y0: int, x0: int) -> np.ndarray:
        mine, ny, nx = cell_means(rgb, y0, x0, self.cell, with_counts=True)
        cy, cx = y0 // self.cell, x0 // self.cell
        ref = self.reference_cells[cy:cy + mine.shape[0], cx:cx + mine.shape[1]]
        # Only cells the tile holds whole compare like with like; a cell cut by the tile's
        # border (inside the photo) takes the correction of its whole neighbour.
        rows = np.flatnonzero(_whole_cells(ny, cy, self.cell, self.height))
        cols = np.flatnonzero(_whole_cells(nx, cx, self.cell, self.width))
        if len(rows) == 0 or len(cols) == 0:
            return rgb  # a sliver narrower than a cell: nothing reliable to match
        delta = (ref - mine)[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        delta = np.pad(delta, ((rows[0], len(ny) - 1 - rows[-1]),
                               (cols[0], len(nx) - 1 - cols[-1]), (0, 0)), mode="edge")
        delta = _blur3(delta)
        wy = _interpolation(rgb.shape[0], y0, self.cell, delta.shape[0])
        wx = _interpolation(rgb.shape[1], x0, self.cell, delta.shape[1])
        for c in range(3):  # separable: (H x cy) @ (cy x cx) @ (cx x W), a few ms per channel
            rgb[..., c] += wy @ delta[..., c] @ wx.T
        np.clip(rgb, 0.0, 1.0, out=rgb)
        return rgb
