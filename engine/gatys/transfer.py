"""`stylize`: the whole Gatys run, coarse to fine, from numpy images to a `MethodResult`."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from engine import compose, runtime, speed, upscale
from engine.backbone import shared_backbone
from engine.cancel import CancelToken, ProgressFn, no_progress
from engine.contract import (
    GatysParams,
    Init,
    Method,
    ParamError,
    Progress,
    Upscale,
    check_styles,
    params_to_dict,
)
from engine.contract import (
    StyleLoss as StyleLossKind,
)
from engine.errors import BadImage, BadParameter
from engine.eta import StagedEta
from engine.gatys import patches
from engine.gatys.features import CONTENT_LAYER, Depth, gram, layer_mask, stage_layers
from engine.gatys.losses import ContentLoss, StyleLoss, blend_grams
from engine.gatys.optimise import Objective, Weights, optimise
from engine.gatys.schedule import Stage, plan, style_size, total_cost
from engine.images import resize_gray, resize_rgb
from engine.method import MethodInput, MethodResult

log = logging.getLogger(__name__)

# What style_weight = 1 / tv_weight = 1 mean. The losses are normalised (see losses.py), so these
# are the trade-off itself: style is STYLE_UNIT times as important as keeping the photo's structure.
STYLE_UNIT = 10.0
TV_UNIT = 2.0
# The same for the patch loss (patches.py, 1 = the photo's own distance to the painting's
# patches): measured on the shared photos, a stronger pull dissolves the photo's structure.
PATCH_UNIT = 2.25


def _tensor(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[
        None].to(device)


def _check_inputs(content: np.ndarray, styles: Sequence[np.ndarray],
                  params: GatysParams) -> list[float]:
    for what, img in [("content", content), *[(f"style {i + 1}", s) for i, s in
                                              enumerate(styles)]]:
        if img.ndim != 3 or img.shape[2] != 3 or min(img.shape[:2]) < 1:
            raise BadImage(f"The {what} image must be RGB (H, W, 3), got shape {img.shape}.")
    try:
        check_styles(Method.GATYS, params, len(styles))
    except ParamError as exc:  # the library's callers get domain errors
        raise (BadImage if exc.name == "style" else BadParameter)(str(exc)) from None
    return list(params.style_weights) if params.style_weights else [1.0] * len(styles)


def vgg_features(net, x: torch.Tensor, dtype: torch.dtype | None, device: torch.device,
                 layers: Sequence[str] | None = None, *, as_float: bool = True
                 ) -> dict[str, torch.Tensor]:
    """VGG19 features, no grad. `as_float=False` keeps autocast's bf16: at 2048 px an fp32 copy
    of relu1_1 alone is 0.8 GB, and Gram matrices are accumulated in fp32 from bf16 anyway."""
    style_layers, content_layer = stage_layers(Depth.FULL)
    ctx = torch.autocast(device.type, dtype=dtype) if dtype else torch.autocast(
        device.type, enabled=False)
    with torch.no_grad(), ctx:
        if device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        wanted = layers or (*style_layers, content_layer)
        out = net(x, wanted)
        return {k: v.float() for k, v in out.items()} if as_float else out


def _painting(rgb: np.ndarray, stage: Stage, params: GatysParams) -> np.ndarray:
    # The painting is scaled relative to the output, so style_scale sets brush-stroke size.
    side = max(16, round(max(stage.width, stage.height) * params.style_scale))
    return resize_rgb(rgb, style_size((rgb.shape[1], rgb.shape[0]), side))


def _targets(net, content_t: torch.Tensor, styles: Sequence[np.ndarray], weights: list[float],
             stage: Stage, params: GatysParams, mask_t: torch.Tensor | None,
             dtype: torch.dtype | None, device: torch.device,
             previous: torch.Tensor | None = None) -> tuple[ContentLoss, dict[str, StyleLoss]]:
    """Content features and blended style Gram targets at one scale, computed once, no grad.

    A light scale keeps what the head decided: its content target is `previous` (its result,
    enlarged), not the photo, whose fine detail at relu3_1 would otherwise pull the strokes back
    out (measured at 2048 px, with a 48-iteration head and a 1024 px scale then, nst_score at
    512: the photo at relu3_1 gave content 0.297, style 0.102 against the full plan's 0.366 /
    0.069; the result so far 0.399 / 0.069). The style losses' unit stays the photo's distance
    to the painting, as at every other scale."""
    style_layers, content_layer = stage_layers(stage.depth)

    def features(x: torch.Tensor, layers: Sequence[str] = (*style_layers, content_layer)
                 ) -> dict[str, torch.Tensor]:
        return vgg_features(net, x, dtype, device, layers, as_float=False)

    # One picture's feature maps alive at a time, reduced to Grams at once (memory at 2048 px).
    fc = features(content_t)
    reference = {k: gram(fc[k], layer_mask(mask_t, fc[k]) if mask_t is not None else None)
                 for k in style_layers}
    own = stage.light and previous is not None
    photo_target = None if own else fc[content_layer]
    del fc  # before the next pass: only the photo's content map, if it is the target, stays
    content = ContentLoss(features(previous, (content_layer,))[content_layer] if own
                          else photo_target)
    style_grams: dict[str, list[torch.Tensor]] = {k: [] for k in style_layers}
    for rgb in styles:
        fs = features(_tensor(_painting(rgb, stage, params), device))
        for k in style_layers:
            style_grams[k].append(gram(fs[k]))
        del fs
    style_losses = {k: StyleLoss(blend_grams(style_grams[k], weights), reference[k], mask_t)
                    for k in style_layers}
    return content, style_losses


def _patch_targets(net, content_t: torch.Tensor, styles: Sequence[np.ndarray],
                   weights: list[float], stage: Stage, params: GatysParams,
                   mask_t: torch.Tensor | None, dtype: torch.dtype | None, device: torch.device
                   ) -> tuple[ContentLoss, dict[str, patches.PatchLoss]]:
    """Content features and the patch style losses (see patches.py) at one scale."""
    fc = vgg_features(net, content_t, dtype, device)
    copies, keep = [], []
    for rgb, weight in zip(styles, weights, strict=True):
        painting = _painting(rgb, stage, params)
        for copy in patches.augmented(painting) if params.patch_augment else [painting]:
            copies.append(lambda c=copy: vgg_features(net, _tensor(c, device), dtype, device))
            keep.append(weight)
    losses = patches.patch_losses(fc, copies, keep, patches.LAYERS[params.patch_layers],
                                  params.patch_size, params.patch_stride, params.patch_rematch,
                                  mask_t, dtype)
    return ContentLoss(fc[CONTENT_LAYER]), losses


def _enlarge(image: torch.Tensor, stage: Stage, lane: str,
             cancel: CancelToken | None = None) -> torch.Tensor:
    """The result so far brought to the next stage's size. Before a light scale the upscaler
    network (engine/upscale.py), when one is installed, redraws the detail that a bilinear
    enlargement would blur, so the light scale starts from crisp strokes instead of spending its
    iterations re-sharpening them; otherwise, and between full scales (whose deep layers redraw
    everything anyway), bilinear."""
    size = (stage.height, stage.width)
    if stage.light and upscale.find_network() is not None:
        rgb = image[0].permute(1, 2, 0).float().cpu().numpy()
        rgb, _ = upscale.to_size(rgb, (stage.width, stage.height), Upscale.SHARP, lane=lane,
                                 cancel=cancel)
        return _tensor(rgb, image.device)
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False).clamp_(0.0, 1.0)


def _initial(params: GatysParams, content_t: torch.Tensor, styles: Sequence[np.ndarray],
             device: torch.device) -> torch.Tensor:
    if params.init is Init.CONTENT:
        return content_t.clone()
    h, w = content_t.shape[-2:]
    if params.init is Init.STYLE:
        return _tensor(resize_rgb(styles[0], (w, h)), device)
    gen = torch.Generator(device="cpu").manual_seed(params.seed)
    # Mid-grey plus moderate noise: pure uniform noise takes many iterations to lose its grain.
    noise = 0.5 + 0.15 * torch.randn((1, 3, h, w), generator=gen)
    return noise.clamp_(0.0, 1.0).to(device)


def stylize(
    content_rgb: np.ndarray,
    styles_rgb: Sequence[np.ndarray],
    params: GatysParams,
    *,
    mask: np.ndarray | None = None,
    lane: str | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> MethodResult:
    """Gatys et al. style transfer; returns the image with longest side `params.size`. `lane`
    defaults to what `params.device` picks here (engine.runtime.lane)."""
    cancel = cancel or CancelToken()
    weights = _check_inputs(content_rgb, styles_rgb, params)
    t0 = time.perf_counter()
    runtime.use_all_cores()
    lane_name = lane or runtime.lane(params.device)
    device = runtime.torch_device(lane_name)
    dtype = runtime.autocast_dtype(device)
    net = shared_backbone(params.pooling, str(device))

    content_wh = (content_rgb.shape[1], content_rgb.shape[0])
    styles = list(styles_rgb)
    if params.keep_colors:
        # Optimise against grey paintings with the photo's brightness range, so the optimiser
        # spends nothing on the palette, then put the photo's chroma back (Gatys et al. 2016).
        styles = [compose.match_luminance(s, content_rgb) for s in styles]
    stages = plan(content_wh, params)
    budget = total_cost(stages)
    done_cost = 0.0
    patch = params.style_loss is StyleLossKind.PATCH
    w = Weights(params.content_weight, params.style_weight * (PATCH_UNIT if patch else STYLE_UNIT),
                params.tv_weight * TV_UNIT)
    image: torch.Tensor | None = None
    objective: Objective | None = None
    total_iters = sum(s.iterations for s in stages)
    iteration_base = 0
    match_seconds: list[float] = []

    timer = StagedEta.of([(s.pixel_cost, s.iterations) for s in stages], kind="gatys")
    for index, stage in enumerate(stages):
        cancel.raise_if_cancelled()
        timer.start_stage(index)
        size = (stage.width, stage.height)
        content_t = _tensor(resize_rgb(content_rgb, size), device)
        mask_t = None
        if mask is not None:
            mask_t = _tensor(resize_gray(mask, size)[..., None], device)
        if image is None:
            image = _initial(params, content_t, styles, device)
        else:
            image = _enlarge(image, stage, lane_name, cancel)
        image = image.detach().clone()
        if patch:
            content_loss, style_losses = _patch_targets(net, content_t, styles, weights, stage,
                                                        params, mask_t, dtype, device)
        else:
            content_loss, style_losses = _targets(net, content_t, styles, weights, stage,
                                                  params, mask_t, dtype, device, previous=image)
        objective = Objective(net, content_loss, style_losses, w, dtype,
                              content_layer=stage_layers(stage.depth)[1])
        del content_t
        stage_text = f"scale {index + 1}/{len(stages)} ({stage.width}x{stage.height})"

        def report(i: int, losses: dict[str, float], stage=stage, base=iteration_base,
                   text=stage_text, before=done_cost, index=index) -> None:
            fraction = min(1.0, (before + stage.cost * i / stage.iterations) / budget)
            timer.step_done(index, i)
            progress(Progress(fraction=fraction, stage=text, iteration=base + i,
                              total_iterations=total_iters, loss=losses.get("total"),
                              eta_s=timer.seconds_left()))

        timer.steps_begin(index)
        image = optimise(image, objective, stage.iterations, params.optimizer, report, cancel)
        match_seconds += [t for loss in style_losses.values()
                          for t in getattr(loss, "match_seconds", [])]
        done_cost += stage.cost
        iteration_base += stage.iterations

    assert image is not None and objective is not None
    if not stages[-1].light:
        with torch.no_grad():
            objective(image)  # the losses of the image actually returned
    # A light scale reports its last evaluation's (one step before the image returned): one more
    # pass at 2048 px costs 3 s of a 2-core CPU's 90.
    final = objective.last
    rgb = image[0].permute(1, 2, 0).float().cpu().numpy()
    if params.keep_colors:
        rgb = compose.keep_colors(rgb, resize_rgb(content_rgb, (rgb.shape[1], rgb.shape[0])))
    info = {
        "device": str(device),
        "precision": str(dtype).replace("torch.", "") if dtype else "float32",
        "iterations": total_iters,
        "scales": [[s.width, s.height, s.iterations] for s in stages],
        "light_scales": sum(s.light for s in stages),
        "content_loss": final["content"],
        "style_loss": final["style"],
        "tv_loss": final["tv"],
        "optimise_seconds": round(time.perf_counter() - t0, 3),
        "params": params_to_dict(params),
    }
    if not patch and not cancel.cancelled and budget >= speed.MIN_WORK:
        # What the GIMP dialog's size hint quotes (engine/speed.py). Patch runs add matching;
        # thumbnails use the CPU too poorly to predict a real picture.
        speed.record(f"gatys:{device.type}", time.perf_counter() - t0, budget / 1e6)
    if match_seconds:
        info["patch_matches"] = len(match_seconds)
        info["patch_match_seconds"] = round(sum(match_seconds), 3)
    return MethodResult(np.clip(rgb, 0.0, 1.0).astype(np.float32), info)


class GatysMethod:
    """engine.method.StyleMethod for `Method.GATYS`."""

    def run(self, params: GatysParams, inputs: MethodInput, *, lane: str, progress: ProgressFn,
            cancel: CancelToken) -> MethodResult:
        return stylize(inputs.content, inputs.styles, params, mask=inputs.mask, lane=lane,
                       progress=progress, cancel=cancel)


METHOD = GatysMethod()
