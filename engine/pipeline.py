"""One job, whatever the method: dispatch to Gatys or a fast network, then the steps both share
(back to the requested size, strength, mask composite, alpha carried unchanged).

Contract for the method modules (each owns its `keep_colors` handling):
- `engine.gatys.stylize(content_rgb, styles_rgb, params, *, style_weights, mask, progress, cancel)`
  returns a `MethodResult` at the processing size (longest side = params.size).
- `engine.fast.stylize(content_rgb, params, *, mask, progress, cancel)` returns a `MethodResult`
  at the content's own size.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine import compose
from engine.cancel import CancelToken, ProgressFn, no_progress
from engine.contract import FastParams, GatysParams, JobRequest, Method
from engine.errors import BadImage
from engine.images import Picture, resize_gray, resize_rgb


@dataclass
class MethodResult:
    rgb: np.ndarray  # float32 (H, W, 3) in 0..1
    info: dict[str, Any] = field(default_factory=dict)  # device, iterations, losses, …


def run(
    request: JobRequest,
    content: Picture,
    styles: Sequence[Picture] = (),
    mask: np.ndarray | None = None,
    *,
    output_size: tuple[int, int] | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[Picture, dict[str, Any]]:
    """Run one job. `output_size` (w, h) defaults to the method's natural size: Gatys' processing
    size, the content's own size for fast networks. The server passes the content's size."""
    cancel = cancel or CancelToken()
    t0 = time.perf_counter()
    if mask is not None and mask.shape != content.rgb.shape[:2]:
        raise BadImage(f"Mask is {mask.shape[1]}x{mask.shape[0]} but the content is "
                       f"{content.size[0]}x{content.size[1]}.")
    if request.method is Method.GATYS:
        from engine import gatys

        assert isinstance(request.params, GatysParams)
        if not styles:
            raise BadImage("Gatys style transfer needs at least one style image.")
        result = gatys.stylize(
            content.rgb, [s.rgb for s in styles], request.params,
            style_weights=request.style_weights or request.params.style_weights,
            mask=mask, progress=progress, cancel=cancel,
        )
    else:
        from engine import fast

        assert isinstance(request.params, FastParams)
        result = fast.stylize(content.rgb, request.params, mask=mask, progress=progress,
                              cancel=cancel)
    styled = result.rgb
    size = output_size or (styled.shape[1], styled.shape[0])
    styled = resize_rgb(styled, size)
    original = resize_rgb(content.rgb, size)
    m = resize_gray(mask, size) if mask is not None else None
    out = compose.blend(styled, original, request.params.strength, m)
    alpha = resize_gray(content.alpha, size) if content.alpha is not None else None
    info = dict(result.info)
    info.update(method=request.method.value, width=size[0], height=size[1],
                seconds=round(time.perf_counter() - t0, 3))
    # `out` is ours (the method's result or blend's new array), never content.rgb: clip in place.
    out = out.astype(np.float32, copy=False)
    np.clip(out, 0.0, 1.0, out=out)
    return Picture(out, alpha), info
