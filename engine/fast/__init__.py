"""Fast (feed-forward) style transfer: installed ONNX networks run with onnxruntime.

`list_models()` lists what is installed; `stylize(...)` runs one network over a photo of any size
(padding to the stride, tiling with feathered overlaps) and applies keep-colours. Strength and the
mask composite are `engine.pipeline.run`'s job.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from engine import runtime
from engine.cancel import CancelToken, ProgressFn, no_progress
from engine.compose import keep_colors
from engine.contract import Device, FastParams, Progress
from engine.eta import StagedEta
from engine.fast.lattice import remove_lattice
from engine.fast.metadata import ModelMeta
from engine.fast.registry import ModelInfo, Registry
from engine.fast.session import OnnxSession, SessionCache
from engine.fast.tiling import fitted_side, layout, padded_size, round_up, run_tiled
from engine.fast.tone import REFERENCE_PIXELS, ToneMatch
from engine.images import Picture
from engine.method import MethodInput, MethodResult
from engine.working_size import back_to_size, working_copy, working_shape

__all__ = ["ModelInfo", "list_models", "scan_models", "get_model", "stylize", "runtime_info",
           "AUTO_TILE", "auto_tile", "memory_per_megapixel", "OVERLAP"]

# Automatic tiling (FastParams.tile = 0) bounds onnxruntime's working memory per tile. Measured
# peak per megapixel of tile for width-8 networks over tile shapes from 1 to 8 MP
# (benchmarks/fast_memory.py, sessions as engine.fast.session makes them): at most 160 MB for the
# light layout and 295 MB for the Johnson layout; it grows in proportion to the width.
TILE_MEMORY_MB = 750
MIN_AUTO_TILE, MAX_AUTO_TILE = 512, 4096
# A dynamic-size network that says nothing about its architecture: 1024 px tiles, one piece up to
# 2.5 MP (what a width-8 Johnson network needs under 1 GB for).
AUTO_TILE = 1024
UNKNOWN_ONE_PIECE = 2_500_000
OVERLAP = 128  # pixels of cross-fade between neighbouring tiles
# Reflected pixels added where a tile meets the picture's border and cropped off again
# (engine.fast.tiling._run_with_margin): the trained networks' border artefacts fall outside.
# 16 px removed them on the shipped networks (docs/fast.md), for +6.6 % pixels at 1 MP.
BORDER_MARGIN = 16


def memory_per_megapixel(meta: ModelMeta) -> float | None:
    """Estimated MB of onnxruntime working memory per megapixel, from the json's architecture
    (our exports write it), or None when the model does not say."""
    arch = meta.extra.get("architecture")
    if not isinstance(arch, dict) or not isinstance(arch.get("width"), int):
        return None
    per_width = {"light": 20.0, "johnson": 37.0}.get(arch.get("layout", "johnson"))
    return None if per_width is None else per_width * arch["width"]


def one_piece_pixels(mb_per_mp: float | None) -> int:
    """The most pixels one onnxruntime run may take for a model with this memory per pixel."""
    if mb_per_mp is None:
        return UNKNOWN_ONE_PIECE
    return int(TILE_MEMORY_MB / mb_per_mp * 1e6)


def auto_tile(height: int, width: int, mb_per_mp: float | None = None, *,
              overlap: int = OVERLAP, stride: int = 4) -> int:
    """Tile side when FastParams.tile is 0: the whole photo when it fits in TILE_MEMORY_MB (one
    piece: no overlap work, no seam, image-wide instance-norm statistics); otherwise the largest
    side (a multiple of 256 px, MIN_AUTO_TILE..MAX_AUTO_TILE) whose tiles, once fitted to this
    photo, stay within the budget. Fewer, larger tiles mean less overlap work (24 MP: 6 tiles,
    8% extra, against 35 tiles and 28% extra at 1024 px) and less tone drift between tiles.
    Memory follows the padded size the network runs at (a 1 x 500000 strip is 32 x 500000)."""
    budget = one_piece_pixels(mb_per_mp)
    h, w = padded_size(height, width, stride)
    if mb_per_mp is None:
        return max(h, w, AUTO_TILE) if h * w <= budget else AUTO_TILE
    if h * w <= budget:
        return max(h, w, MIN_AUTO_TILE)
    for side in range(MAX_AUTO_TILE, MIN_AUTO_TILE, -256):
        if fitted_side(h, side, overlap, stride) * fitted_side(w, side, overlap, stride) <= budget:
            return side
    return MIN_AUTO_TILE


_registry = Registry()
_sessions = SessionCache()


def list_models(kind: str = "style") -> list[ModelInfo]:
    """Installed networks of one kind: "style" (the fast picker's list) or e.g. "upscaler"."""
    return _registry.list(kind)


def scan_models() -> tuple[dict[str, ModelInfo], dict[str, str]]:
    """(usable models by id, problems by id): what `engine models` and `doctor` report."""
    return _registry.scan()


def get_model(model_id: str) -> ModelInfo:
    return _registry.get(model_id)


def runtime_info() -> dict[str, Any]:
    """For `doctor`: onnxruntime version and providers, and what `auto` would pick."""
    import onnxruntime

    return {"onnxruntime": onnxruntime.__version__, "providers": list(runtime.onnx_providers()),
            "auto_provider": runtime.providers(runtime.lane(Device.AUTO,
                                                            runtime.ONNX))[0],
            "model_dirs": [str(d) for d in _registry.dirs()]}


def _fp16_file(model: ModelInfo) -> tuple[Path, str] | None:
    """The model's fp16 variant, when its export measured it as faithful (see export/onnx_export:
    PSNR >= 40 dB against fp32) and the file is there."""
    v = model.meta.extra.get("variants", {})
    fp16 = v.get("fp16") if isinstance(v, dict) else None
    if not isinstance(fp16, dict) or not fp16.get("kept") or not isinstance(fp16.get("file"), str):
        return None
    path = model.path.parent / Path(fp16["file"]).name
    sha = fp16.get("sha256")
    return (path, sha) if path.is_file() and isinstance(sha, str) else None


def session_for(model: ModelInfo, lane: str) -> OnnxSession:
    m = model.meta
    scale = int(m.extra.get("scale", 1))  # output side / input side: 4 for an upscaler
    # fp16 halves memory traffic on a GPU; onnxruntime's CPU provider has no fast fp16 kernels
    # (measured 2-3x slower), so the CPU always runs the fp32 file.
    variant = _fp16_file(model)
    if variant is not None and lane == runtime.CUDA:
        return _sessions.get(variant[0], lane, m.range, m.input_name, m.output_name, scale,
                             sha256=variant[1], model_id=model.id)
    return _sessions.get(model.path, lane, m.range, m.input_name, m.output_name, scale,
                         sha256=m.sha256, model_id=model.id)


def stylize(content: np.ndarray | Picture, params: FastParams, *, lane: str | None = None,
            progress: ProgressFn = no_progress,
            cancel: CancelToken | None = None) -> MethodResult:
    """Styled at the content's own size: float32 (H, W, 3), or an 8-bit Pillow image when an
    8-bit photo was repainted at a smaller working size (`stroke_size`, `working_size`: see
    engine/working_size.py) and nothing after needs float. `lane` defaults to what
    `params.device` picks here (engine.runtime.lane)."""
    cancel = cancel or CancelToken()
    t0 = time.perf_counter()
    picture = content if isinstance(content, Picture) else Picture(content)
    model = _registry.get(params.model)
    sess = session_for(model, lane or runtime.lane(params.device, runtime.ONNX))
    fixed = sess.fixed_size or model.meta.fixed_size
    full_w, full_h = picture.size
    wh, ww = (full_h, full_w) if fixed is not None else working_shape(full_h, full_w, params)
    smaller = (wh, ww) != (full_h, full_w)
    # An 8-bit photo repainted smaller stays 8-bit from the file to the result (as the
    # any-painting network's): no full-size float copy is made.
    eight_bit = smaller and picture.eight_bit and not params.keep_colors
    source = picture.pil if eight_bit else picture.rgb
    work = working_copy(source, (ww, wh))
    h, w = work.shape[:2]
    mb_per_mp = memory_per_megapixel(model.meta)
    tile = params.tile or auto_tile(h, w, mb_per_mp, stride=model.meta.stride)
    stride = model.meta.stride
    overlap = OVERLAP if fixed is None else min(32, fixed[0] // 4, fixed[1] // 4)
    margin = 0 if fixed is not None else round_up(BORDER_MARGIN, stride)
    cut = layout(h, w, tile=tile, overlap=overlap, stride=stride, fixed_size=fixed)
    n_tiles = len(cut.tiles) if fixed is None else None
    progress(Progress(0.0, "loading model" if n_tiles is None else f"tile 0/{n_tiles}"))

    # One stage of equal tiles; the tone reference and the model's loading are its set-up.
    timer = StagedEta.of([(float(cut.tile) ** 2, max(1, n_tiles or 1))], kind="fast")
    timer.start_stage(0)

    def on_tile(done: int, total: int) -> None:
        timer.step_done(0, done)
        progress(Progress(done / total, f"tile {done}/{total}", iteration=done,
                          total_iterations=total, eta_s=timer.seconds_left()))
        cancel.raise_if_cancelled()

    cancel.raise_if_cancelled()
    work = work.astype(np.float32, copy=False)

    def run_net(tile_rgb: np.ndarray) -> np.ndarray:
        # Tiles start on the network's grid, so its stride lattice has one phase per tile.
        out = sess.run(tile_rgb)
        return out if fixed is not None else remove_lattice(out, stride)

    tone = None
    if n_tiles is not None and n_tiles > 1:
        # One low-resolution run of the whole photo sets the tone every tile is matched to.
        def whole(img: np.ndarray) -> np.ndarray:
            return run_tiled(img, run_net, tile=max(img.shape[:2]), overlap=overlap,
                             stride=stride, margin=margin)

        # The reference is one piece: no bigger than a tile may be (memory), nor than 1 MP,
        # counted as the network sees it (padded).
        pixels = min(REFERENCE_PIXELS, cut.tile ** 2, one_piece_pixels(mb_per_mp))
        tone = ToneMatch(work, whole, reference_pixels=pixels,
                         run_size=lambda rh, rw: padded_size(rh, rw, stride))
        cancel.raise_if_cancelled()
    timer.steps_begin(0)
    styled = run_tiled(work, run_net, on_tile=on_tile, cut=cut, margin=margin,
                       adjust=tone.tile if tone is not None else None)
    if smaller:
        styled = back_to_size(styled, source, work)
    if params.keep_colors:
        styled = keep_colors(styled, picture.rgb)
    info = {"model": model.id, "model_name": model.name, "provider": sess.provider,
            "device": "cuda" if sess.provider.startswith("CUDA") else "cpu",
            "tile": cut.tile, "working_size": [ww, wh],
            "tiles": n_tiles, "tone_matched": tone is not None,
            "fast_seconds": round(time.perf_counter() - t0, 3)}
    return MethodResult(styled, info)


class FastMethod:
    """engine.method.StyleMethod for `Method.FAST`. The mask is the pipeline's business (it
    composites); a feed-forward network styles the whole region either way."""

    def run(self, params: FastParams, inputs: MethodInput, *, lane: str, progress: ProgressFn,
            cancel: CancelToken) -> MethodResult:
        return stylize(inputs.photo, params, lane=lane, progress=progress, cancel=cancel)


METHOD = FastMethod()
