"""`python -m export train-upscaler`: the super-resolution network (export/upscaler.py) learned
from crops of paintings: each high-resolution crop is degraded (antialiased bicubic downscale) and
the network learns to restore it. Same machinery as the other trainings
(export/training_run.py): deterministic crops per (seed, sample), bf16 autocast on CPUs that have
it, exact resume from the run folder's checkpoint, DDP under torchrun, a progress callback.

The loss is Charbonnier (a smooth L1): L2 would average plausible strokes into blur, which is
exactly what the network is meant to avoid; L1-type losses are the usual choice in SR (EDSR).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.images import load_picture
from export.data import PhotoCrops
from export.training_run import TrainEvent, TrainingRun, TrainResult, warm_start
from export.upscaler import UpscalerConfig, UpscalerNet, degrade

log = logging.getLogger(__name__)

CHECKPOINT = "upscaler.pt"
KIND = "upscaler"
CHARBONNIER_EPS = 1e-3


@dataclass
class UpscaleSettings:
    data: str  # folder(s) of high-resolution pictures, comma-separated
    out: str  # run folder (checkpoint; resumes)
    scale: int = 4
    width: int = 32
    depth: int = 3
    size: int = 128  # high-resolution crop side (a multiple of scale)
    batch: int = 16
    steps: int = 3000
    lr: float = 2e-3
    seed: int = 0
    checkpoint_every: int = 100
    zoom: float = 8.0  # crops from pictures shrunk to short side size*zoom (8: ours stay native)
    bf16: str = "auto"  # auto | on | off
    cache_dir: str | None = None
    init_from: str | None = None  # checkpoint or .onnx whose same-named weights start this run

    def network(self) -> UpscalerConfig:
        return UpscalerConfig(scale=self.scale, width=self.width, depth=self.depth)


_RESUMABLE_CHANGES = {"steps", "checkpoint_every", "cache_dir", "out"}


def model_from_checkpoint(ckpt: dict) -> UpscalerNet:
    net = UpscalerNet(UpscalerConfig.from_dict(ckpt["settings"]))
    net.load_state_dict(ckpt["model"])
    return net.eval()


def _lr_schedule(step: int, steps: int, lr: float) -> float:
    """Cosine decay to 5%: most of the gain comes late, from the small steps."""
    return float(lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(1.0, step / max(1, steps))))))


def _crops(settings: UpscaleSettings, cache: Path) -> list[PhotoCrops]:
    folders = [Path(f) for f in settings.data.split(",") if f.strip()]
    return [PhotoCrops(f, settings.size, seed=settings.seed + i, cache_dir=cache,
                       zoom=settings.zoom) for i, f in enumerate(folders)]


def _batch(sets: Sequence[PhotoCrops], samples: range) -> torch.Tensor:
    """Sample i comes from folder i mod n: every folder weighs the same, whatever its size."""
    parts = [sets[i % len(sets)].batch([i // len(sets)]) for i in samples]
    return torch.cat(parts)


def train_upscaler(settings: UpscaleSettings,
                   progress: Callable[[TrainEvent], None] | None = None) -> TrainResult:
    if settings.size % settings.scale:
        raise ValueError(f"--size {settings.size} is not a multiple of --scale {settings.scale}")

    def init(net: torch.nn.Module) -> None:
        if not settings.init_from:
            return
        loaded = warm_start(net, settings.init_from)
        if set(loaded) != {k.rsplit(".", 1)[0] for k in net.state_dict()}:
            raise ValueError(f"{settings.init_from} does not give every weight of this network "
                             f"(only {', '.join(loaded)}); check --width and --depth")
        log.info("initialised from %s", settings.init_from)

    run = TrainingRun(settings, lambda: UpscalerNet(settings.network()), checkpoint=CHECKPOINT,
                      resumable=_RESUMABLE_CHANGES, init=init, kind=KIND)
    cache = Path(settings.cache_dir) if settings.cache_dir else run.out.parent / "cache"
    sets = _crops(settings, cache)

    def step(i: int) -> tuple[torch.Tensor, dict[str, float]]:
        for group in run.opt.param_groups:
            group["lr"] = _lr_schedule(i, settings.steps, settings.lr)
        hr = _batch(sets, run.samples(i)).to(run.device)
        lr_img = degrade(hr, settings.scale)
        with run.autocast():
            sr = run.model(lr_img)
        err = sr.float() - hr
        loss = torch.sqrt(err * err + CHARBONNIER_EPS**2).mean()
        with torch.no_grad():
            bicubic = torch.nn.functional.interpolate(lr_img, scale_factor=settings.scale,
                                                      mode="bicubic", align_corners=False)
            gain = 10 * torch.log10(((bicubic.clamp(0, 1) - hr) ** 2).mean()
                                    / (sr.float().clamp(0, 1) - hr).pow(2).mean().clamp_min(1e-12))
        return loss, {"loss": float(loss.detach()), "gain_db": float(gain)}

    return run.run(step, progress)


# ------------------------------------------------------------------------------ evaluation

def psnr(a: np.ndarray, b: np.ndarray, border: int) -> float:
    """PSNR in dB on 0..1 RGB, ignoring `border` pixels on each side (as SR papers do)."""
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def evaluate(upscale: Callable[[np.ndarray], np.ndarray], paintings: Sequence[Path],
             scale: int) -> list[dict]:
    """Per picture: PSNR of bicubic, Lanczos and `upscale` (low-res RGB -> high-res RGB) against
    the original, with the low-res input made by `degrade` (the training degradation)."""
    rows = []
    for path in paintings:
        rgb = load_picture(path, "Painting").rgb
        h, w = (rgb.shape[0] // scale) * scale, (rgb.shape[1] // scale) * scale
        hr = rgb[:h, :w]
        hr_t = torch.from_numpy(np.ascontiguousarray(hr)).permute(2, 0, 1)[None]
        lr = degrade(hr_t, scale)[0].permute(1, 2, 0).numpy()
        lr_u8 = Image.fromarray((lr * 255).round().astype(np.uint8))
        row = {"painting": path.name}
        for name, method in (("bicubic", Image.Resampling.BICUBIC),
                             ("lanczos", Image.Resampling.LANCZOS)):
            up = np.asarray(lr_u8.resize((w, h), method), dtype=np.float32) / 255.0
            row[name] = psnr(up, hr, scale)
        row["ours"] = psnr(np.clip(upscale(lr), 0, 1), hr, scale)
        rows.append(row)
    return rows
