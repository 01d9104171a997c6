"""The coarse-to-fine plan: which sizes to optimise at and how many iterations each gets.

Most of the work happens at low resolution, where an iteration is 4x (half size) or 16x (quarter
size) cheaper and where the large-scale arrangement of the style is decided; the finest scale only
refines brush strokes. `Quality` presets name the number of iterations at the finest scale; each
coarser scale gets `COARSE_FACTOR` times as many as the next finer one.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from engine.contract import QUALITY_ITERATIONS, GatysParams
from engine.errors import BadImage
from engine.images import fit_longest_side

COARSE_FACTOR = 2.0
MIN_SIDE = 128  # below this VGG19's deepest style layer (relu5_1, 1/16 size) has too few cells
# relu5_1 comes after four 2x2 poolings: an input side under 16 px pools down to nothing there
# (torch: "Output size is too small"). A coarse scale must keep twice that on the short side, so
# a banner (4000 x 300) simply gets fewer scales; a finest scale under 16 px cannot be optimised.
VGG_MIN_SIDE = 16
MIN_COARSE_SHORT_SIDE = 2 * VGG_MIN_SIDE
MAX_SCALES = 3


@dataclass(frozen=True)
class Stage:
    width: int
    height: int
    iterations: int

    @property
    def cost(self) -> float:
        """Relative work of this stage (pixels x iterations), for progress and ETA."""
        return self.width * self.height * self.iterations


def plan(content_wh: tuple[int, int], params: GatysParams) -> list[Stage]:
    """Stages from coarsest to finest; the last one is at `params.size`. BadImage when even the
    finest is too thin for VGG19 (refused before any work, at submission too)."""
    fine = params.iterations or QUALITY_ITERATIONS[params.quality]
    w, h = fit_longest_side(content_wh, params.size)
    if min(w, h) < VGG_MIN_SIDE:
        cw, ch = content_wh
        need = math.ceil(VGG_MIN_SIDE * max(cw, ch) / min(cw, ch))
        largest = next(f.metadata["max"] for f in dataclasses.fields(GatysParams)
                       if f.name == "size")
        fix = f"raise the size to {need} or more, or " if need <= largest else ""
        raise BadImage(
            f"The image is too thin for Gatys style transfer: {cw}x{ch} at size {params.size} is "
            f"{w}x{h}, and the optimisation needs at least {VGG_MIN_SIDE} px on the short side; "
            f"{fix}crop the image, or use a fast network.")
    sides = [params.size]
    while (params.multiscale and len(sides) < MAX_SCALES and sides[-1] // 2 >= MIN_SIDE
           and min(fit_longest_side(content_wh, sides[-1] // 2)) >= MIN_COARSE_SHORT_SIDE):
        sides.append(sides[-1] // 2)
    stages = []
    for k, side in enumerate(sides):
        w, h = fit_longest_side(content_wh, side)
        stages.append(Stage(w, h, max(1, round(fine * COARSE_FACTOR**k))))
    return stages[::-1]


def style_size(style_wh: tuple[int, int], longest: int) -> tuple[int, int]:
    """A style image's size for a stage: its longest side `longest`, but never a short side
    VGG19 cannot take (a thin painting is then scaled by its short side instead)."""
    w, h = fit_longest_side(style_wh, longest)
    if min(w, h) >= VGG_MIN_SIDE:
        return w, h
    s = VGG_MIN_SIDE / min(style_wh)
    return max(VGG_MIN_SIDE, math.ceil(style_wh[0] * s)), max(VGG_MIN_SIDE,
                                                              math.ceil(style_wh[1] * s))


def total_cost(stages: list[Stage]) -> float:
    return float(sum(s.cost for s in stages))
