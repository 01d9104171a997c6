"""The stride lattice of a feed-forward network's output, and its removal.

Why: a network that works at 1/4 resolution and comes back through two "nearest 2x upsample +
3x3 conv" stages gives each of the 4x4 output phases its own effective kernel; unless training
has taught the kernels to agree, the output carries a pattern that repeats every 4 pixels. On
the shipped networks it is a faint grid at 100 % zoom (issue #14: seen in GIMP on a 12 MP photo):
in the output's spectrum the power at period 4 is 17-44x that of the neighbouring frequencies
(Starry Night, landscape_lake_sherburne at 1 and 12 MP).

How: split the output into stride x stride blocks; a block's deviation from its own mean, phase
by phase, is its fine detail (strokes, edges) plus the lattice. The lattice is the part of that
deviation that neighbouring blocks share at the same phase, so it is estimated as the deviation
averaged over a neighbourhood of 5 x 5 blocks (20 px for stride 4) and subtracted.
Strokes and edges, which do not repeat with the stride, average out and stay; the block means
(everything coarser than the stride) are untouched. The period-4 peak goes from 31.6x to 1.5x;
a plain low-pass filter with zeros at period 4 and 2 removed it too but blurred every stroke.
"""

from __future__ import annotations

import numpy as np

CELL = 5  # blocks per side of the neighbourhood the lattice is estimated over (20 px at stride 4)


def _block_means(blocks: np.ndarray) -> np.ndarray:
    """(hb, wb, C) means of (hb, p, wb, p, C) blocks, by whole-slice additions: numpy's own
    reduction over two short inner axes was 8x slower (0.12 s at 4 MP)."""
    period = blocks.shape[1]
    rows = blocks[:, 0].copy()
    for i in range(1, period):
        rows += blocks[:, i]  # (hb, wb, p, C)
    means = rows[:, :, 0].copy()
    for i in range(1, period):
        means += rows[:, :, i]
    means *= np.float32(1.0 / period**2)
    return means


def remove_lattice(rgb: np.ndarray, period: int, cell: int = CELL) -> np.ndarray:
    """`rgb` (H, W, C) float32 without its locally periodic component of `period` pixels,
    counted from the top-left corner (the network's own grid: tiles start on it). Works in
    place where `rgb` is writable and C-contiguous, and returns it; rows and columns beyond the
    last whole block are left as they are (the tiler pads to the stride, so there are none).

    The neighbourhoods are cells of `cell` x `cell` blocks, one estimate per cell, worked through
    one band of cells at a time: a few passes over the picture, cache-sized (about 0.01 s/MP on
    the 2-core CPU, against 0.13 s/MP for a sliding 5 x 5 block window)."""
    if period < 2:
        return rgb
    h, w = rgb.shape[:2]
    hb, wb = h // period, w // period
    if hb == 0 or wb == 0:
        return rgb
    if not (rgb.flags.writeable and rgb.flags.c_contiguous and rgb.dtype == np.float32):
        rgb = np.array(rgb, np.float32)
    whole = w == wb * period
    body = rgb[: hb * period] if whole else np.ascontiguousarray(rgb[: hb * period, : wb * period])
    blocks = body.reshape(hb, period, wb, period, -1)  # a view: rows are contiguous
    starts = np.arange(0, wb, cell)
    counts = np.diff(np.r_[starts, wb])
    # The smooth picture under the lattice, per block: its mean plus its slope (central
    # differences of the block means, in blocks) times each phase's offset from the block's
    # centre. Without the slope a plain gradient's ramp inside each block would look like a
    # lattice (the same at every block) and be flattened into steps.
    means = _block_means(blocks)  # (hb, wb, C)
    grad_y = np.gradient(means, axis=0) if hb > 1 else np.zeros_like(means)
    grad_x = np.gradient(means, axis=1) if wb > 1 else np.zeros_like(means)
    offset = ((np.arange(period, dtype=np.float32) + 0.5) / period - 0.5)
    for r0 in range(0, hb, cell):
        band = blocks[r0:r0 + cell]  # (rows, period, wb, period, C)
        n = (band.shape[0] * counts).astype(np.float32)[:, None]  # blocks per cell
        sums = np.add.reduceat(band.sum(axis=0, dtype=np.float32), starts, axis=1)
        phase_mean = sums / n[None, :, None]  # (period, cells, period, C)
        cell_g = [np.add.reduceat(g[r0:r0 + cell].sum(axis=0), starts, axis=0) / n
                  for g in (means, grad_y, grad_x)]  # each (cells, C)
        smooth = (cell_g[0][None, :, None] + offset[:, None, None, None] * cell_g[1][None, :, None]
                  + offset[None, None, :, None] * cell_g[2][None, :, None])
        band -= np.repeat(phase_mean - smooth, counts, axis=1)[None]
    if not whole:
        rgb[: hb * period, : wb * period] = body
    return rgb


def lattice_strength(gray: np.ndarray, period: int) -> float:
    """Power of `gray`'s spectrum at `period` pixels (along rows and along columns, the larger)
    over the mean power of the nearby frequencies: ~1 for a picture without a lattice."""
    g = gray.astype(np.float32) - np.float32(gray.mean())
    worst = 0.0
    for axis in (0, 1):
        power = (np.abs(np.fft.rfft(g, axis=axis)) ** 2).mean(axis=1 - axis)
        freq = np.fft.rfftfreq(g.shape[axis])
        i = int(np.argmin(np.abs(freq - 1.0 / period)))
        around = np.r_[power[max(i - 6, 0):max(i - 2, 0)], power[i + 3:i + 7]]
        worst = max(worst, float(power[i - 1:i + 2].max() / max(around.mean(), 1e-12)))
    return worst
