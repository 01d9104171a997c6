"""The coarse-to-fine plan: which sizes to optimise at and how many iterations each gets.

Most of the work happens at low resolution, where an iteration is 4x (half size) or 16x (quarter
size) cheaper and where the large-scale arrangement of the style is decided; the finest scale only
refines brush strokes. `Quality` presets name the number of iterations at the finest scale; each
coarser scale gets `COARSE_FACTOR` times as many as the next finer one.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.contract import QUALITY_ITERATIONS, GatysParams

COARSE_FACTOR = 2.0
MIN_SIDE = 128  # below this VGG19's deepest style layer (relu5_1, 1/16 size) has too few cells
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


def fit(content_wh: tuple[int, int], longest: int) -> tuple[int, int]:
    w, h = content_wh
    s = longest / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


def plan(content_wh: tuple[int, int], params: GatysParams) -> list[Stage]:
    """Stages from coarsest to finest; the last one is at `params.size`."""
    fine = params.iterations or QUALITY_ITERATIONS[params.quality]
    sides = [params.size]
    while params.multiscale and len(sides) < MAX_SCALES and sides[-1] // 2 >= MIN_SIDE:
        sides.append(sides[-1] // 2)
    stages = []
    for k, side in enumerate(sides):
        w, h = fit(content_wh, side)
        stages.append(Stage(w, h, max(1, round(fine * COARSE_FACTOR**k))))
    return stages[::-1]


def total_cost(stages: list[Stage]) -> float:
    return float(sum(s.cost for s in stages))
