"""`python -m export train-arbitrary`: the any-painting network (export/arbitrary.py) trained on a
folder of paintings and a folder of photos, on the same machinery as the per-painting networks
(export/training_run.py): crops that are a pure function of (seed, sample index) for photos and
paintings alike, bf16 autocast on CPUs that have it, exact resume from the run folder's
checkpoint, DDP under torchrun, previews, a progress callback and logging.

One step: a batch of photo crops and, per photo, a crop of another painting. VGG19 (frozen) reads
the paintings once; their relu1_1..relu4_1 statistics feed the style predictor, and their Grams at
relu1_1..relu5_1 are that sample's style targets. The loss is the project's perceptual loss
(export/losses.py: normalised Gram distance at the layers the yardstick scores, content at
relu4_2, total variation), per sample against its own painting.

Scale: the engine reads a painting at about 0.6 of the repainted photo's shorter side
(engine/arbitrary/transfer.py: AUTO_STYLE_RATIO). Training keeps that ratio: photos are shrunk to a
shorter side of 1.5 x `size` (384 px for 256 px crops, as export/data.py does), paintings to a
shorter side of `style_size` (224 px by default, 0.58 of 384), and the painting crop is that whole
shorter side (a square along the longer one).

The learning rate is constant, so a run stopped at step N has the weights of a run started with
`--steps N` (resume is exact either way).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.arbitrary.codes import at_side
from engine.backbone import Backbone, load_backbone
from engine.images import Picture, fit_longest_side, load_picture, resize_rgb, save_picture
from export.arbitrary import STATS_LAYERS, ArbitraryConfig, ArbitraryNet, style_stats
from export.data import PhotoCrops, list_photos
from export.losses import STYLE_LAYERS, BatchStyleLoss
from export.training_run import TrainEvent, TrainingRun, TrainResult

log = logging.getLogger(__name__)

CHECKPOINT = "arbitrary.pt"
KIND = "arbitrary"
PHOTO_ZOOM = 1.5  # photos shrunk to a shorter side of 1.5 x the crop (export/data.py's default)
PREVIEW_SIDE = 192


@dataclass
class ArbitrarySettings:
    styles: str  # folder of paintings
    data: str  # folder of photos
    out: str  # run folder (checkpoint, previews; rerunning resumes)
    size: int = 256  # photo crop side
    style_size: int = 224  # paintings' shorter side, and their crop side (module docstring)
    steps: int = 2000
    batch: int = 4  # global batch (all ranks together)
    lr: float = 1e-3
    style_weight: float = 4.0
    content_weight: float = 1.0
    tv_weight: float = 0.5
    width: int = 32
    depth: int = 5
    code_size: int = 100
    hidden: int = 512
    seed: int = 0
    preview_every: int = 100
    checkpoint_every: int = 25
    log_every: int = 10
    preview: str | None = None  # photo rendered at every preview; default: first training photo
    preview_styles: str | None = None  # comma-separated paintings; default: 3 from --styles
    bf16: str = "auto"  # auto | on | off
    cache_dir: str | None = None

    def network(self) -> ArbitraryConfig:
        return ArbitraryConfig(width=self.width, depth=self.depth, code_size=self.code_size,
                               hidden=self.hidden)


_RESUMABLE_CHANGES = {"steps", "preview_every", "checkpoint_every", "log_every", "preview",
                      "preview_styles", "cache_dir", "out"}


def model_from_checkpoint(ckpt: dict[str, Any]) -> ArbitraryNet:
    net = ArbitraryNet(ArbitraryConfig.from_dict(ckpt["settings"]))
    net.load_state_dict(ckpt["model"])
    return net.eval()


def encode(backbone: Backbone, net: ArbitraryNet, rgb: np.ndarray, side: int,
           device: torch.device) -> torch.Tensor:
    """A whole painting's code, read as the engine reads it (shorter side at `side`)."""
    x = torch.from_numpy(np.ascontiguousarray(at_side(rgb, side))).permute(2, 0, 1)[None]
    with torch.no_grad():
        return net.predictor(style_stats(backbone(x.to(device), STATS_LAYERS)))


class Preview:
    """One picture per preview step: the preview photo and each preview painting (top row), the
    photo repainted with each painting's code (bottom row)."""

    def __init__(self, settings: ArbitrarySettings, photos: list[Path], paintings: list[Path]):
        path = settings.preview or str(photos[0])
        rgb = load_picture(path, "Preview photo").rgb
        w, h = fit_longest_side((rgb.shape[1], rgb.shape[0]), PREVIEW_SIDE)
        self.photo = resize_rgb(rgb, (max(4, w - w % 4), max(4, h - h % 4)))
        if settings.preview_styles:
            chosen = [Path(p) for p in settings.preview_styles.split(",") if p.strip()]
        else:
            n = len(paintings)
            chosen = [paintings[i] for i in sorted({0, n // 3, 2 * n // 3})]
        self.paintings = [load_picture(p, "Preview painting").rgb for p in chosen]
        self.side = settings.style_size

    def _box(self, rgb: np.ndarray) -> np.ndarray:
        h, w = self.photo.shape[:2]
        fw, fh = fit_longest_side((rgb.shape[1], rgb.shape[0]), max(h, w))
        fw, fh = min(fw, w), min(fh, h)
        small = resize_rgb(rgb, (fw, fh))
        box = np.ones_like(self.photo)
        box[(h - fh) // 2:(h - fh) // 2 + fh, (w - fw) // 2:(w - fw) // 2 + fw] = small
        return box

    def render(self, backbone: Backbone, net: ArbitraryNet, device: torch.device) -> np.ndarray:
        was = net.training
        net.eval()
        x = torch.from_numpy(self.photo).permute(2, 0, 1)[None].to(device)
        outs = []
        for painting in self.paintings:
            code = encode(backbone, net, painting, self.side, device)
            with torch.no_grad():
                outs.append(net.transformer(x, code)[0].permute(1, 2, 0).float().cpu().numpy())
        net.train(was)
        top = np.concatenate([self.photo] + [self._box(p) for p in self.paintings], 1)
        bottom = np.concatenate([np.ones_like(self.photo)] + outs, 1)
        return np.concatenate([top, bottom], 0)


def train_arbitrary(settings: ArbitrarySettings,
                    progress: Callable[[TrainEvent], None] | None = None) -> TrainResult:
    # The folders first: a typo should cost a one-line error, not a VGG load.
    paintings_list = list_photos(Path(settings.styles), "paintings")
    photos_list = list_photos(Path(settings.data), "photos")
    run = TrainingRun(settings, lambda: ArbitraryNet(settings.network()), checkpoint=CHECKPOINT,
                      resumable=_RESUMABLE_CHANGES, previews=True, kind=KIND)
    device = run.device
    cache = Path(settings.cache_dir) if settings.cache_dir else run.out.parent / "cache"
    photos = PhotoCrops(Path(settings.data), settings.size, seed=settings.seed, cache_dir=cache,
                        zoom=PHOTO_ZOOM)
    # Another seed for the paintings: photo i and painting i are not paired the same way every
    # epoch. zoom 1: the crop is the painting's whole shorter side.
    paintings = PhotoCrops(Path(settings.styles), settings.style_size, seed=settings.seed + 1,
                           cache_dir=cache, zoom=1.0, what="paintings")
    # Plain NCHW, not the engine's channels_last: oneDNN's channels_last kernels differ by ~3e-3
    # (relative gradient) between a batch of 2 and two batches of 1, which DDP would turn into
    # a different run; NCHW agrees to 4e-6 (tests/test_arbitrary_train.py).
    backbone = load_backbone(device=device)
    loss_fn = BatchStyleLoss(backbone, style_weight=settings.style_weight,
                             content_weight=settings.content_weight,
                             tv_weight=settings.tv_weight)
    read = sorted(set(STATS_LAYERS) | set(STYLE_LAYERS))
    preview = Preview(settings, photos_list, paintings_list) if run.main else None
    if run.main:
        log.info("training the any-painting network: %d photos, %d paintings, %s, bf16 %s, "
                 "steps %d..%d", len(photos), len(paintings), device, run.bf16, run.step,
                 settings.steps)
    start = run.step

    def step(i: int) -> tuple[torch.Tensor, dict[str, float]]:
        samples = run.samples(i)
        x = photos.batch(samples).to(device)
        s = paintings.batch(samples).to(device)
        with run.autocast():
            with torch.no_grad():
                style_feats = backbone(s, read)
            y, _ = run.model(x, style_stats(style_feats))
            losses = loss_fn(y, x, style_feats)
        return losses["total"], {k: float(v.detach()) for k, v in losses.items()}

    def after_step(i: int, record: dict[str, float], elapsed: float, eta: float) -> None:
        if settings.log_every and i % settings.log_every == 0:
            log.info("step %d/%d %s (%.2f s/step, eta %.0f s)", i, settings.steps,
                     " ".join(f"{k}={v:.4g}" for k, v in record.items()),
                     elapsed / (i - start), eta)
        if preview is not None and settings.preview_every and i % settings.preview_every == 0:
            save_picture(Picture(preview.render(backbone, run.net, device)),
                         run.out / "previews" / f"step_{i:06d}.png")

    return run.run(step, progress, after_step)
