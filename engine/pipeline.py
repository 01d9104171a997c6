"""One job, whatever the method: pick the lane, dispatch through the method registry
(engine/methods.py), then the steps every method shares: back to the requested size, strength,
the mask composite, alpha carried unchanged."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from engine import compose, methods, runtime, upscale
from engine.cancel import CancelToken, ProgressFn, no_progress
from engine.contract import JobRequest, Progress, Upscale
from engine.errors import BadImage
from engine.images import Picture, resize_gray, resize_rgb, size_of
from engine.method import MethodInput

UPSCALE_SHARE = 0.1  # of the progress bar, when a result may be upscaled


def run(
    request: JobRequest,
    content: Picture,
    styles: Sequence[Picture] = (),
    mask: np.ndarray | None = None,
    *,
    output_size: tuple[int, int] | None = None,
    lane: str | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    extras: dict[str, Picture] | None = None,
) -> tuple[Picture, dict[str, Any]]:
    """Run one job. `output_size` (w, h) defaults to the method's natural size (Gatys' processing
    size, the content's own size for fast networks); the server passes the content's size.
    `lane` ("cpu"/"cuda") is the caller's choice (the server's queue lane); by default the
    request's `device` parameter decides (engine.runtime.lane). A caller that wants a method's
    further images passes a dict as `extras`; it is filled by name (MethodResult.extras)."""
    cancel = cancel or CancelToken()
    t0 = time.perf_counter()
    if mask is not None and mask.shape != content.size[::-1]:
        raise BadImage(f"Mask is {mask.shape[1]}x{mask.shape[0]} but the content is "
                       f"{content.size[0]}x{content.size[1]}.")
    params = request.params
    lane = lane or runtime.lane(params.device, methods.backend(request.method))
    # A method that renders at its own size (Gatys' `size`) leaves the last step to photo size to
    # engine.upscale; its share of the progress bar is a guess refined by nothing, so it is small.
    mode = getattr(params, "upscale", Upscale.SMOOTH)
    share = UPSCALE_SHARE if mode is Upscale.SHARP and output_size else 0.0

    def method_progress(e: Progress) -> None:
        progress(dataclasses.replace(e, fraction=e.fraction * (1.0 - share)))

    method = methods.get(request.method)
    result = method.run(
        params, MethodInput(content, list(styles), mask), lane=lane,
        progress=method_progress if share else progress, cancel=cancel)
    if extras is not None:
        extras.update({k: Picture(np.clip(v, 0.0, 1.0).astype(np.float32, copy=False))
                       for k, v in result.extras.items()})
    styled = result.rgb
    w, h = size_of(styled)
    size = output_size or (w, h)
    # A method that applies strength itself (in its own terms: the arbitrary network moves its
    # style code) is not blended again here; the mask still composites.
    strength = 1.0 if getattr(method, "applies_strength", False) else params.strength
    alpha = resize_gray(content.alpha, size) if content.alpha is not None else None
    info = dict(result.info)

    def finish(picture: Picture) -> tuple[Picture, dict[str, Any]]:
        info.update(method=request.method.value, width=size[0], height=size[1],
                    seconds=round(time.perf_counter() - t0, 3))
        return picture, info

    if isinstance(styled, Image.Image) or styled.dtype == np.uint8:
        eight = Picture(pil=styled) if isinstance(styled, Image.Image) else Picture(u8=styled)
        if (w, h) == size and mask is None and strength >= 1.0:
            # Nothing left to do: the 8-bit result is the picture, as it is.
            info.update(upscale=upscale.NONE)
            eight.alpha = alpha
            return finish(eight)
        styled = eight.rgb

    def upscale_progress(e: Progress) -> None:
        progress(Progress(1.0 - share + share * e.fraction, e.stage))

    styled, how = upscale.to_size(styled, size, mode, lane=lane, progress=upscale_progress,
                                  cancel=cancel)
    info.update(how)
    original = resize_rgb(content.rgb, size)
    m = resize_gray(mask, size) if mask is not None else None
    out = compose.blend(styled, original, strength, m)
    # `out` is ours (the method's result or blend's new array), never content.rgb: clip in place.
    out = out.astype(np.float32, copy=False)
    np.clip(out, 0.0, 1.0, out=out)
    return finish(Picture(out, alpha))
