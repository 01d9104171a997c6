"""Training of one style network: the perceptual loss (export/losses.py) on photo crops, with
previews; processes, exact resume and checkpoints are export/training_run.py's."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.backbone import load_backbone
from engine.images import Picture, fit_longest_side, load_picture, resize_rgb, save_picture
from export.data import PhotoCrops
from export.losses import PerceptualLoss
from export.training_run import TrainEvent, TrainingRun, TrainResult, warm_start
from export.transformer import TransformerConfig, TransformerNet

log = logging.getLogger(__name__)

CHECKPOINT = "last.pt"


@dataclass
class TrainSettings:
    style: str
    data: str
    out: str
    size: int = 192  # training crop side
    style_size: int = 512  # longest side of the style image for its Gram targets
    steps: int = 1000
    batch: int = 2  # global batch (all ranks together)
    lr: float = 2e-3
    style_weight: float = 10.0
    content_weight: float = 1.0
    tv_weight: float = 0.5
    patch_weight: float = 0.0  # patch (MRF) style term, export.losses.PatchTerm; 0 = Gram only
    width: int = 8
    depth: int = 3
    layout: str = "light"  # export.transformer.LAYOUTS
    init_from: str | None = None  # checkpoint whose same-shaped weights start this run
    seed: int = 0
    preview_every: int = 100
    checkpoint_every: int = 50
    preview: str | None = None  # photo rendered at every preview; default: first training photo
    bf16: str = "auto"  # auto | on | off
    cache_dir: str | None = None
    # Wall-clock budget of this run in minutes (0 = none): the run stops after the first step
    # past it and writes its checkpoint. On a lent GPU the time is fixed, not the step count.
    max_minutes: float = 0.0

    def transformer(self) -> TransformerConfig:
        return TransformerConfig(width=self.width, depth=self.depth, layout=self.layout)


# Settings that may differ between a checkpoint and the run resuming it.
_RESUMABLE_CHANGES = {"steps", "preview_every", "checkpoint_every", "preview", "cache_dir", "out",
                      "max_minutes"}
# What settings written before a field existed meant.
_LEGACY_SETTINGS = {"layout": "johnson", "init_from": None, "patch_weight": 0.0,
                    "max_minutes": 0.0}


def checkpoint_settings(ckpt: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's settings, with the meaning of fields it predates filled in."""
    return {**_LEGACY_SETTINGS, **ckpt["settings"]}


def model_from_checkpoint(ckpt: dict[str, Any]) -> TransformerNet:
    net = TransformerNet(TransformerConfig.from_dict(checkpoint_settings(ckpt)))
    net.load_state_dict(ckpt["model"])
    return net.eval()


def _render_preview(net: TransformerNet, photo: np.ndarray, device: torch.device) -> np.ndarray:
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].to(device)
    with torch.no_grad():
        y = net(x)
    return y[0].permute(1, 2, 0).float().cpu().numpy()


def _load_preview_photo(settings: TrainSettings, data: PhotoCrops) -> np.ndarray:
    path = settings.preview or str(data.photos[0])
    pic = load_picture(path, "Preview photo")
    w, h = fit_longest_side(pic.size, 256)
    w, h = w - w % 4, h - h % 4  # the network's stride
    return resize_rgb(pic.rgb, (w, h))


def train(settings: TrainSettings,
          progress: Callable[[TrainEvent], None] | None = None) -> TrainResult:
    def init(net: torch.nn.Module) -> None:
        if settings.init_from:
            log.info("initialised %s from %s", ", ".join(warm_start(net, settings.init_from)),
                     settings.init_from)

    run = TrainingRun(settings, lambda: TransformerNet(settings.transformer()),
                      checkpoint=CHECKPOINT, resumable=_RESUMABLE_CHANGES,
                      saved_settings=checkpoint_settings, init=init, previews=True)
    device = run.device
    cache = Path(settings.cache_dir) if settings.cache_dir else run.out.parent / "cache"
    data = PhotoCrops(Path(settings.data), settings.size, seed=settings.seed, cache_dir=cache)
    style = load_picture(settings.style, "Style image")
    style_rgb = resize_rgb(style.rgb, fit_longest_side(style.size, settings.style_size))
    style_t = torch.from_numpy(style_rgb).permute(2, 0, 1)[None].to(device)
    loss_fn = PerceptualLoss(load_backbone(device=device), style_t,
                             style_weight=settings.style_weight,
                             content_weight=settings.content_weight,
                             tv_weight=settings.tv_weight,
                             patch_weight=settings.patch_weight).to(device)
    preview = _load_preview_photo(settings, data) if run.main else None

    def step(i: int) -> tuple[torch.Tensor, dict[str, float]]:
        x = data.batch(run.samples(i)).to(device)
        with run.autocast():
            losses = loss_fn(run.model(x), x)
        return losses["total"], {k: float(v.detach()) for k, v in losses.items()}

    def after_step(i: int, record: dict[str, float], elapsed: float, eta: float) -> None:
        if settings.preview_every and i % settings.preview_every == 0:
            save_picture(Picture(_render_preview(run.net, preview, device)),
                         run.out / "previews" / f"step_{i:06d}.png")

    return run.run(step, progress, after_step,
                   time_limit_s=settings.max_minutes * 60 if settings.max_minutes else None)
