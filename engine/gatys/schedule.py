"""The coarse-to-fine plan: which sizes to optimise at and how many iterations each gets.

Most of the work happens at low resolution, where an iteration is 4x (half size) or 16x (quarter
size) cheaper and where the large-scale arrangement of the style is decided; the finest scale only
refines brush strokes. `Quality` presets name the number of iterations at the finest scale; each
coarser scale gets `COARSE_FACTOR` times as many as the next finer one.

Large sizes (`fine_scales=light`, the default, from `LIGHT_FROM` up) are two scales:
1. the *head*: the full plan's coarsest scale (the size halved until it is at most 512 px: 512 for
   1024 and 2048), full depth, from the photo, `HEAD_FRACTION` of the full plan's iterations for
   that scale. The arrangement of the style and the photo's structure are settled here, where an
   iteration costs a sixteenth of one at 2048 px;
2. the size itself, *light* (features.Depth.STROKES: VGG19 to relu3_1, half a full iteration's
   time), `FINEST_FRACTION` of the preset's count, starting from the head's result enlarged by
   the upscaler network (transfer._enlarge) and with that enlargement as its content target: it
   redraws brush strokes at full resolution, it does not renegotiate with the photo.
No scale in between: the 1024 px scale of a 2048 px run cost a quarter of the run and moved the
yardstick's scores away from the full plan's (docs/gatys.md, "Large sizes"). crowsonkb's
style-transfer-pytorch also spends its finest scales on fewer steps; the truncated network, the
single jump and the network's enlargement are our choices.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from engine.contract import QUALITY_ITERATIONS, FineScales, GatysParams, StyleLoss
from engine.errors import BadImage
from engine.gatys.features import Depth
from engine.images import fit_longest_side

COARSE_FACTOR = 2.0
MIN_SIDE = 128  # below this VGG19's deepest style layer (relu5_1, 1/16 size) has too few cells
# relu5_1 comes after four 2x2 poolings: an input side under 16 px pools down to nothing there
# (torch: "Output size is too small"). A coarse scale must keep twice that on the short side, so
# a banner (4000 x 300) simply gets fewer scales; a finest scale under 16 px cannot be optimised.
VGG_MIN_SIDE = 16
MIN_COARSE_SHORT_SIDE = 2 * VGG_MIN_SIDE
MAX_SCALES = 3
LIGHT_ABOVE = 512
LIGHT_FROM = 640  # just above 512 a light scale would cost more than the ordinary plan saves
# Work of an iteration at each depth relative to a full one at the same size, for progress and
# the ETA (measured on the 2-core CPU, bf16: 3.54 / 1.81 s at 1024 x 768, 17.3 / 8.5 s at 2048).
# By arithmetic a STROKES pass is a third of a full one; the shallow layers' large maps are bound
# by memory bandwidth.
DEPTH_COST = {Depth.FULL: 1.0, Depth.STROKES: 0.51}
# Measured on raccoon_face x Starry Night at 2048 px draft, nst_score at 512 against the full
# plan's 0.366 / 0.069 / 0.826: a head of 0.5 (24 iterations) left content at 1.29x, 0.75 at
# 1.09x, 1.0 at 1.04x; 0.75 keeps the 1024 px default under a minute.
HEAD_FRACTION = 0.75  # of the full plan's iterations at the head's scale
FINEST_FRACTION = 1 / 3  # of the preset's count, at the size itself


@dataclass(frozen=True)
class Stage:
    width: int
    height: int
    iterations: int
    depth: Depth = Depth.FULL  # shallower: refine strokes only (see the module docstring)

    @property
    def light(self) -> bool:
        return self.depth is not Depth.FULL

    @property
    def pixel_cost(self) -> float:
        """Relative work of one iteration."""
        return self.width * self.height * DEPTH_COST[self.depth]

    @property
    def cost(self) -> float:
        """Relative work of this stage (pixels x iterations), for progress and ETA."""
        return self.pixel_cost * self.iterations


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
    if (params.fine_scales is FineScales.LIGHT and params.style_loss is StyleLoss.GRAM
            and params.multiscale and params.size >= LIGHT_FROM):
        head_side = params.size
        while head_side > LIGHT_ABOVE:
            head_side //= 2
        if min(fit_longest_side(content_wh, head_side)) >= MIN_COARSE_SHORT_SIDE:
            # The full plan's iterations for that scale (COARSE_FACTOR per halving).
            n = fine * COARSE_FACTOR ** round(math.log2(params.size / head_side))
            return [Stage(*fit_longest_side(content_wh, head_side),
                          max(1, round(n * HEAD_FRACTION))),
                    Stage(w, h, max(1, round(fine * FINEST_FRACTION)), Depth.STROKES)]
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
