"""The coarse-to-fine plan: which sizes to optimise at and how many iterations each gets.

Most of the work happens at low resolution, where an iteration is 4x (half size) or 16x (quarter
size) cheaper and where the large-scale arrangement of the style is decided; the finest scale only
refines brush strokes. `Quality` presets name the number of iterations at the finest scale; each
coarser scale gets `COARSE_FACTOR` times as many as the next finer one.

Large sizes (`fine_scales=light`, the default): above `LIGHT_ABOVE` the plan is the ordinary plan
at 512 px, where the arrangement of the style is settled, followed by *light* scales up to the
size (each at most twice the one before) that only refine brush strokes: VGG19 up to relu3_1 (style
relu1_1..relu3_1, content relu3_1) instead of up to relu5_1, `fine` iterations each. The deep
layers are two thirds of a VGG19 pass's arithmetic and, at these sizes, describe what the 512 px
scale already decided (measured, though, the time saved is small: see LIGHT_COST).
(crowsonkb's style-transfer-pytorch also spends its finest scales on fewer, cheaper steps; the
truncated network is our choice; benchmarks/gatys_highres.py compares it with the full plan.)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from engine.contract import QUALITY_ITERATIONS, FineScales, GatysParams, StyleLoss
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
LIGHT_ABOVE = 512
LIGHT_FROM = 640  # just above 512 a light scale would cost more than the ordinary plan saves
# Work of a light iteration relative to a full one at the same size, for progress and the ETA.
# By FLOPs it would be 0.35 (VGG19 to relu3_1 instead of relu5_1), but measured on the 2-core
# AVX-512 CPU a light iteration at 1024x768 took 2.4 s, what four full ones at 512x384 take: at
# these sizes the shallow layers are bound by memory bandwidth, not arithmetic.
LIGHT_COST = 1.0
# Iterations of a light scale as a fraction of the preset's finest-scale count. Measured
# (benchmarks/gatys_light_iterations.py, raccoon_face x Starry Night at 1024 px, scored at 1024):
# half (12 of 25) saved 30 % of the run but left the strokes soft (nst_score style 0.054 -> 0.205).
LIGHT_ITERATION_FRACTION = 1.0


@dataclass(frozen=True)
class Stage:
    width: int
    height: int
    iterations: int
    light: bool = False  # refine strokes only: the shallow layers (see the module docstring)

    @property
    def pixel_cost(self) -> float:
        """Relative work of one iteration."""
        return self.width * self.height * (LIGHT_COST if self.light else 1.0)

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
        light = [params.size]
        while light[-1] // 2 > LIGHT_ABOVE:
            light.append(light[-1] // 2)
        # The head is exactly the 512 px default's plan: a large result is that result, refined.
        if min(fit_longest_side(content_wh, LIGHT_ABOVE)) >= MIN_COARSE_SHORT_SIDE:
            head = plan(content_wh, dataclasses.replace(params, size=LIGHT_ABOVE))
            n = max(1, round(fine * LIGHT_ITERATION_FRACTION))
            return head + [Stage(*fit_longest_side(content_wh, side), n, light=True)
                           for side in reversed(light)]
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
